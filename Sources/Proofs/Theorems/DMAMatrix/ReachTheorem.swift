import Claims
import Foundation
import Scenario
import Spec
import Solver
import SymbolicWord

/// `dma.reach`: after any history of Xen's grant and foreign operations,
/// every entry of dom0's p2m — which its attached devices reach through
/// the SMMU — is covered by a right (``deviceReachCovered(_:at:maps:ownsRAM:ownedByAnother:)``,
/// the rule the fuzzer's reach oracle asks of every concrete state).
///
/// The state is the DMA matrix's (``SymbolicDMAState``): dom0's boot
/// layout, then `historyLength` operations, each any of a grant map
/// (read-only or writable), a grant unmap of an earlier map, a foreign map
/// or its removal, of any guest page at any extended-region GFN, run by
/// the spec's own operations over a ``SymbolicXenWorld``. The entry is
/// dom0's at a symbolic GFN, so the claim covers every GFN. dom0's own
/// RAM is its boot entry (no operation writes a RAM type); a foreign frame
/// is a right when the guest owns it. A refutation is replayed: the
/// history, on the model's platform, run by the scenario runner, and the
/// concrete rule asked of the model's GFN.
///
/// Scope: the reference platform (as `dma.matrix`), Xen 4.21, dom0
/// direct-mapped or coloured, one guest; not domUs' own devices, raw p2m
/// writes, or histories longer than `historyLength`.
enum ReachTheorem {
  static let historyLength = 3

  static func theorem(historyLength: Int = historyLength) -> Theorem {
    Theorem(
      name: "dma.reach",
      summary: "every entry of dom0's p2m, which its devices reach through the SMMU, is covered by a right after any history of "
        + "\(historyLength) grant/foreign operations, at every GFN. Scope: the reference platform, Xen \(XenVersion.latest.name), "
        + "direct-mapped and coloured dom0, one guest, any guest page and extended-region GFN per operation; not domUs' devices, "
        + "raw p2m writes or longer histories",
      timeout: .seconds(60)
    ) { session in
      try MatrixCell.Layout.allCases.map { layout in try decide(session: session, layout: layout, historyLength: historyLength) }
    }
  }

  static func decide(session: ProofSession, layout: MatrixCell.Layout, historyLength: Int) throws -> Finding {
    let state = try SymbolicDMAState(
      session: session, layout: layout, page: .local, shape: .onePage, version: .latest,
      history: SymbolicDMAState.History(before: historyLength, after: 0))
    let gfn = try session.word("reach_gfn")
    let slot = state.xenWorld.p2mEntry(of: .dom0, at: gfn)
    let boot = state.bootEntry(gfn)
    let covered = deviceReachCovered(
      slot, at: gfn, maps: state.xenWorld.dom0Maptrack, ownsRAM: boot.isValid && slot.mfn == boot.mfn,
      ownedByAnother: state.guestOwns(slot.mfn))
    // The hypotheses after every read of the boot layout (a coloured
    // read adds a placement fact).
    return try session.decide(
      "dma.reach[\(layout.rawValue)]", claim: covered, hypotheses: try state.hypotheses(), freshSolvers: true
    ) { model in
      try replay(model, state: state, gfn: gfn, session: session)
    }
  }

  /// The counterexample as a scenario on its platform (the matrix's
  /// minimization and placement), run by the runner; reproduced when the
  /// concrete rule finds dom0's entry at the model's GFN uncovered.
  static func replay(_ model: Model, state: SymbolicDMAState, gfn: SymbolicWord, session: ProofSession) throws
    -> (reason: String, scenario: String?, replayed: Bool?, values: [String: UInt64]) {
    let small = try session.minimize(model, variables: DMAMatrixTheorem.minimizationOrder(state))
    let chosen = try state.platform.map { try small.value(of: $0.term) }
    guard let (placed, platform) = try DMAMatrixTheorem.realize(small, platform: chosen, state: state, session: session, pinned: []) else {
      return ("the counterexample needs frames the coloured allocator does not give on its platform (\(chosen.summary)); not replayed", nil, false, [:])
    }
    let page = try placed.value(of: gfn.term)
    let cell = MatrixCell(policy: .legacy, layout: state.layout, device: .attached, page: .local, shape: .onePage, xen: .after)
    let scenario = (["scenario \"dma.reach[\(state.layout.rawValue)]: dom0 gfn \(hex(page)) refuted\""]
      + (try DMAMatrixTheorem.stateLines(cell, state: state, model: placed, platform: platform))).joined(separator: "\n") + "\n"
    var values = try DMAMatrixTheorem.modelValues(state, placed)
    values["reach_gfn"] = page
    var execution = ScenarioExecution()
    do {
      for statement in try ScenarioParser.parse(scenario).statements { _ = try execution.execute(statement) }
    } catch {
      return ("the replay stopped: \(error)", scenario, false, values)
    }
    guard let xen = execution.xen, let entry = xen.domains[.dom0]?.p2m.lookup(GFN(page)) else {
      return ("the replay left dom0 gfn \(hex(page)) unmapped: not reproduced", scenario, false, values)
    }
    let covered = xen.deviceRights(of: .dom0).covers(entry, at: GFN(page))
    return (
      "dom0 gfn \(hex(page)) → \(entry.mfn) \(entry.type) \(covered ? "is covered in the replay: not reproduced" : "has no right behind it in the replay")"
        + " [platform: \(platform.concrete.summary)]",
      scenario, !covered, values)
  }
}
