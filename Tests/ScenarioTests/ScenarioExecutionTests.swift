import Scenario
import Spec
import Testing

@Suite("Scenario execution")
struct ScenarioExecutionTests {
  /// Successful and refused DMAs, a grant and its unmap, raw p2m updates
  /// (one beyond the IPA size, refused).
  static let scenario = ScenarioRunnerTests.platform + """

    dom0 direct-mapped memory 256M
    domu guest id 1 memory 0x50000000 16M base 0x40000000
    grant guest 0x40001000 to dom0 at 0x80000000 rw as g
    dma nic to-device 0x80000000 4K
    dma mmc from-device 0x41000000 8K
    dma nic to-device 0x7FFFF000 4K
    p2m dom0 map 0x90000000 0x60000000 ram_rw
    ungrant g
    p2m dom0 map 0x20000000000 0x60000000 ram_rw
    dma nic from-device 0x80000000 4K
    """

  func reports(describing: Bool) throws -> [StepReport] {
    var execution = ScenarioExecution()
    execution.describesSteps = describing
    return try ScenarioParser.parse(Self.scenario, file: "t.scn").statements.map { try execution.execute($0) }
  }

  /// The fuzzer runs without text (ScenarioChecker's lean mode) and its
  /// oracles read only the structured report and a refusal's text, so
  /// turning the text off must change nothing else.
  @Test("without step text, every report is the same but for the statement and a successful DMA's account")
  func textFreeReportsAgree() throws {
    let described = try reports(describing: true)
    let bare = try reports(describing: false)
    #expect(described.count == bare.count)
    #expect(described.contains { $0.dma != nil } && described.contains { !$0.succeeded })
    for (full, lean) in zip(described, bare) {
      #expect(lean.statement.isEmpty && !full.statement.isEmpty)
      #expect(lean.dma == full.dma && lean.succeeded == full.succeeded && lean.expectationMet == full.expectationMet)
      if full.dma == nil { #expect(lean.result == full.result) } else { #expect(lean.result.isEmpty) }
    }
  }
}
