import Claims
import Solver
import Spec
import SymbolicWord

/// `dma.matrix`: every cell of policy × dom0 layout × device × page kind ×
/// buffer shape × Xen, each property proved or refuted. A refutation
/// comes with the smallest values Z3 can find, written as a scenario on
/// ``MatrixPlatform`` and replayed on the concrete runner (which walks the
/// real descriptor tables): the finding says whether the failure
/// reproduced.
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

  static func theorem(name: String, cells: [MatrixCell]) -> Theorem {
    Theorem(
      name: name,
      summary: "integrity, isolation and liveness of dom0 DMA per layout, device, page kind, shape and Xen. "
        + "For all: buffer page, offset and size of the shape; guest frames and GFNs; a coloured dom0's frame placement; "
        + "device coherent or not, DMA mask 32-64 bits; cache-flush hypercall present or not; a history of 3 Xen "
        + "operations (2 before the buffer's maps, 1 after: none, grant map ro/rw, grant unmap, foreign map) run by the "
        + "spec's own grant code; every Xen release on the cell's side of 04085ec1ac (4.12-4.14, 4.15-4.21; coloured "
        + "4.20-4.21), decided once per distinct behaviour. Not over: platforms (one, MatrixPlatform), dom0 GFNs "
        + "reused by the history. Integrity is over addresses; the replay checks the data",
      // Each claim takes up to ~8 s alone on a 2-core machine (BENCHMARKS.md);
      // the cap leaves room for a loaded one, where a timeout is `unknown`.
      timeout: .seconds(40)
    ) { session in
      let platform = try MatrixPlatform()
      var findings: [Finding] = []
      for cell in cells { findings += try decide(cell, session: session, platform: platform) }
      return findings
    }
  }

  /// Decides a cell for every Xen release on its side of the fix
  /// (``MatrixCell/XenFix/releases``, or just `releases` when given): the
  /// releases are grouped by what the DMA sees of them — the DMA ops the
  /// policy picks with that release's feature flags, and its
  /// `gnttab_need_iommu_mapping()` — and each group is decided once on its
  /// latest release, since the formulas are then the same. A property is
  /// refuted when it is for some group (the counterexample names that
  /// release), unknown when undecided for one, and proved only for all.
  ///
  /// - Parameters:
  ///   - mutants: a deliberately broken spec DMA path, which the proof
  ///     runs (and the replay too).
  ///   - xenMutants: deliberately broken Xen grant operations, which build
  ///     dom0's p2m in the proof (and in the replay too).
  static func decide(
    _ cell: MatrixCell, session: ProofSession, platform: MatrixPlatform, mutants: DMAMutants = [],
    xenMutants: XenMutants = [], releases: [XenVersion]? = nil
  ) throws -> [Finding] {
    // Upstream colouring arrived in 4.20 (fact sheet §5), after the fix.
    let versions = (releases ?? cell.xen.releases).filter { cell.layout == .direct || $0.hasLLCColouring }
    guard !versions.isEmpty else {
      return DMAProperty.allCases.map {
        Finding(claim: cell.claimName($0), verdict: .inapplicable, reason: "LLC colouring needs Xen 4.20, which has the fix", seconds: 0)
      }
    }
    var groups: [(key: String, versions: [XenVersion])] = []
    for version in versions {
      let path = try MatrixRun.path(policy: cell.policy, device: cell.device, layout: cell.layout, version: version)
      let key = "\(path.rawValue)/\(version.grantIOMMUMapping.rawValue)"
      if let index = groups.firstIndex(where: { $0.key == key }) { groups[index].versions.append(version) } else { groups.append((key, [version])) }
    }
    let covered = versions.count == 1 ? "Xen \(versions[0].name)" : "Xen \(versions.first!.name)–\(versions.last!.name)"
    var byProperty: [[Finding]] = DMAProperty.allCases.map { _ in [] }
    for group in groups {
      let findings = try decide(cell, version: group.versions.last!, session: session, platform: platform, mutants: mutants, xenMutants: xenMutants)
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
    _ cell: MatrixCell, version: XenVersion, session: ProofSession, platform: MatrixPlatform, mutants: DMAMutants,
    xenMutants: XenMutants
  ) throws -> [Finding] {
    let state = try SymbolicDMAState(
      session: session, platform: platform, layout: cell.layout, page: cell.page, shape: cell.shape, version: version,
      xenMutants: xenMutants)
    let run = try MatrixRun(state: state, policy: cell.policy, device: cell.device, mutants: mutants)
    let hypotheses = try state.hypotheses()
    return try DMAProperty.allCases.map { property in
      var finding = try session.decide(cell.claimName(property), claim: run.property(property), hypotheses: hypotheses) { model in
        // An integrity failure may be a fault or a silent wrong page; show
        // the silent one when it exists, since that is the dangerous case.
        var model = model
        var silent = false
        if property == .integrity {
          try session.solver.push()
          try session.solver.assert(run.liveness.term)
          if case .sat(let corrupting) = try session.solver.check() {
            model = corrupting
            silent = true
          } else {
            try session.solver.pop()
          }
        }
        defer { if silent { try? session.solver.pop() } }
        let small = try session.minimize(model, variables: minimizationOrder(state))
        let values = try modelValues(state, small)
        let scenario = try counterexampleScenario(cell, property: property, state: state, model: small)
        let replay = try replayScenario(scenario, property: property, mutants: mutants, xenMutants: xenMutants)
        return (replay.reason, scenario, replay.reproduced, values)
      }
      if finding.verdict == .refuted { finding.reason += " (Xen \(version.name))" }
      return finding
    }
  }

  /// Small, round values first (Alive2's counterexample minimization):
  /// offset 0, a whole page, the lowest pages.
  static func minimizationOrder(_ state: SymbolicDMAState) -> [(SymbolicWord, [UInt64])] {
    let pageBase = state.page == .local ? MatrixPlatform.ramStart : MatrixPlatform.extendedRegion
    // No history operation unless the failure needs one.
    var order: [(SymbolicWord, [UInt64])] = state.steps.map { ($0.operation, [0]) } + [
      (state.offset, [0, 0x800, 0x100]),
      (state.size, state.shape == .onePage ? [0x1000, 0x800, 0x100, 1] : [0x2000, 0x1800, 0x1001]),
      (state.bufferPage, [pageBase, pageBase + 1, pageBase + 0x10]),
      (state.coherent, [0]), (state.hypercallCacheFlush, [1]), (state.maskBits, [64, 32, 40]),
    ]
    for frame in state.guestFrames {
      let low = state.layout == .direct ? MatrixPlatform.guestStart : state.platform.colouredGuest.lowest
      let high = state.layout == .direct ? MatrixPlatform.guestStart + MatrixPlatform.guestPages - 1 : state.platform.colouredGuest.highest
      order.append((frame, [low, low + 8, high, high - 8]))
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
    return values
  }

  /// The counterexample as a scenario on the matrix platform: the cell's
  /// platform, the coloured dom0 pages the model fixed (as raw p2m entries
  /// with the model's frames), the grant or foreign mappings, and the DMA.
  static func counterexampleScenario(_ cell: MatrixCell, property: DMAProperty, state: SymbolicDMAState, model: Model) throws -> String {
    var lines = ["scenario \"dma.matrix \(cell): \(property.rawValue) refuted\""]
    lines.append(
      MatrixPlatform.prefix(
        policy: cell.policy, layout: cell.layout, device: cell.device, version: state.version,
        coherent: try model.value(of: state.coherent.term) == 1, maskBits: Int(try model.value(of: state.maskBits.term)),
        hypercallCacheFlush: try model.value(of: state.hypercallCacheFlush.term) == 1
      ).trimmingTrailingNewline)
    if let map = state.colouredMap {
      var pinned = Set<UInt64>()
      for point in state.colouredPoints {
        let gfn = try model.value(of: point.term)
        guard state.platform.dom0Range.contains(gfn), pinned.insert(gfn).inserted else { continue }
        let mfn = try model.value(of: try map.select(point.term))
        lines.append("p2m dom0 map \(hex(gfn << 12)) \(hex(mfn << 12)) ram_rw")
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
      switch cell.layout {
      case .direct:
        guard (MatrixPlatform.guestStart..<(MatrixPlatform.guestStart + MatrixPlatform.guestPages)).contains(mfn) else {
          throw MatrixError.platform("\(cell): the model's guest frame \(hex(mfn)) is outside the guest's memory")
        }
        return MatrixPlatform.guestBase + (mfn - MatrixPlatform.guestStart)
      case .coloured:
        guard let allocated = state.platform.colouredGuest.gfnOfFrame[mfn] else {
          throw MatrixError.platform("the model's guest frame \(hex(mfn)) is not one the allocator gave the guest")
        }
        if allocated != gfn, pinned.insert(gfn).inserted {
          lines.append("p2m guest map \(hex(gfn << 12)) \(hex(mfn << 12)) ram_rw")
        }
        return allocated == gfn ? allocated : gfn
      }
    }
    // The history's operations, as the model chose them: grant maps that
    // an unmap names, and only those, are live when it runs.
    var liveGrants = Set<Int>()
    func historyLines(_ range: Range<Int>) throws -> [String] {
      var lines: [String] = []
      for i in range {
        let step = state.steps[i]
        let host = hex(try model.value(of: step.hostGFN.term) << 12)
        switch try model.value(of: step.operation.term) {
        case 1:
          let access = try model.value(of: step.writable.term) == 1 ? "rw" : "ro"
          let gfn = try guestGFN(step.guestGFN, frame: step.guestFrame)
          lines.append("grant guest \(hex(gfn << 12)) to dom0 at \(host) \(access) as op\(i)")
          liveGrants.insert(i)
        case 2:
          let target = Int(try model.value(of: step.unmapTarget.term))
          if target < i, liveGrants.remove(target) != nil { lines.append("ungrant op\(target)") }
        case 3:
          let gfn = try guestGFN(step.guestGFN, frame: step.guestFrame)
          lines.append("foreign guest \(hex(gfn << 12)) into dom0 at \(host) as op\(i)")
        default:
          break
        }
      }
      return lines
    }
    lines += try historyLines(0..<state.history.before)
    for (k, frame) in state.guestFrames.enumerated() {
      let host = hex((bufferPage + UInt64(k)) << 12)
      let gfn = hex(try guestGFN(state.guestGFNs[k], frame: frame) << 12)
      lines.append(
        cell.page == .grant
          ? "grant guest \(gfn) to dom0 at \(host) rw as page\(k)"
          : "foreign guest \(gfn) into dom0 at \(host) as page\(k)")
    }
    lines += try historyLines(state.history.before..<state.history.length)
    let address = try model.value(of: state.bufferAddress.term)
    let size = try model.value(of: state.size.term)
    lines.append("dma dev from-device \(hex(address)) \(ScenarioPrinter.sizeText(size))")
    return lines.joined(separator: "\n") + "\n"
  }

  /// Runs the scenario on the concrete specification and says whether the
  /// DMA fails `property` there too.
  static func replayScenario(
    _ text: String, property: DMAProperty, mutants: DMAMutants = [], xenMutants: XenMutants = []
  ) throws -> (reproduced: Bool, reason: String) {
    let report = try ScenarioRunner.run(try ScenarioParser.parse(text), dmaMutants: mutants, xenMutants: xenMutants)
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
