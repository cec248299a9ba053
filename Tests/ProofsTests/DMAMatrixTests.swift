import Claims
import Foundation
import Spec
import Testing

@testable import Proofs
@Suite("DMA matrix")
struct DMAMatrixTests {
  /// The cell's findings, with `bugs` seeded in the proof and its replay.
  func decide(_ name: String, seeding bugs: [SeededBug] = []) throws -> [DMAProperty: Finding] {
    let cell = try #require(MatrixCell(name: name))
    let session = try ProofSession(timeout: .seconds(10), seed: 1, dumpDirectory: nil)
    let findings = try SeededBug.inject(bugs) { try DMAMatrixTheorem.decide(cell, session: session) }
    var byProperty: [DMAProperty: Finding] = [:]
    for (property, finding) in zip(DMAProperty.allCases, findings) { byProperty[property] = finding }
    return byProperty
  }

  /// §3.6 row 2 and §8 `04085ec1ac`: with the fix, swiotlb-xen's MFN
  /// address for a grant translates through the 1:1 entry.
  @Test("legacy, direct-mapped, attached, grant: proved after the fix, a replayed fault before it")
  func grantAroundTheFix() throws {
    let after = try decide("legacy/direct-mapped/attached/grant/one-page/after-fix")
    #expect(after.values.allSatisfy { $0.verdict == .proved }, "\(after)")
    let before = try decide("legacy/direct-mapped/attached/grant/one-page/before-fix")
    #expect(before[.liveness]?.verdict == .refuted)
    #expect(before[.liveness]?.replayed == true)
    #expect(before[.isolation]?.verdict == .proved)
    let scenario = try #require(before[.liveness]?.counterexample)
    #expect(scenario.contains("\ngrant guest 0x1000") && scenario.contains("\ndma dev from-device 0x8000"))
  }

  /// §3.6 rows 5–6, Julien's objection: a master outside the SMMU gets the
  /// GFN and writes the wrong machine page.
  @Test("global flag, coloured dom0, device outside the SMMU: silent corruption, replayed")
  func julienObjection() throws {
    let findings = try decide("global-flag/coloured/not-behind-smmu/local/one-page/after-fix")
    #expect(findings[.liveness]?.verdict == .proved)
    #expect(findings[.isolation]?.verdict == .refuted)
    #expect(findings[.integrity]?.reason.hasPrefix("corruption") == true)
    #expect(findings.values.filter { $0.verdict == .refuted }.allSatisfy { $0.replayed == true })
  }

  @Test("colouring before Xen 4.20 is n/a, never proved")
  func inapplicable() throws {
    let findings = try decide("legacy/coloured/attached/local/one-page/before-fix")
    #expect(findings.values.allSatisfy { $0.verdict == .inapplicable })
  }

  /// Each mutant breaks the spec's own DMA path, which the proof runs: Z3
  /// must refute a cell it otherwise proves, and the counterexample must
  /// replay on the same broken spec.
  @Test(
    "a deliberately broken spec DMA path is refuted by Z3, and the refutation replays",
    arguments: [
      (SeededBug.treeMissReturnsZero, "legacy/direct-mapped/attached/local/one-page/after-fix"),
      (.straddleNeverChecked, "legacy/direct-mapped/attached/grant/straddling/after-fix"),
      (.bounceSlotOnePageOff, "legacy/direct-mapped/attached/grant/straddling/after-fix"),
    ])
  func specMutants(bug: SeededBug, cell: String) throws {
    #expect(try decide(cell).values.allSatisfy { $0.verdict == .proved })
    let broken = try decide(cell, seeding: [bug])
    let refuted = broken.values.filter { $0.verdict == .refuted }
    #expect(!refuted.isEmpty, "\(bug) was not caught in \(cell)")
    #expect(refuted.allSatisfy { $0.replayed == true }, "\(broken)")
  }

  /// Xen's own grant operations build dom0's p2m in the proof: a bug there
  /// (the 1:1 entry made at the granter's GFN instead of the MFN, so
  /// swiotlb-xen's MFN address has no entry) is refuted by Z3, and the
  /// counterexample replays on the same broken Xen.
  @Test(
    "a deliberately broken Xen grant operation is refuted by Z3, and the refutation replays",
    arguments: [
      (SeededBug.oneToOneAtGFN, "legacy/direct-mapped/attached/grant/one-page/after-fix"),
      // Only a history shows this one: a read-only map of the frame before
      // the buffer's writable one leaves the 1:1 entry read-only.
      (.grantRWAfterRONotUpgraded, "legacy/direct-mapped/attached/grant/one-page/after-fix"),
    ])
  func xenMutants(bug: SeededBug, cell: String) throws {
    #expect(try decide(cell).values.allSatisfy { $0.verdict == .proved })
    let broken = try decide(cell, seeding: [bug])
    let refuted = broken.values.filter { $0.verdict == .refuted }
    #expect(!refuted.isEmpty, "\(bug) was not caught in \(cell)")
    #expect(refuted.allSatisfy { $0.replayed == true }, "\(broken)")
  }

  @Test("a refutation that needs a history shows it in the replayed scenario")
  func historyInCounterexample() throws {
    let broken = try decide("legacy/direct-mapped/attached/grant/one-page/after-fix", seeding: [.grantRWAfterRONotUpgraded])
    let refuted = try #require(broken.values.first { $0.verdict == .refuted })
    let scenario = try #require(refuted.counterexample)
    #expect(scenario.contains(" ro as op"), "\(scenario)")
    #expect(refuted.replayed == true)
  }

  /// The history's foreign unmap is the spec's `XENMEM_remove_from_physmap`:
  /// after a foreign map and its unmap the dom0 page is empty in every
  /// model, and the hypotheses admit that history.
  @Test("a history's foreign unmap removes the earlier foreign map, and the hypotheses admit it")
  func foreignUnmapInHistory() throws {
    let session = try ProofSession(timeout: .seconds(10), seed: 1, dumpDirectory: nil)
    let state = try SymbolicDMAState(
      session: session, layout: .direct, page: .foreign, shape: .onePage, version: try #require(XenVersion(name: "4.20")))
    let history = [state.steps[0].operation == 3, state.steps[1].operation == 4, state.steps[1].unmapTarget == 0]
    let entry = state.xenWorld.p2mEntry(of: .dom0, at: state.steps[0].hostGFN)
    let hypotheses = try state.hypotheses()
    #expect(try session.isSatisfiable(hypotheses + history))
    #expect(try !session.isSatisfiable(hypotheses + history + [entry.isValid]))
  }

  @Test("every cell name parses back")
  func cellNames() {
    #expect(MatrixCell.all.count == 288)
    #expect(MatrixCell.all.allSatisfy { MatrixCell(name: $0.description) == $0 })
    #expect(MatrixCell(name: "legacy/direct-mapped/attached/grant/one-page") == nil)
  }
}
