import P2MImpl
import Solver
import Spec
import SymbolicWord

/// `p2m.setway`: Set/Way emulation's `p2m_invalidate_root()` must clear the
/// valid bit of every root entry, on every page of a concatenated root
/// (`14c57887f3`: the loop ran to `P2M_ROOT_LEVEL`, not `P2M_ROOT_PAGES`),
/// so that every later access faults and is tracked. Without an IOMMU
/// (`2b45ff6030` refuses Set/Way on a shared p2m), a 40-bit p2m (two
/// concatenated level-1 root pages) with mappings in both root pages, then
/// `invalidateRoot()`: the walk faults for every IPA.
///
/// Added when the Set/Way seeded bug escaped every other theorem and
/// the fuzzer (which has no Set/Way operation).
enum SetWayTheorem {
  static let updates = [
    TableTheorems.Update(gfn: 0x200, count: 512, mfn: 0x4_0000, type: .ramRW),
    TableTheorems.Update(gfn: 0x801, count: 2, mfn: 0x5_5555, type: .ramRO),
    // 512 GiB: the second root page.
    TableTheorems.Update(gfn: 0x800_0000, count: 512, mfn: 0x6_0000, type: .ramRW),
    TableTheorems.Update(gfn: 0x800_0400, count: 1, mfn: 0x7_7777, type: .ramRW),
  ]

  /// Its broken variant: ``SeededBug/setWayRootPartlyInvalidated`` seeded makes it refuted.
  static func theorem() -> Theorem {
    Theorem(name: "p2m.setway", summary: "after Set/Way's p2m_invalidate_root every IPA faults, on every page of a concatenated root (40 bits)") { session in
      var p2m = try XenP2M(ipaBits: 40, vmid: 1, tableBase: MFN(0xF_0000), poolPages: 16, iommuEnabled: false)
      for update in updates {
        try p2m.setEntry(GFN(update.gfn), count: update.count, mfn: update.mfn.map(MFN.init), type: update.type)
      }
      try p2m.invalidateRoot()
      let ipa = try session.word("ipa")
      let outcome = try TableTheorems.walkImplementation(p2m, session: session, ipa: ipa)
      return [
        try session.decide("p2m.setway[40-bit]", claim: outcome.faulted, hypotheses: []) { model in
          let bad = try model.value(of: ipa.term)
          return ("ipa \(hex(bad)) still translates after invalidateRoot: \(p2m.walk(bad, access: .read))", nil, nil, ["ipa": bad])
        }
      ]
    }
  }
}

/// `p2m.out-of-range`: a `p2m_set_entry()` at a GFN beyond the root tables
/// is refused and changes no translation (XSA-301 (a): the GFN's top bits
/// were ignored, so the update landed on an aliased low GFN). On a p2m with
/// a 2 MiB block, a 4K map at `rootGFNLimit + 0x205` (which aliases a page
/// inside the block) must throw, and the tables must still translate every
/// IPA as the spec's map says.
///
/// Added when the XSA-301 seeded bug escaped every other theorem and the
/// fuzzer (whose oracle hands the implementation only updates the spec
/// accepted).
enum OutOfRangeTheorem {
  /// Its broken variant: ``SeededBug/gfnTopBitsAliased`` seeded makes it refuted.
  static func theorem() -> Theorem {
    Theorem(name: "p2m.out-of-range", summary: "a p2m update beyond the root tables is refused and changes no translation (XSA-301; 32 and 40 bits)") { session in
      var findings: [Finding] = []
      for ipaBits in [32, 40] {
        var p2m = try XenP2M(ipaBits: ipaBits, vmid: 1, tableBase: MFN(0xF_0000), poolPages: 16)
        var spec = ReferenceP2M(ipaBits: ipaBits)
        try p2m.setEntry(GFN(0x200), count: 512, mfn: MFN(0x4_0000), type: .ramRW)
        try spec.map(GFN(0x200), count: 512, to: MFN(0x4_0000), type: .ramRW)
        let beyond = p2m.rootGFNLimit + 0x205
        var refused = false
        do { try p2m.setEntry(GFN(beyond), count: 1, mfn: MFN(0x9999), type: .ramRW) } catch { refused = true }
        let ipa = try session.word("ipa")
        let outcome = try TableTheorems.walkImplementation(p2m, session: session, ipa: ipa)
        let claim = ipa.condition(refused) && TableTheorems.agreesWithMap(spec, ipa: ipa, outcome: outcome)
        findings.append(
          try session.decide("p2m.out-of-range[\(ipaBits)-bit]", claim: claim, hypotheses: []) { model in
            let bad = try model.value(of: ipa.term)
            let what = refused ? "" : "the update at \(hex(beyond << pageShift)) was not refused; "
            return ("\(what)ipa \(hex(bad)): the tables give \(p2m.walk(bad, access: .read))", nil, nil, ["ipa": bad])
          })
      }
      return findings
    }
  }
}

/// `p2m.removal-keeps-blocks`: removing a whole 2 MiB block removes the
/// block entry, without shattering it first (`3fafdc28eb`: INVALID_MFN in
/// the order mask made every removal 4K, splitting 1G/2M superpages and
/// leaving empty tables). With a pool of exactly the one table the block
/// needs, the removal must succeed (a split would need a second page) and
/// every IPA must then fault.
///
/// Added because the `3fafdc28eb` seeded bug translates like the fixed
/// code, so it escaped `p2m.regression` and the fuzzer (32-page pools).
enum RemovalOrderTheorem {
  /// Its broken variant: ``SeededBug/removalShattersSuperpages`` seeded makes it refuted.
  static func theorem() -> Theorem {
    Theorem(name: "p2m.removal-keeps-blocks", summary: "removing a whole 2 MiB block needs no split: it succeeds with no spare pool page and leaves every IPA faulting (3fafdc28eb)") { session in
      var findings: [Finding] = []
      for ipaBits in [32, 40] {
        var p2m = try XenP2M(ipaBits: ipaBits, vmid: 1, tableBase: MFN(0xF_0000), poolPages: 1)
        try p2m.setEntry(GFN(0x200), count: 512, mfn: MFN(0x4_0000), type: .ramRW)
        var failure: String?
        do { try p2m.setEntry(GFN(0x200), count: 512, mfn: nil, type: .invalid) } catch { failure = "\(error)" }
        let ipa = try session.word("ipa")
        let outcome = try TableTheorems.walkImplementation(p2m, session: session, ipa: ipa)
        let claim = ipa.condition(failure == nil) && TableTheorems.agreesWithMap(ReferenceP2M(ipaBits: ipaBits), ipa: ipa, outcome: outcome)
        findings.append(
          try session.decide("p2m.removal-keeps-blocks[\(ipaBits)-bit]", claim: claim, hypotheses: []) { model in
            let bad = try model.value(of: ipa.term)
            let what = failure.map { "the removal failed: \($0); " } ?? ""
            return ("\(what)ipa \(hex(bad)): the tables give \(p2m.walk(bad, access: .read))", nil, nil, ["ipa": bad])
          })
      }
      return findings
    }
  }
}

/// `p2m.flush-before-free`: what an update releases (a foreign page's
/// reference, a replaced table) is released only after the IOTLB flush
/// that follows the descriptor write unlinking it (`6718787797`: the free
/// ran before `iommu_iotlb_flush()`, so a freed page could be reused while
/// the SMMU's TLB still pointed at it). A foreign 4K page replaced by RAM,
/// then its L3 table replaced by a 2 MiB block, with the IOMMU on: in the
/// p2m's event log no release follows a descriptor write without an IOTLB
/// flush in between. The claim is decided on the concrete event order
/// (translations are equal either way: only the order differs).
///
/// Added when the `6718787797` seeded bug escaped every other theorem
/// and the fuzzer (no oracle looks at the order of effects).
enum FlushOrderTheorem {
  /// Its broken variant: ``SeededBug/freeBeforeIOTLBFlush`` seeded makes it refuted.
  static func theorem() -> Theorem {
    Theorem(name: "p2m.flush-before-free", summary: "a replaced foreign page or table is released only after the IOTLB flush that follows its unlinking (6718787797)") { session in
      var p2m = try XenP2M(ipaBits: 40, vmid: 1, tableBase: MFN(0xF_0000), poolPages: 16)
      p2m.recordsEvents = true
      try p2m.setEntry(GFN(0x401), count: 1, mfn: MFN(0x1234), type: .mapForeignRW)
      try p2m.setEntry(GFN(0x401), count: 1, mfn: MFN(0x5678), type: .ramRW)
      try p2m.setEntry(GFN(0x400), count: 512, mfn: MFN(0x4_0000), type: .ramRW)
      // The same check as the fuzzer's p2m oracle makes after every update.
      let violation = P2MEvent.releaseBeforeIOTLBFlush(in: p2m.events).map(\.description)
      let releases = p2m.events.filter {
        switch $0 {
        case .tableFreed, .foreignPagesPut: true
        default: false
        }
      }.count
      let ipa = try session.word("ipa")
      // Both releases must have happened, each after its flush.
      let claim = ipa.condition(violation == nil && releases >= 2)
      return [
        try session.decide("p2m.flush-before-free[40-bit]", claim: claim, hypotheses: []) { _ in
          (violation.map { "'\($0)' happens before the IOTLB flush of the write that unlinked it" } ?? "only \(releases) releases recorded", nil, nil, [:])
        }
      ]
    }
  }
}

/// `p2m.removal-after-setway`: a removed mapping stays removed even when
/// Set/Way tracking had left it hardware-invalid (XSA-393, `a428b913a0`:
/// `__p2m_set_entry()` zeroed the entry only when its valid bit was set,
/// so the guest could fault a removed page back in). Without an IOMMU: two
/// 4K pages, `invalidateRoot()`, three translation faults on the first
/// page (each pushes the invalidation one level down, leaving the second
/// page's leaf hardware-invalid but valid by type), then the second page
/// is removed: a translation fault on it must not resolve, and the tables
/// must translate every IPA as the spec's map says.
///
/// Added when the XSA-393 seeded bug was caught only by the fuzz corpus.
enum RemovalAfterSetWayTheorem {
  /// Its broken variant: ``SeededBug/removalKeepsHWInvalidEntry`` seeded makes it refuted.
  static func theorem() -> Theorem {
    Theorem(name: "p2m.removal-after-setway", summary: "a page removed while Set/Way left it hardware-invalid stays removed: its fault does not resolve (XSA-393)") { session in
      var p2m = try XenP2M(ipaBits: 40, vmid: 1, tableBase: MFN(0xF_0000), poolPages: 16, iommuEnabled: false)
      var spec = ReferenceP2M(ipaBits: 40)
      try p2m.setEntry(GFN(0x800), count: 2, mfn: MFN(0x5_5555), type: .ramRW)
      try spec.map(GFN(0x800), count: 2, to: MFN(0x5_5555), type: .ramRW)
      try p2m.invalidateRoot()
      for _ in 0..<3 { _ = p2m.resolveTranslationFault(GFN(0x800)) }
      try p2m.setEntry(GFN(0x801), count: 1, mfn: nil, type: .invalid)
      try spec.unmap(GFN(0x801))
      let resolved = p2m.resolveTranslationFault(GFN(0x801))
      let ipa = try session.word("ipa")
      let outcome = try TableTheorems.walkImplementation(p2m, session: session, ipa: ipa)
      let claim = ipa.condition(!resolved) && TableTheorems.agreesWithMap(spec, ipa: ipa, outcome: outcome)
      return [
        try session.decide("p2m.removal-after-setway[40-bit]", claim: claim, hypotheses: []) { model in
          let bad = try model.value(of: ipa.term)
          let what = resolved ? "the removed page's fault resolved; " : ""
          return ("\(what)ipa \(hex(bad)): the tables give \(p2m.walk(bad, access: .read))", nil, nil, ["ipa": bad])
        }
      ]
    }
  }
}
