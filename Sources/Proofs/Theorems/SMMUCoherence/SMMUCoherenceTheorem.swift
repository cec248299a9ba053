import P2MImpl
import SMMUImpl
import Solver
import Spec
import SymbolicWord

/// `smmu.coherence`: Xen's IOTLB maintenance keeps every SMMU's IOTLB
/// coherent with the domains' tables, for every state (the inductive form,
/// DESIGN.md §4; `smmu.regression` is the bounded check on one history).
///
/// The invariant (``SymbolicSMMU/coherent(at:translations:)`` at a fresh
/// slot, and ``SymbolicSMMU/contextInvariant``): every live IOTLB entry is
/// tagged by the VMID of a live context of its SMMU, and that context's
/// domain's tables translate the page exactly as cached; live VMIDs are
/// distinct per SMMU; stamps are never ahead of their VMID's generation.
/// Two SMMUs of one version (v2: VMID = `cbndx + 1`; v3: any S2VMID from
/// the bitmap), three contexts each, any IOTLB capacity (a power of two up
/// to 2^24) and VMID width (8 or 16 bits), any contents.
///
/// Each step runs the program's own generic maintenance
/// (`SMMUImpl/IOTLBMaintenance.swift`) on Z3 words:
///
/// - `reset`: the IOTLB `arm_smmu_device_reset()` leaves, no context in
///   use, satisfies the invariant;
/// - `fill`: a walk of a live context that translated is cached
///   (``iotlbFill(_:vmid:ipa:outputAddress:read:write:level:)``, §7.3);
/// - `p2m update`: any change of one domain's tables after which the
///   p2m's flush callback runs when the update owed one — Xen's
///   `iommu_iotlb_flush()` → `arm_smmu_iotlb_flush_all()` on every SMMU
///   (``flushedSMMUs(count:)``, ``iotlbFlushDomain(_:domain:contexts:)``).
///   That an update changes only its own domain's translations, and owes a
///   flush whenever it changes one that could be cached, is the IOTLB part
///   of `p2m.step` (for every p2m state, on the chunk step the program
///   runs); here it is the hypothesis, instantiated at the probed entry;
/// - `attach`: a domain's existing context, or a free one (any, not only
///   the first the concrete allocator takes) with, on an SMMUv3, any free
///   S2VMID; neither driver invalidates a VMID it hands out;
/// - `detach`: a device of a live context leaves; with the domain's last
///   one the context is freed with ``iotlbReleaseVMID(_:vmid:lastDevice:driver:)``.
///
/// **Refuted on SMMUv3, `detach`** — a finding about Xen, expected in
/// `proofs/expectations.txt`: smmu-v3.c frees the S2VMID without
/// invalidating it (``XenSMMUDriver/invalidatesReleasedVMID``), so its
/// entries stay live with no owner, and the next domain given the VMID
/// hits them until its own first p2m update flushes the VMID. The
/// counterexample replays on the concrete platform: dom0's master
/// translates a page and leaves, a guest's master gets the S2VMID and
/// translates the same IPA to dom0's frame.
///
/// Broken variants, refuted in `swift test` and replayed on the concrete
/// ``XenSMMUPlatform``: no IOTLB flush after a p2m update (Xen before
/// `9ed527dc95`), a flush that reaches only the first SMMU, and an SMMUv2
/// bank freed without the TLB nuke.
enum SMMUCoherenceTheorem {
  typealias Version = SymbolicSMMU.Version

  enum Step: String, CaseIterable {
    case reset, fill
    case update = "p2m update"
    case attach, detach
  }

  static let scope = "SMMUv3 detach refuted: smmu-v3.c frees an S2VMID without invalidating it (4.15–4.21); every IOTLB state (any slot contents, generations, capacity 2^k ≤ 2^24, 8- or 16-bit VMIDs) coherent with any per-domain translations, two SMMUs of one version (v2 and v3), three contexts each (any live set, domains < 2^16, v3 VMIDs any free S2VMID); steps: reset, fill, any p2m update of one domain followed by the flush it owes, attach to an existing or any free context, detach (last device or not); not: the walk itself (p2m.abstraction), the slot index's choice of victim (any slot may be overwritten), stream matching (smmu.regression, fuzzing), that a coherent hit answers as the walk (smmu.fast-path + smmu.regression)"

  /// - Parameter fixes: drivers run with the VMID invalidation on release
  ///   they lack (``XenSMMUPlatform/invalidatesReleasedS2VMIDs``), to show
  ///   the fix proved.
  static func theorem(
    versions: [Version] = Version.allCases, steps: [Step] = Step.allCases, fixes: Set<Version> = []
  ) -> Theorem {
    Theorem(name: "smmu.coherence", summary: "inductive: for every IOTLB state coherent with the domains' tables, on two SMMUs (v2, v3), a fill, any p2m update followed by Xen's flush callback, an attach (VMID claimed) and a detach (VMID released) keep it coherent; reset establishes it. Scope: \(scope)", timeout: .seconds(30)) { session in
      var findings: [Finding] = []
      for version in versions {
        for step in steps {
          findings.append(try decide(session: session, version: version, step: step, fixed: fixes.contains(version)))
        }
      }
      return findings
    }
  }

  static func decide(session: ProofSession, version: Version, step: Step, fixed: Bool = false) throws -> Finding {
    let fixes: Set<Version> = fixed ? [version] : []
    let name = "smmu.coherence[\(version.rawValue),\(step.rawValue)]"
    var smmus = try (0..<2).map { try SymbolicSMMU(prefix: "smmu\($0)", version: version, session: session) }
    let translations = try SymbolicTranslations("walk", session: session)
    let slot = try session.word("slot")
    let yes = slot.condition(true)
    var hypotheses: [SymbolicBool] = []
    for smmu in smmus { hypotheses += smmu.iotlb.shape + smmu.contextInvariant + [smmu.coherent(at: slot, translations: translations)] }
    var after = translations
    var checked = [0, 1]
    // The case the claim is about, shown satisfiable when proved.
    var witness: [SymbolicBool] = []
    // The concrete replay of a refutation, from the model's page.
    var replay: ((UInt64) throws -> (String, Bool))?
    let probed = smmus.map { $0.entry(at: slot) }

    switch step {
    case .reset:
      hypotheses = smmus.flatMap(\.iotlb.shape)
      for index in smmus.indices {
        smmus[index].iotlb.reset()
        smmus[index].contexts = smmus[index].contexts.map { ContextWords(live: yes.constant(false), domain: $0.domain, vmid: $0.vmid) }
        hypotheses += smmus[index].contexts.map { smmus[index].iotlb.generations($0.vmid) >> 32 == 0 }
      }
      witness = [yes]

    case .update:
      let domain = try session.word("update.domain")
      let flushed = try SymbolicBool.variable("update.flushes", in: session.context)
      let changed = try SymbolicTranslations("walk.after", session: session)
      hypotheses.append(domain >> 16 == 0)
      for probe in probed {
        // p2m.step's IOTLB part at this entry: a translation the entry
        // matched is still matched, or the update owes an IOTLB flush.
        let encoding = SymbolicTranslations.encoding(probe.entry)
        hypotheses.append((translations.of(domain: domain, page: probe.entry.page) == encoding)
          .implies(flushed || changed.of(domain: domain, page: probe.entry.page) == encoding))
      }
      after = translations.replacing(domain: domain, with: changed)
      for index in flushedSMMUs(count: smmus.count) {
        let contexts = smmus[index].contexts
        smmus[index].iotlb.when(flushed) { iotlb in iotlbFlushDomain(&iotlb, domain: domain, contexts: contexts) }
      }
      let second = probed[1]
      witness = [second.live, changed.of(domain: domain, page: second.entry.page) != SymbolicTranslations.encoding(second.entry)]
        + [smmus[1].contexts.reduce(yes.constant(false)) { $0 || ($1.live && $1.vmid == second.entry.vmid && $1.domain == domain) }]
      replay = { page in try replayUpdate(version: version, page: page) }

    case .fill:
      let chosen = try choose(session: session, "fill", in: smmus[0])
      let ipa = try session.word("fill.ipa")
      let output = try session.word("fill.output")
      let level = try session.word("fill.level")
      let read = try SymbolicBool.variable("fill.read", in: session.context)
      let write = try SymbolicBool.variable("fill.write", in: session.context)
      let walked = IOTLBEntryWords(vmid: chosen.context.vmid, page: ipa >> pageShift, outputPage: output & bitMask(high: 47, low: 12), read: read, write: write, level: level)
      hypotheses += chosen.hypotheses + [
        chosen.context.live, ipa >> 48 == 0, level >= 1, level <= 3,
        translations.of(domain: chosen.context.domain, page: ipa >> pageShift) == SymbolicTranslations.encoding(walked),
      ]
      iotlbFill(&smmus[0].iotlb, vmid: chosen.context.vmid, ipa: ipa, outputAddress: output, read: read, write: write, level: level)
      checked = [0]
      witness = [smmus[0].iotlb.slotIndex(vmid: chosen.context.vmid, page: ipa >> pageShift) == slot, probed[0].live]

    case .attach:
      let chosen = try choose(session: session, "attach", in: smmus[0])
      let domain = try session.word("attach.domain")
      let contexts = smmus[0].contexts
      let existing = chosen.context.live && chosen.context.domain == domain
      let free = !chosen.context.live && contexts.reduce(yes) { $0 && !($1.live && $1.domain == domain) }
      let vmid: SymbolicWord
      hypotheses += chosen.hypotheses + [domain >> 16 == 0, existing || free]
      switch version {
      case .v2:
        vmid = chosen.context.vmid
      case .v3:
        vmid = try session.word("attach.vmid")
        let unused = contexts.reduce(yes) { $0 && !($1.live && $1.vmid == vmid) }
        hypotheses += [
          existing.implies(vmid == chosen.context.vmid),
          free.implies(unused && vmid >= 1 && vmid < smmus[0].iotlb.vmidLimitWord),
          smmus[0].iotlb.generations(vmid) >> 32 == 0,
        ]
      }
      // Neither driver invalidates a VMID it hands out (XenSMMUDriver).
      smmus[0].contexts = contexts.enumerated().map { index, context in
        let here = chosen.index == UInt64(index)
        return ContextWords(
          live: here || context.live, domain: .select(here, domain, context.domain), vmid: .select(here, vmid, context.vmid))
      }
      checked = [0]
      witness = [free, probed[0].live]

    case .detach:
      let chosen = try choose(session: session, "detach", in: smmus[0])
      let last = try SymbolicBool.variable("detach.last", in: session.context)
      hypotheses += chosen.hypotheses + [chosen.context.live]
      iotlbReleaseVMID(&smmus[0].iotlb, vmid: chosen.context.vmid, lastDevice: last, invalidates: version.invalidatesReleasedVMID || fixes.contains(version))
      smmus[0].contexts = smmus[0].contexts.enumerated().map { index, context in
        ContextWords(live: context.live && !(last && chosen.index == UInt64(index)), domain: context.domain, vmid: context.vmid)
      }
      checked = [0]
      witness = [last, probed[0].live, probed[0].entry.vmid == chosen.context.vmid]
      replay = { page in try replayRecycle(version: version, page: page) }
    }

    var claim = yes
    for index in checked {
      claim = claim && smmus[index].coherent(at: slot, translations: after)
      for fact in smmus[index].contextInvariant { claim = claim && fact }
    }
    var finding = try session.decide(name, claim: claim, hypotheses: hypotheses, freshSolvers: true) { model in
      var values: [String: UInt64] = ["slot": try model.value(of: slot.term)]
      var broken: [String] = []
      for index in checked where try !model.bool(of: smmus[index].coherent(at: slot, translations: after).term) {
        broken.append("smmu\(index)")
        values["smmu\(index).key"] = try model.value(of: probed[index].key.term)
      }
      let page = (values["smmu\(checked.last { broken.contains("smmu\($0)") } ?? 0).key"] ?? 0) & IOTLBSlot<UInt64>.pageMask
      var reason = "\(broken.isEmpty ? "a context invariant" : broken.joined(separator: ", ") + "'s IOTLB") incoherent after \(step.rawValue) at slot \(hex(values["slot"]!))"
      guard let replay else { return (reason, nil, nil, values) }
      let (story, reproduced) = try replay(page)
      reason += "; replayed: \(story)"
      return (reason, nil, reproduced, values)
    }
    if finding.verdict == .proved, try !session.isSatisfiable(hypotheses + witness) {
      finding.verdict = .vacuous
      finding.reason = "the hypotheses admit no \(step.rawValue) on a live entry"
    }
    return finding
  }

  /// A context of `smmu` picked by a symbolic index: every context is
  /// considered at once.
  static func choose(session: ProofSession, _ label: String, in smmu: SymbolicSMMU) throws
    -> (index: SymbolicWord, context: ContextWords<SymbolicWord>, hypotheses: [SymbolicBool]) {
    let index = try session.word("\(label).context")
    var context = smmu.contexts[0]
    for (position, candidate) in smmu.contexts.enumerated().dropFirst() {
      let here = index == UInt64(position)
      context = ContextWords(
        live: .select(here, candidate.live, context.live), domain: .select(here, candidate.domain, context.domain),
        vmid: .select(here, candidate.vmid, context.vmid))
    }
    return (index, context, [index < UInt64(smmu.contexts.count)])
  }

  // MARK: Replays on the concrete platform

  static func smmu(_ version: Version, named name: String) -> SMMU {
    version == .v2 ? .v2(name: name) : .v3(name: name)
  }

  /// The GFN a replay uses for the model's page: inside a 40-bit IPA space.
  static func replayGFN(_ page: UInt64) -> UInt64 { page & ((1 << 28) - 1) }

  /// dom0 with a master behind each of two SMMUs: the model's page mapped,
  /// translated through both (filling both IOTLBs), remapped; then the
  /// IOTLB entries that disagree with the walk.
  static func replayUpdate(version: Version, page: UInt64) throws -> (String, Bool) {
    let platform = try XenSMMUPlatform(
      smmus: [smmu(version, named: "s0"), smmu(version, named: "s1")],
      devices: [
        Device(name: "a", attachment: .behindSMMU(smmu: "s0", streamIDs: [1], described: true)),
        Device(name: "b", attachment: .behindSMMU(smmu: "s1", streamIDs: [1], described: true)),
      ])
    try platform.addDomain(.dom0, p2m: try XenP2M(ipaBits: 40, vmid: 1, tableBase: MFN(0x8_0000), poolPages: 8))
    try platform.attach("a", to: .dom0)
    try platform.attach("b", to: .dom0)
    let gfn = replayGFN(page)
    try platform.updateP2M(of: .dom0) { p2m throws(XenP2MError) in try p2m.setEntry(GFN(gfn), count: 1, mfn: MFN(0x1000), type: .ramRW) }
    for name in ["s0", "s1"] { _ = try platform.translate(stream: 1, on: platform.smmuIndex(named: name), address: gfn << pageShift, access: .read) }
    try platform.updateP2M(of: .dom0) { p2m throws(XenP2MError) in try p2m.setEntry(GFN(gfn), count: 1, mfn: MFN(0x2000), type: .ramRW) }
    let stale = platform.incoherentIOTLBEntries()
    return ("GFN \(hex(gfn)) remapped from MFN 0x1000 to 0x2000 on \(version.rawValue) SMMUs s0, s1: \(stale.isEmpty ? "every IOTLB entry agrees with the walk" : stale.joined(separator: "; "))", !stale.isEmpty)
  }

  /// dom0's master and a guest's master behind one SMMU: dom0's master is
  /// attached, translates the model's page, leaves; the guest's master is
  /// attached (the freed context or S2VMID is handed out again) and
  /// translates the same page, which its own p2m maps elsewhere.
  static func replayRecycle(version: Version, page: UInt64) throws -> (String, Bool) {
    let guest = DomainID(1)
    let platform = try XenSMMUPlatform(
      smmus: [smmu(version, named: "s0")],
      devices: [
        Device(name: "a", attachment: .behindSMMU(smmu: "s0", streamIDs: [1], described: true)),
        Device(name: "b", attachment: .behindSMMU(smmu: "s0", streamIDs: [2], described: true)),
      ])
    try platform.addDomain(.dom0, p2m: try XenP2M(ipaBits: 40, vmid: 1, tableBase: MFN(0x8_0000), poolPages: 8))
    try platform.addDomain(guest, p2m: try XenP2M(ipaBits: 40, vmid: 2, tableBase: MFN(0x9_0000), poolPages: 8))
    let gfn = replayGFN(page)
    try platform.updateP2M(of: .dom0) { p2m throws(XenP2MError) in try p2m.setEntry(GFN(gfn), count: 1, mfn: MFN(0x1000), type: .ramRW) }
    try platform.updateP2M(of: guest) { p2m throws(XenP2MError) in try p2m.setEntry(GFN(gfn), count: 1, mfn: MFN(0x2000), type: .ramRW) }
    let s0 = try platform.smmuIndex(named: "s0")
    try platform.attach("a", to: .dom0)
    _ = try platform.translate(stream: 1, on: s0, address: gfn << pageShift, access: .read)
    try platform.detach("a")
    try platform.attach("b", to: guest)
    let seen = try platform.translate(stream: 2, on: s0, address: gfn << pageShift, access: .read)
    let walk = platform.walk(domain: guest, address: gfn << pageShift, access: .read)
    let reproduced = seen.stageTwo != walk
    return ("on a \(version.rawValue) SMMU, dom0's master translated GFN \(hex(gfn)) and left; the guest's master, given the freed context, gets \(seen.stageTwo.map { "\($0)" } ?? "no translation") where the guest's walk gives \(walk)", reproduced)
  }
}
