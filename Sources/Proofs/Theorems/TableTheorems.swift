import P2MImpl
import Solver
import Spec
import SymbolicWord

/// The optimized p2m's tables against the spec: `p2m.regression` (the
/// implementation's tables translate every IPA as the spec's map says) and
/// `walk.regression` (the implementation's tables, with blocks and
/// splits, and the spec's own 4K layout of the same map walk identically).
/// Both walk with the one generic ``stageTwoWalk`` over Z3 arrays holding
/// the real descriptor memory.
enum TableTheorems {
  /// A p2m update, applied to both sides.
  struct Update {
    var gfn: UInt64
    var count: UInt64
    var mfn: UInt64?
    var type: P2MType
  }

  /// A 2 MiB block, a 4K remap inside it (split and break-before-make), a
  /// removal inside the split block, and foreign 4K pages in another
  /// 1 GiB region: every path of `__p2m_set_entry` except the 1 GiB block.
  static let mixedUpdates = [
    Update(gfn: 0x200, count: 512, mfn: 0x4_0000, type: .ramRO),
    Update(gfn: 0x205, count: 1, mfn: 0x9999, type: .ramRW),
    Update(gfn: 0x3FF, count: 1, mfn: nil, type: .invalid),
    Update(gfn: 0x4_0000, count: 3, mfn: 0x1234, type: .mapForeignRW),
  ]

  /// Two 2 MiB blocks, one replaced by a grant mapping, and 4K pages.
  static let blockUpdates = [
    Update(gfn: 0x400, count: 1024, mfn: 0x8_0000, type: .ramRW),
    Update(gfn: 0x600, count: 512, mfn: 0x7_0000, type: .grantMapRW),
    Update(gfn: 0x801, count: 2, mfn: 0x5_5555, type: .iommuMapRO),
  ]

  static func build(ipaBits: Int, updates: [Update]) throws -> (XenP2M, ReferenceP2M) {
    var p2m = try XenP2M(ipaBits: ipaBits, vmid: 1, tableBase: MFN(0xF_0000), poolPages: 16)
    var spec = ReferenceP2M(ipaBits: ipaBits)
    for update in updates {
      try p2m.setEntry(GFN(update.gfn), count: update.count, mfn: update.mfn.map(MFN.init), type: update.type)
      if let mfn = update.mfn {
        try spec.map(GFN(update.gfn), count: update.count, to: MFN(mfn), type: update.type)
      } else {
        try spec.unmap(GFN(update.gfn), count: update.count)
      }
    }
    return (p2m, spec)
  }

  static func walkImplementation(_ p2m: XenP2M, session: ProofSession, ipa: SymbolicWord) throws -> WalkOutcome<SymbolicWord> {
    let memory = try CompressedDescriptorMemory(p2m.memory.liveTables(), zero: session.constant(0))
    return stageTwoWalk(memory: memory, geometry: p2m.geometry, rootAddress: session.constant(p2m.vttbr), inputAddress: ipa, access: .read)
  }

  // MARK: p2m.regression

  static func refinement() -> Theorem {
    Theorem(name: "p2m.regression", summary: "regression (two fixed update sequences, only the IPA symbolic; the for-all claim is p2m.step): after block, split, removal and 4K updates the implementation's tables translate every IPA as the spec's map says (32 and 40 bits, 16-page pool)") { session in
      var findings: [Finding] = []
      for (label, updates) in [("mixed", mixedUpdates), ("blocks", blockUpdates)] {
        for ipaBits in [32, 40] {
          let (p2m, spec) = try build(ipaBits: ipaBits, updates: updates)
          let ipa = try session.word("ipa")
          let outcome = try walkImplementation(p2m, session: session, ipa: ipa)
          let claim = agreesWithMap(spec, ipa: ipa, outcome: outcome)
          findings.append(
            try session.decide("p2m.regression[\(label),\(ipaBits)-bit]", claim: claim, hypotheses: []) { model in
              let bad = try model.value(of: ipa.term)
              let concrete = p2m.walk(bad, access: .read)
              let expected = spec.lookup(GFN(bad >> pageShift)).map { hex($0.mfn.address | (bad & (pageSize - 1))) } ?? "a fault"
              return ("ipa \(hex(bad)): the tables give \(concrete), the spec \(expected)", nil, nil, ["ipa": bad])
            })
        }
      }
      return findings
    }
  }

  /// Runs of the map: consecutive GFNs to consecutive MFNs of one type.
  static func runs(_ spec: ReferenceP2M) -> [(gfn: UInt64, count: UInt64, mfn: UInt64, type: P2MType)] {
    var runs: [(gfn: UInt64, count: UInt64, mfn: UInt64, type: P2MType)] = []
    for (gfn, entry) in spec.entries.sorted(by: { $0.key < $1.key }) {
      if let last = runs.last, last.gfn + last.count == gfn.rawValue, last.mfn + last.count == entry.mfn.rawValue, last.type == entry.type {
        runs[runs.count - 1].count += 1
      } else {
        runs.append((gfn.rawValue, 1, entry.mfn.rawValue, entry.type))
      }
    }
    return runs
  }

  /// Inside a run of the map: no fault, the run's frame at the IPA's
  /// offset, the type's permissions and software type; outside: a fault.
  static func agreesWithMap(_ spec: ReferenceP2M, ipa: SymbolicWord, outcome: WalkOutcome<SymbolicWord>) -> SymbolicBool {
    let page = ipa >> pageShift
    var claim = ipa.condition(true)
    var mapped = ipa.condition(false)
    for run in runs(spec) {
      let inside = page >= run.gfn && page < run.gfn + run.count
      let expected = ((page &- run.gfn &+ run.mfn) << pageShift) | (ipa & (pageSize - 1))
      let permissions = run.type.permissions
      let translated =
        !outcome.faulted && outcome.outputAddress == expected && outcome.softwareType == UInt64(run.type.rawValue)
        && outcome.read && (permissions.write ? outcome.write : !outcome.write)
        && (permissions.execute ? !outcome.executeNever : outcome.executeNever)
      claim = claim && inside.implies(translated)
      mapped = mapped || inside
    }
    return claim && mapped.or(outcome.faulted)
  }

  // MARK: walk.regression

  static func walkEquivalence() -> Theorem {
    Theorem(name: "walk.regression", summary: "regression (two fixed update sequences, only the IPA symbolic): the implementation's tables (blocks, splits) and the spec's 4K layout of the same map walk alike for every IPA (40 and 48 bits)") { session in
      try walkEquivalenceFindings(session: session, ipaBits: [40, 48])
    }
  }

  static func walkEquivalenceFindings(session: ProofSession, ipaBits sizes: [Int]) throws -> [Finding] {
    var findings: [Finding] = []
    for ipaBits in sizes {
      for (label, updates) in [("mixed", mixedUpdates), ("blocks", blockUpdates)] {
        let (p2m, spec) = try build(ipaBits: ipaBits, updates: updates)
        let frameLimit = UInt64(1) << UInt64(ipaBits - pageShift)
        let (specTables, root) = try spec.materialize(tableFrames: ((frameLimit - 4096)..<frameLimit).lazy.map(MFN.init))
        let ipa = try session.word("ipa")
        let implementation = try walkImplementation(p2m, session: session, ipa: ipa)
        let reference = stageTwoWalk(
          memory: try CompressedDescriptorMemory(specTables, zero: session.constant(0)), geometry: p2m.geometry,
          rootAddress: session.constant(root.address), inputAddress: ipa, access: .read)
        // Fault levels differ by construction (a hole under a block is
        // found higher up); everything a device observes must agree.
        let sameFault = implementation.faulted.isEqual(to: reference.faulted)
          && implementation.faulted.implies(implementation.faultKind == reference.faultKind)
        let samePermissions = implementation.read.isEqual(to: reference.read)
          && implementation.write.isEqual(to: reference.write)
          && implementation.executeNever.isEqual(to: reference.executeNever)
        let sameTranslation = implementation.outputAddress == reference.outputAddress
          && implementation.softwareType == reference.softwareType && samePermissions
        let claim = sameFault && (!implementation.faulted).implies(sameTranslation)
        findings.append(
          try session.decide("walk.regression[\(label),\(ipaBits)-bit]", claim: claim, hypotheses: [ipa < UInt64(1) << UInt64(ipaBits)]) { model in
            let bad = try model.value(of: ipa.term)
            return ("ipa \(hex(bad)): implementation \(p2m.walk(bad, access: .read)), spec tables walk differently", nil, nil, ["ipa": bad])
          })
      }
    }
    return findings
  }
}

