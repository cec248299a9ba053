import Claims
import Scenario
import Solver
import Spec
import SymbolicWord

/// `dma.matrix`: every cell of policy × dom0 layout × device × page kind ×
/// buffer shape × Xen, each property proved or refuted. A refutation
/// comes with the smallest values Z3 can find, written as a scenario on
/// the platform the model chose (``MatrixPlatform``) and replayed on the
/// concrete runner (which walks the real descriptor tables): the finding
/// says whether the failure reproduced and on which platform.
enum DMAMatrixTheorem {
  /// One theorem per policy and dom0 layout, so that `--jobs` runs them
  /// side by side and none takes long; the claims keep their
  /// `dma.matrix[…]` names.
  static var theorems: [Theorem] {
    DMAPolicy.allCases.flatMap { policy in
      MatrixCell.Layout.allCases.map { layout in
        theorem(
          name: "dma.matrix.\(policy.rawValue).\(layout.rawValue)",
          cells: MatrixCell.all.filter { $0.policy == policy && $0.layout == layout })
      }
    }
  }

  /// `dma.matrix-class.*`: every cell of the matrix (as `dma.matrix.*`,
  /// every release group) for every platform of the class and with the
  /// matrix's history, where `dma.class.*` takes only chosen cells. Not in
  /// the default catalogue: it costs hours of CPU on a 2-core machine
  /// (BENCHMARKS.md); `prove --every-platform` runs it.
  static var everyPlatformTheorems: [Theorem] {
    DMAPolicy.allCases.flatMap { policy in
      MatrixCell.Layout.allCases.map { layout in
        Theorem(
          name: "dma.matrix-class.\(policy.rawValue).\(layout.rawValue)",
          summary: "every dma.matrix cell of this policy and layout for every platform of the class: \(scope); device coherent or "
            + "not, DMA mask 32-64 bits reaching the swiotlb pool, cache-flush hypercall or not; any buffer of the shape; guest p2m "
            + "any injective map of its frames; a history of 3 Xen operations; every Xen release on the cell's side of 04085ec1ac, "
            + "decided once per distinct behaviour. Expected as the same cell of dma.matrix unless the expectations file names it. "
            + "Not over: p2m removals in the history, devices with dma-ranges, zero-length buffers. Only with --every-platform (hours of CPU)",
          timeout: .seconds(120)
        ) { session in
          var findings: [Finding] = []
          for cell in MatrixCell.all where cell.policy == policy && cell.layout == layout {
            findings += try decide(cell, session: session, scope: .everyPlatform, history: .matrix, theorem: "dma.matrix-class")
          }
          return findings
        }
      }
    }
  }

  static func theorem(name: String, cells: [MatrixCell]) -> Theorem {
    Theorem(
      name: name,
      summary: "integrity, isolation and liveness of dom0 DMA per layout, device, page kind, shape and Xen. "
        + "On the reference platform (64 MiB RAM at 0x40000000, dom0 32 MiB, IPA 40 bits, 16 colours 0-7/8-15; "
        + "dma.class.* decides chosen cells for every platform of the class). For all: buffer page, offset and size of the shape; guest "
        + "frames and GFNs; a coloured dom0's frame placement; device coherent or not, DMA mask 32-64 bits reaching the "
        + "swiotlb pool; cache-flush hypercall present or not; a history of 3 Xen operations (2 before the buffer's "
        + "maps, 1 after: none, grant map ro/rw, grant unmap, foreign map, foreign unmap) run by the spec's own grant code; every Xen "
        + "release on the cell's side of 04085ec1ac (4.12-4.14, 4.15-4.21; coloured 4.20-4.21), decided once per "
        + "distinct behaviour. Not over: other platforms, p2m removals in the history, dom0 GFNs reused by the "
        + "history, devices with dma-ranges, zero-length buffers. Integrity is over addresses; the replay checks the data",
      // Each claim takes up to ~8 s alone on a 2-core machine (BENCHMARKS.md);
      // the cap leaves room for a loaded one, where a timeout is `unknown`.
      timeout: .seconds(40)
    ) { session in
      var findings: [Finding] = []
      for cell in cells { findings += try decide(cell, session: session) }
      return findings
    }
  }

  /// The platform class in words, for the claims' summaries.
  static let scope =
    "IPA 32-48 bits; RAM in one or two banks anywhere below 2^IPA; dom0 the first 1 page to all of RAM; "
    + "a 256 KiB swiotlb pool anywhere in a dom0 bank; an extended region in any hole below 2^IPA; "
    + "the guest a host range outside dom0 (direct) or pages of its colours (coloured: 2-64 colours, any "
    + "disjoint non-empty sets)"

  /// Decides a cell for every Xen release on its side of the fix
  /// (``MatrixCell/XenFix/releases``, or just `releases` when given): the
  /// releases are grouped by what the DMA sees of them — the DMA ops the
  /// policy picks with that release's feature flags, its
  /// `gnttab_need_iommu_mapping()` and how its grant unmap re-maps the 1:1
  /// entry read-only — and each group is decided once on its
  /// latest release, since the formulas are then the same. A property is
  /// refuted when it is for some group (the counterexample names that
  /// release), unknown when undecided for one, and proved only for all.
  ///
  /// A seeded bug in the spec's DMA path or Xen's grant operations is in
  /// the code both the proof and the replay run (``SeededBug``).
  static func decide(
    _ cell: MatrixCell, session: ProofSession, releases: [XenVersion]? = nil, scope: PlatformScope = .reference,
    history: SymbolicDMAState.History = .matrix, theorem: String = "dma.matrix"
  ) throws -> [Finding] {
    // Upstream colouring arrived in 4.20 (fact sheet §5), after the fix.
    let versions = (releases ?? cell.xen.releases).filter { cell.layout == .direct || $0.hasLLCColouring }
    guard !versions.isEmpty else {
      return DMAProperty.allCases.map {
        Finding(claim: cell.claimName($0, theorem: theorem), verdict: .inapplicable, reason: "LLC colouring needs Xen 4.20, which has the fix", seconds: 0)
      }
    }
    var groups: [(key: String, versions: [XenVersion])] = []
    for version in versions {
      let path = try MatrixRun.path(policy: cell.policy, device: cell.device, layout: cell.layout, version: version)
      // The grant unmap's read-only re-map changed in 4.16 (9781b51efd),
      // the removal's MFN check came in 4.17 (5a4a2cef08), the 1:1
      // removal's INVALID_MFN in 4.21 (4cde4a552e).
      let remap = version.remapsReadOnlyOnlyAfterLastWritable ? "counts" : "mapkind"
      let removal = !version.checksMFNOnRemoval ? "unchecked" : version.unmapsOneToOneWithInvalidMFN ? "checked-invalid-mfn" : "checked"
      let key = "\(path.rawValue)/\(version.grantIOMMUMapping.rawValue)/\(remap)/\(removal)"
      if let index = groups.firstIndex(where: { $0.key == key }) { groups[index].versions.append(version) } else { groups.append((key, [version])) }
    }
    let covered = versions.count == 1 ? "Xen \(versions[0].name)" : "Xen \(versions.first!.name)–\(versions.last!.name)"
    var byProperty: [[Finding]] = DMAProperty.allCases.map { _ in [] }
    for group in groups {
      let findings = try decide(
        cell, version: group.versions.last!, session: session, scope: scope, history: history,
        theorem: theorem)
      for (index, finding) in findings.enumerated() { byProperty[index].append(finding) }
    }
    return byProperty.map { findings in
      let seconds = findings.map(\.seconds).reduce(0, +)
      var chosen = findings.first { $0.verdict == .refuted } ?? findings.first { $0.verdict != .proved } ?? findings[0]
      chosen.seconds = seconds
      if chosen.verdict == .proved { chosen.reason = "for \(covered) (\(groups.count) distinct behaviour\(groups.count == 1 ? "" : "s"))" }
      return chosen
    }
  }

  /// One cell on one release.
  static func decide(
    _ cell: MatrixCell, version: XenVersion, session: ProofSession, scope: PlatformScope, history: SymbolicDMAState.History, theorem: String
  ) throws -> [Finding] {
    let state = try SymbolicDMAState(
      session: session, layout: cell.layout, page: cell.page, shape: cell.shape, version: version, history: history, scope: scope)
    let run = try MatrixRun(state: state, policy: cell.policy, device: cell.device)
    let hypotheses = try state.hypotheses()
    return try DMAProperty.allCases.map { property in
      var finding = try session.decide(cell.claimName(property, theorem: theorem), claim: run.property(property), hypotheses: hypotheses, freshSolvers: true) { model in
        // An integrity failure may be a fault or a silent wrong page; show
        // the silent one when it exists, since that is the dangerous case.
        if property == .integrity, let corrupting = try session.refine(with: [run.liveness]) {
          return try session.assuming([run.liveness]) {
            try explain(
              corrupting, cell: cell, property: property, state: state, session: session,
              theorem: theorem)
          }
        }
        return try explain(
          model, cell: cell, property: property, state: state, session: session,
          theorem: theorem)
      }
      if finding.verdict == .refuted { finding.reason += " (Xen \(version.name))" }
      return finding
    }
  }

  /// A counterexample explained: minimized, placed on a platform the spec
  /// can boot, written as a scenario and replayed there. The property it
  /// breaks is `property`, or asked of the final model by `failing`.
  static func explain(
    _ model: Model, cell: MatrixCell, property: DMAProperty? = nil, state: SymbolicDMAState, session: ProofSession, theorem: String = "dma.matrix",
    failing: (Model) throws -> DMAProperty = { _ in .integrity }
  ) throws -> (reason: String, scenario: String?, replayed: Bool?, values: [String: UInt64]) {
    let order = minimizationOrder(state)
    // The reference platform first, all of it at once, when the failure
    // happens there too: its values are small and boot quickly. Else a
    // small platform with the reference's colours and IPA size, then with
    // two colours, then any small platform, so that the replay boots
    // quickly.
    let reference = MatrixPlatform<UInt64>.reference(state.layout)
    let platform = state.platform
    let pinReference = zip(platform.words, reference.words).map { $0.word == $1.word }
    let smallSizes = [platform.ram[0].pages <= 0x2000, platform.ram[1].pages <= 0x2000, platform.guestGFNs.pages <= 0x1000]
    let referenceColours = [
      platform.ipaBits == reference.ipaBits, platform.colourBits == reference.colourBits,
      platform.dom0Colours == reference.dom0Colours, platform.guestColours == reference.guestColours,
    ]
    var start = model
    var narrowing: [SymbolicBool] = []
    let twoColours = [platform.colourBits == 1, platform.dom0Colours == 1, platform.guestColours == 2]
    // Each stage on a fresh solver (one check, as the claim's own).
    if platform.ipaBits.knownValue == nil {
      for (facts, seconds) in [
        (pinReference, 20), (smallSizes + referenceColours, 30), (smallSizes + (state.layout == .coloured ? twoColours : []), 30),
        (smallSizes, 30),
      ] {
        if let found = try session.refine(with: facts, timeout: .seconds(seconds), fresh: true, guide: platform.words.map(\.word)) {
          start = found
          narrowing = facts
          break
        }
      }
    }
    // Minimization keeps the stage's narrowing: pinning one variable
    // must not let the others leave the small platform found.
    let small = try session.assuming(narrowing) { try session.minimize(start, variables: order) }
    let chosen = try state.platform.map { try small.value(of: $0.term) }
    if chosen.ramPages > MatrixConstants.replayRAMPages {
      return (
        "not replayed: the model's platform (\(chosen.summary)) has more RAM than a replay boots "
          + "(\(MatrixConstants.replayRAMPages >> 18) GiB)", nil, false, try modelValues(state, small))
    }
    guard let (placed, platform) = try realize(small, platform: chosen, state: state, session: session, pinned: order.map(\.0)) else {
      return (
        "the counterexample needs frames the coloured allocator does not give on its platform (\(chosen.summary)); not replayed",
        nil, false, try modelValues(state, small))
    }
    let property = try property ?? failing(placed)
    let scenario = try counterexampleScenario(cell, property: property, state: state, model: placed, platform: platform, theorem: theorem)
    let replay = try replayScenario(scenario, property: property)
    return ("\(replay.reason) [platform: \(platform.concrete.summary)]", scenario, replay.reproduced, try modelValues(state, placed))
  }

  /// A counterexample's platform as the spec boots it: the model's
  /// platform words and, when coloured, the frames the boot gave each
  /// domain (GFN of each frame).
  struct RealizedPlatform {
    var concrete: MatrixPlatform<UInt64>
    var dom0Frames: [UInt64: UInt64] = [:]
    var guestFrames: [UInt64: UInt64] = [:]
  }

  /// The model with its platform booted: on a coloured platform the
  /// proof's placement is any frame of the domain's colours, so the model
  /// is narrowed to the frames the spec's allocator really gives on that
  /// platform — first keeping every minimized value, then only the
  /// platform. `concrete` is the model's platform, already read off it.
  /// Nil when no such model exists.
  static func realize(
    _ model: Model, platform concrete: MatrixPlatform<UInt64>, state: SymbolicDMAState, session: ProofSession, pinned: [SymbolicWord]
  ) throws -> (Model, RealizedPlatform)? {
    var platform = RealizedPlatform(concrete: concrete)
    guard state.layout == .coloured else { return (model, platform) }
    (platform.dom0Frames, platform.guestFrames) = try concrete.boot()
    let count = UInt64(1) << concrete.colourBits
    func oneOf(_ runs: ColourRuns, _ frame: SymbolicWord) -> SymbolicBool {
      runs.runs.reduce(frame.condition(false)) { any, run in
        any || (frame >= run.first && frame <= run.last && frame & (count - 1) == run.first & (count - 1))
      }
    }
    let dom0Runs = ColourRuns(platform.dom0Frames.keys, colourCount: count)
    let guestRuns = ColourRuns(platform.guestFrames.keys, colourCount: count)
    var placement: [SymbolicBool] = []
    for read in state.colouredReads { placement.append(state.platform.inDom0(read.gfn).implies(oneOf(dom0Runs, read.mfn))) }
    for frame in state.guestFrames + state.steps.map(\.guestFrame) { placement.append(oneOf(guestRuns, frame)) }
    let platformPins = try state.platform.words.map { $0.word == (try model.value(of: $0.word.term)) }
    let allPins = try pinned.map { $0 == (try model.value(of: $0.term)) }
    for pins in [allPins, platformPins] {
      if let placed = try session.refine(with: pins + platformPins + placement) { return (placed, platform) }
    }
    return nil
  }

  /// Small, round values first (Alive2's counterexample minimization): the
  /// reference platform's values (small enough to boot quickly), then
  /// offset 0, a whole page, the lowest pages.
  static func minimizationOrder(_ state: SymbolicDMAState) -> [(SymbolicWord, [UInt64])] {
    let reference = MatrixPlatform<UInt64>.reference(state.layout)
    let platform = state.platform
    // The reference platform's bounds first (whichever of them the failure
    // allows), then small sizes, so that the platform stays quick to boot.
    var order: [(SymbolicWord, [UInt64])] = [
      (platform.ipaBits, [reference.ipaBits, 48, 32]),
      (platform.ram[0].start, [reference.ram[0].start, 0x80000, 0x100000]),
      (platform.ram[0].end, [reference.ram[0].end, reference.ram[0].start + 0x1000]),
      (platform.ram[1].start, [0, 0x100000, 0x800000]),
      (platform.ram[1].end, [0, 0x101000, 0x801000]),
      (platform.dom0Ends[0], [reference.dom0Ends[0], reference.ram[0].end]),
      (platform.dom0Ends[1], [0]),
      (platform.poolStart, [reference.poolStart]),
      (platform.extendedRegion.start, [reference.extendedRegion.start, 0x100000, 0x200000]),
      (platform.extendedRegion.end, [reference.extendedRegion.end]),
      (platform.guestHostFrames.start, [reference.guestHostFrames.start]),
      (platform.guestHostFrames.end, [reference.guestHostFrames.end]),
      (platform.guestGFNs.start, [reference.guestGFNs.start, 0x100]),
      (platform.guestGFNs.end, [reference.guestGFNs.end, 0x200]),
      (platform.colourBits, [reference.colourBits, 1, 2, 3]),
      (platform.dom0Colours, [reference.dom0Colours, 1, 0xF]),
      (platform.guestColours, [reference.guestColours, 2, 0xF0]),
    ]
    let pageBase = state.page == .local ? reference.ram[0].start : reference.extendedRegion.start
    // No history operation unless the failure needs one.
    order += state.steps.map { ($0.operation, [0]) } + [
      (state.offset, [0, 0x800, 0x100]),
      (state.size, state.shape == .onePage ? [0x1000, 0x800, 0x100, 1] : [0x2000, 0x1800, 0x1001]),
      (state.bufferPage, [pageBase, pageBase + 1, pageBase + 0x10]),
      (state.coherent, [0]), (state.hypercallCacheFlush, [1]), (state.maskBits, [64, 32, 40]),
    ]
    for (frame, gfn) in zip(state.guestFrames, state.guestGFNs) where state.layout == .direct {
      order += [(frame, [reference.guestHost, reference.guestHost + 8]), (gfn, [reference.guestBase, reference.guestBase + 8])]
    }
    return order
  }

  static func modelValues(_ state: SymbolicDMAState, _ model: Model) throws -> [String: UInt64] {
    var values = [
      "buffer_address": try model.value(of: state.bufferAddress.term),
      "size": try model.value(of: state.size.term),
      "coherent": try model.value(of: state.coherent.term),
      "dma_mask_bits": try model.value(of: state.maskBits.term),
      "hypercall_cflush": try model.value(of: state.hypercallCacheFlush.term),
    ]
    for (k, frame) in state.guestFrames.enumerated() { values["guest_mfn\(k)"] = try model.value(of: frame.term) }
    for (name, word) in state.platform.words { values["platform_\(name)"] = try model.value(of: word.term) }
    return values
  }

  /// The counterexample as a scenario on the platform the model chose:
  /// the state (``stateLines(_:state:model:platform:)``), then the DMA.
  static func counterexampleScenario(
    _ cell: MatrixCell, property: DMAProperty, state: SymbolicDMAState, model: Model, platform: RealizedPlatform,
    theorem: String = "dma.matrix"
  ) throws -> String {
    let address = try model.value(of: state.bufferAddress.term)
    let size = try model.value(of: state.size.term)
    let lines = ["scenario \"\(theorem) \(cell): \(property.rawValue) refuted\""]
      + (try stateLines(cell, state: state, model: model, platform: platform))
      + ["dma dev from-device \(hex(address)) \(ScenarioPrinter.sizeText(size))"]
    return lines.joined(separator: "\n") + "\n"
  }

  /// The model's state as scenario lines, without a title or a DMA: that
  /// platform, the coloured dom0 pages the model fixed (as raw p2m entries
  /// with the model's frames), the history and the grant or foreign
  /// mappings of the buffer's pages.
  static func stateLines(_ cell: MatrixCell, state: SymbolicDMAState, model: Model, platform: RealizedPlatform) throws -> [String] {
    var lines: [String] = []
    lines.append(
      platform.concrete.prefix(
        policy: cell.policy, device: cell.device, version: state.version,
        coherent: try model.value(of: state.coherent.term) == 1, maskBits: Int(try model.value(of: state.maskBits.term)),
        hypercallCacheFlush: try model.value(of: state.hypercallCacheFlush.term) == 1
      ).trimmingTrailingNewline)
    if state.layout == .coloured {
      var pinned = Set<UInt64>()
      for read in state.colouredReads {
        let gfn = try model.value(of: read.gfn.term)
        guard platform.concrete.inDom0(gfn), pinned.insert(gfn).inserted else { continue }
        let mfn = try model.value(of: read.mfn.term)
        lines.append("p2m dom0 map \(hex(gfn << pageShift)) \(hex(mfn << pageShift)) ram_rw")
      }
    }
    let bufferPage = try model.value(of: state.bufferPage.term)
    // The guest page of a frame: the model's GFN for it. On the coloured
    // platform the allocator put the frame at some GFN of its own; when the
    // model chose another, a raw p2m line gives the guest that mapping too.
    var pinned = Set<UInt64>()
    func guestGFN(_ gfnTerm: SymbolicWord, frame: SymbolicWord) throws -> UInt64 {
      let mfn = try model.value(of: frame.term)
      let gfn = try model.value(of: gfnTerm.term)
      let allocated: UInt64
      switch cell.layout {
      case .direct:
        let guest = platform.concrete
        guard guest.guestHostFrames.contains(mfn) else {
          throw MatrixError.platform("\(cell): the model's guest frame \(hex(mfn)) is outside the guest's memory")
        }
        allocated = guest.guestBase + (mfn - guest.guestHost)
      case .coloured:
        guard let frame = platform.guestFrames[mfn] else {
          throw MatrixError.platform("the model's guest frame \(hex(mfn)) is not one the allocator gave the guest")
        }
        allocated = frame
      }
      // The model may have the guest hold the frame at another GFN: a raw
      // p2m line gives the guest that mapping too.
      if allocated != gfn, pinned.insert(gfn).inserted {
        lines.append("p2m guest map \(hex(gfn << pageShift)) \(hex(mfn << pageShift)) ram_rw")
      }
      return gfn
    }
    // The history's operations, as the model chose them: grant maps and
    // foreign maps that an unmap names, and only those, are live when it
    // runs (an unmap of anything else changes nothing in the model).
    var liveGrants = Set<Int>()
    var liveForeign = Set<Int>()
    func historyLines(_ range: Range<Int>) throws -> [String] {
      var lines: [String] = []
      for i in range {
        let step = state.steps[i]
        let host = hex(try model.value(of: step.hostGFN.term) << pageShift)
        switch try model.value(of: step.operation.term) {
        case 1:
          let access = try model.value(of: step.writable.term) == 1 ? "rw" : "ro"
          let gfn = try guestGFN(step.guestGFN, frame: step.guestFrame)
          lines.append("grant guest \(hex(gfn << pageShift)) to dom0 at \(host) \(access) as op\(i)")
          liveGrants.insert(i)
        case 2:
          let target = Int(try model.value(of: step.unmapTarget.term))
          if target < i, liveGrants.remove(target) != nil { lines.append("ungrant op\(target)") }
        case 3:
          let gfn = try guestGFN(step.guestGFN, frame: step.guestFrame)
          lines.append("foreign guest \(hex(gfn << pageShift)) into dom0 at \(host) as op\(i)")
          liveForeign.insert(i)
        case 4:
          let target = Int(try model.value(of: step.unmapTarget.term))
          if target < i, liveForeign.remove(target) != nil { lines.append("unforeign op\(target)") }
        default:
          break
        }
      }
      return lines
    }
    lines += try historyLines(0..<state.history.before)
    for (k, frame) in state.guestFrames.enumerated() {
      let host = hex((bufferPage + UInt64(k)) << pageShift)
      let gfn = hex(try guestGFN(state.guestGFNs[k], frame: frame) << pageShift)
      lines.append(
        cell.page == .grant
          ? "grant guest \(gfn) to dom0 at \(host) rw as page\(k)"
          : "foreign guest \(gfn) into dom0 at \(host) as page\(k)")
    }
    lines += try historyLines(state.history.before..<state.history.length)
    return lines
  }

  /// Runs the scenario on the concrete specification and says whether the
  /// DMA fails `property` there too.
  static func replayScenario(
    _ text: String, property: DMAProperty
  ) throws -> (reproduced: Bool, reason: String) {
    let report = try ScenarioRunner.run(try ScenarioParser.parse(text))
    guard let dma = report.steps.last?.dma else {
      return (false, "replay: the DMA was refused: \(report.steps.last?.result ?? "no step")")
    }
    let verdict: DMAVerdict
    switch property {
    case .integrity: verdict = dma.integrity
    case .isolation: verdict = dma.isolation
    case .liveness: verdict = dma.liveness
    }
    let address = dma.dmaAddress.map { " at \(hex($0))" } ?? ""
    return (!verdict.holds, "\(dma.outcome.rawValue) via \(dma.path.rawValue) (\(dma.mapping.rawValue))\(address): \(verdict.reason)")
  }
}

extension String {
  var trimmingTrailingNewline: String { hasSuffix("\n") ? String(dropLast()) : self }
}
