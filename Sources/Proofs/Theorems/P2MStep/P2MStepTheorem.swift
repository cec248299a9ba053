import P2MImpl
import Solver
import Spec
import SymbolicWord

/// `p2m.step`: refinement for every state (Hyperkernel's and Serval's
/// inductive form, DESIGN.md §4). For every state of the symbolic world
/// that satisfies P2MImpl's representation invariant (``P2MRepresentation``),
/// every GFN, order 0, 9 or 18 (aligned, as `p2m_set_entry()` chooses it),
/// MFN below 2^36, valid p2m type, insertion or removal, and every outcome
/// of every pool allocation, one run of the program's own
/// ``setEntryChunk(_:gfn:order:mfn:type:)`` leaves:
///
/// - **invariant**: the invariant holds again (at a fresh GFN and slot: for all);
/// - **abstraction**: the map read from the tables is the spec's map after
///   the same update — the new entries on the chunk's GFNs, the rest
///   unchanged — or, when the step fails (−EINVAL, −ENOMEM), unchanged;
/// - **flush order**: nothing is released while an IOTLB flush is owed
///   (`6718787797`);
/// - **TLB**: a CPU TLB entry coherent before (or covered by a pending
///   `need_flush`) is, after `p2m_write_unlock()`'s deferred flush,
///   flushed or still equal to the walk;
/// - **IOTLB**: an SMMU IOTLB entry for the probe's page that matched the
///   walk before (output page, S2AP, level) still matches it, or the step
///   issued `iommu_iotlb_flush()` — the hypothesis `smmu.coherence`'s
///   `p2m update` step builds on (the SMMU ignores CPU TLB flushes, §6.1).
///
/// `p2m.abstraction` closes the loop to the hardware: in every state that
/// satisfies the invariant, the architectural walk of every IPA agrees
/// with the map (``P2MRepresentation/agrees(_:gfn:offset:ipaBits:outcome:)``),
/// and `p2m.init` shows the invariant holds of the p2m Xen creates.
/// Together: every `p2m_set_entry()` — a loop of chunk steps, each a
/// `p2m.step` from a state satisfying the invariant — keeps the walk equal
/// to the spec's map, by induction on the number of chunks; the
/// decomposition itself is `p2m.chunk-order`.
enum P2MStepTheorem {
  enum Operation: String, CaseIterable { case insert, remove }

  /// The catalogue's sizes, one theorem each so that `--jobs` runs them
  /// side by side (BENCHMARKS.md, "p2m.step").
  static let ipaSizes = [32, 40, 48]

  static var theorems: [Theorem] { ipaSizes.map { theorem(ipaSizes: [$0], name: "p2m.step.\($0)-bit") } }
  static let orders = [0, 9, 18]
  /// The table region's first frame: aligned for 16 concatenated roots,
  /// low enough for a 32-bit PA.
  static let baseFrame: UInt64 = 0x1_0000

  static let scope = "every descriptor memory, pool, ghost tree owner map, need_flush, max/lowest mapped GFN and CPU TLB entry satisfying the representation invariant; every GFN, order 0/9/18 aligned, MFN < 2^36, valid p2m type, insert or remove; every allocation outcome (any free pool page, or none); every path of the step (explored one by one); IPA 32, 40 and 48 bits; not: pool leaks, statistics, mem_access"

  static func theorem(
    ipaSizes: [Int] = [32], orders: [Int] = orders, operations: [Operation] = Operation.allCases,
    name: String = "p2m.step", iommuEnabled: Bool = true, parts: Set<String>? = nil
  ) -> Theorem {
    return Theorem(name: name, summary: "inductive: for every state satisfying the representation invariant, one __p2m_set_entry chunk (insert/remove, order 0/9/18, any allocation outcome) keeps the invariant, updates the map as the spec does, releases nothing before the IOTLB flush and leaves the CPU TLB coherent; plus p2m.init and p2m.abstraction (IPA \(ipaSizes.map(String.init).joined(separator: "/")) bits). Scope: \(scope)", timeout: .seconds(60)) { session in
      var findings: [Finding] = []
      for ipaBits in ipaSizes {
        findings.append(try initial(session: session, ipaBits: ipaBits))
        findings.append(try abstraction(session: session, ipaBits: ipaBits))
        for order in orders where 3 - order / 9 >= 1 {
          for operation in operations {
            findings.append(try step(session: session, ipaBits: ipaBits, order: order, operation: operation, iommuEnabled: iommuEnabled, parts: parts))
          }
        }
      }
      return findings
    }
  }

  struct Probe {
    var gfn: SymbolicWord
    var offset: SymbolicWord
    var slot: SymbolicWord
    init(_ session: ProofSession) throws {
      gfn = try session.word("g")
      offset = try session.word("offset")
      slot = try session.word("slot")
    }
    var ranges: [SymbolicBool] { [(gfn >> 52) == 0, offset < pageSize] }
  }

  /// An SMMU IOTLB entry for the probe's page: what ``IOTLBSlot`` caches
  /// of a translated walk.
  struct IOTLBProbe {
    var cached: SymbolicBool
    var outputPage: SymbolicWord
    var read: SymbolicBool
    var write: SymbolicBool
    var level: SymbolicWord
    init(_ session: ProofSession) throws {
      cached = try SymbolicBool.variable("iotlb.cached", in: session.context)
      outputPage = try session.word("iotlb.output")
      read = try SymbolicBool.variable("iotlb.read", in: session.context)
      write = try SymbolicBool.variable("iotlb.write", in: session.context)
      level = try session.word("iotlb.level")
    }

    /// The walk translates the page as the entry says.
    func matches(_ walk: WalkOutcome<SymbolicWord>) -> SymbolicBool {
      !walk.faulted && (walk.outputAddress & bitMask(high: 47, low: 12)) == outputPage && walk.read.isEqual(to: read)
        && walk.write.isEqual(to: write) && walk.level == level
    }
  }

  static func walk(_ tables: SymbolicP2MTables, _ probe: Probe) -> WalkOutcome<SymbolicWord> {
    stageTwoWalk(
      memory: SymbolicP2MMemory(tables: tables), geometry: tables.geometry,
      rootAddress: tables.zeroWord.constant(baseFrame << pageShift), inputAddress: (probe.gfn << pageShift) | probe.offset, access: .read)
  }

  // MARK: p2m.step[…]

  /// - Parameters:
  ///   - iommuEnabled: false is the broken variant of the IOTLB
  ///   part: a domain whose updates never call `iommu_iotlb_flush()`, as
  ///   Xen before `9ed527dc95` behaved for tables shared with the SMMU.
  ///   - parts: the parts of the claim to decide (all when nil), so a
  ///     broken variant can be shown to break the part it is about.
  static func step(
    session: ProofSession, ipaBits: Int, order: Int, operation: Operation, iommuEnabled: Bool = true,
    parts selected: Set<String>? = nil
  ) throws -> Finding {
    let name = "p2m.step[\(operation.rawValue),order \(order),\(ipaBits)-bit]"
    let context = session.context
    let probe = try Probe(session)
    let gfn = try session.word("gfn")
    let mfn = try session.word("mfn")
    let type = try session.word("type")
    let cached = try SymbolicBool.variable("tlb.cached", in: context)
    let cachedOutput = try session.word("tlb.output")
    let cachedWrite = try SymbolicBool.variable("tlb.write", in: context)
    let iotlb = try IOTLBProbe(session)
    let aligned = (UInt64(1) << UInt64(order)) - 1
    let inserting = operation == .insert

    // The explorer is built before the state, which refers to it; the
    // facts it prunes with are those about the request and its path.
    var request: [SymbolicBool] = [(gfn & aligned) == 0]
    if inserting { request += [(mfn & aligned) == 0, (mfn >> 36) == 0] }
    let explorer = PathExplorer(session: session, base: request)
    let pre = try SymbolicP2MTables(prefix: "pre", ipaBits: ipaBits, baseFrame: baseFrame, iommuEnabled: iommuEnabled, explorer: explorer, context: context)
    var facts = request + [P2MRepresentation.global(pre, slot: probe.slot), P2MRepresentation.path(pre, gfn: gfn).invariant]
    if inserting { facts.append(pre.leafTemplate(type: type) != 0) }
    explorer.add(facts)

    let before = P2MRepresentation.path(pre, gfn: probe.gfn)
    let walkBefore = walk(pre, probe)
    let hypotheses = facts + probe.ranges + [
      before.invariant,
      cached.implies(pre.flushOwed || (!walkBefore.faulted && walkBefore.outputAddress == cachedOutput && walkBefore.write.isEqual(to: cachedWrite))),
      iotlb.cached.implies(iotlb.matches(walkBefore)),
    ]
    let yes = gfn.condition(true)
    let no = gfn.condition(false)
    let updated = inserting
      ? P2MRepresentation.Entry(present: yes, mfn: mfn &+ (probe.gfn &- gfn), type: type, leafValid: yes, pathValid: yes, outputFits: yes)
      : P2MRepresentation.Entry(present: no, mfn: gfn.constant(0), type: gfn.constant(0), leafValid: no, pathValid: no, outputFits: no)
    let inChunk = (probe.gfn >> order) == (gfn >> order)

    var result = Finding(claim: name, verdict: .proved, seconds: 0)
    var witnessed = false
    var more = true
    while more {
      explorer.begin()
      var post = pre
      let status = setEntryChunk(&post, gfn: gfn, order: order, mfn: inserting ? mfn : nil, type: inserting ? type : gfn.constant(0))
      let path = hypotheses + explorer.facts + explorer.pathCondition
      more = explorer.end()

      let after = P2MRepresentation.path(post, gfn: probe.gfn)
      let invariant = P2MRepresentation.global(post, slot: probe.slot) && after.invariant
      let applied = !status.failed && inChunk
      let abstraction = applied.implies(after.entry.same(as: updated)) && (!applied).implies(after.entry.same(as: before.entry))
      let flushOrder = !post.releasedBeforeIOTLBFlush
      let walkAfter = walk(post, probe)
      let survives = cached && !post.tlbFlushed && !post.flushOwed
      let tlb = survives.implies(!walkAfter.faulted && walkAfter.outputAddress == cachedOutput && walkAfter.write.isEqual(to: cachedWrite))
      let iotlbKept = (iotlb.cached && !post.iotlbFlushed).implies(iotlb.matches(walkAfter))
      let parts: [(String, SymbolicBool)] = [
        ("invariant", invariant), ("abstraction", abstraction), ("flush order", flushOrder), ("TLB", tlb), ("IOTLB", iotlbKept),
      ].filter { selected?.contains($0.0) ?? true }
      let claim = parts.reduce(yes) { $0 && $1.1 }

      // A path's own hypotheses are not checked: an infeasible path is no
      // run, and `witnessed` below shows the runs the claim is about exist.
      let finding = try session.decide(name, claim: claim, hypotheses: path, freshSolvers: true, checkingHypotheses: false) { model in
        let broken = try parts.filter { try !model.bool(of: $0.1.term) }.map(\.0)
        var values: [String: UInt64] = [:]
        for (label, word) in [("gfn", gfn), ("mfn", mfn), ("type", type), ("g", probe.gfn)] {
          values[label] = try model.value(of: word.term)
        }
        let reason = "\(broken.joined(separator: ", ")) broken at gfn \(hex(values["gfn"] ?? 0)), probe GFN \(hex(values["g"] ?? 0))"
        return (reason, nil, nil, values)
      }
      result.seconds += finding.seconds
      switch finding.verdict {
      case .refuted:
        result = Finding(claim: name, verdict: .refuted, reason: finding.reason + " (path \(explorer.paths))", seconds: result.seconds, values: finding.values)
        return result
      case .unknown:
        result.verdict = .unknown
        result.reason = "path \(explorer.paths): \(finding.reason)"
      case .proved:
        // The hypotheses admit the runs the claim is about: on some path
        // the chunk succeeds with the probe GFN mapped and inside it.
        if !witnessed {
          witnessed = try session.isSatisfiable(path + [!status.failed, inChunk, before.entry.present])
        }
      case .vacuous, .inapplicable:
        break
      }
    }
    if result.verdict == .proved && !witnessed {
      result.verdict = .vacuous
      result.reason = "on no path does the chunk succeed on a mapped probe GFN"
    }
    if result.reason.isEmpty { result.reason = "\(explorer.paths) paths" }
    return result
  }

  // MARK: p2m.init, p2m.abstraction

  /// The p2m `XenP2M.init` builds (``TablePool``: zeroed roots and pool,
  /// every pool page free; `max_mapped_gfn` 0, `lowest_mapped_gfn`
  /// `ULONG_MAX`, no flush owed) satisfies the invariant.
  static func initial(session: ProofSession, ipaBits: Int) throws -> Finding {
    let explorer = PathExplorer(session: session, base: [])
    var tables = try SymbolicP2MTables(prefix: "init", ipaBits: ipaBits, baseFrame: baseFrame, iommuEnabled: true, explorer: explorer, context: session.context)
    let pool = tables
    tables.memory = { index in index.constant(0) }
    tables.free = { slot in pool.isPoolSlot(slot) }
    tables.highestMapped = tables.zeroWord
    tables.lowestMapped = tables.zeroWord.constant(.max)
    tables.flushOwed = tables.flushOwed.constant(false)
    let probe = try Probe(session)
    let slots = tables.slotLimit > UInt64(tables.rootPageCount) && tables.slotLimit <= UInt64(tables.rootPageCount + (1 << 20))
    let claim = P2MRepresentation.global(tables, slot: probe.slot) && P2MRepresentation.path(tables, gfn: probe.gfn).invariant
    let fits = (tables.slotLimit &+ baseFrame) <= UInt64(1) << UInt64(min(ipaBits, 48) - pageShift)
    return try session.decide("p2m.init[\(ipaBits)-bit]", claim: claim, hypotheses: probe.ranges + [slots, fits], freshSolvers: true)
  }

  /// In every state satisfying the invariant, the walk agrees with the map.
  static func abstraction(session: ProofSession, ipaBits: Int) throws -> Finding {
    let explorer = PathExplorer(session: session, base: [])
    let tables = try SymbolicP2MTables(prefix: "s", ipaBits: ipaBits, baseFrame: baseFrame, iommuEnabled: true, explorer: explorer, context: session.context)
    let probe = try Probe(session)
    let path = P2MRepresentation.path(tables, gfn: probe.gfn)
    let claim = P2MRepresentation.agrees(path.entry, gfn: probe.gfn, offset: probe.offset, ipaBits: ipaBits, outcome: walk(tables, probe))
    return try session.decide(
      "p2m.abstraction[\(ipaBits)-bit]", claim: claim,
      hypotheses: probe.ranges + [P2MRepresentation.global(tables, slot: probe.slot), path.invariant], freshSolvers: true)
  }
}
