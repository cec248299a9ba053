import FuzzCore
import Spec
import Testing

/// Oracle (b): scenario expectations, and the built-in direct-mapped rule
/// with each of its hypotheses (``DMAProperties``).
@Suite("DMA property oracle")
struct DMAPropertyOracleTests {
  static func scenario(_ operations: [String], on configuration: FuzzConfiguration = FuzzConfiguration()) throws -> Scenario {
    try parse((configuration.platform.map(ScenarioPrinter.line(for:)) + operations).joined(separator: "\n"))
  }

  @Test("an unmet expectation is a dma-property/expectation failure naming both outcomes")
  func unmetExpectation() throws {
    let result = ScenarioChecker().check(try Self.scenario(["dma nic to-device 0x40000000 0x40 expect corruption"]))
    let failure = try #require(result.failure)
    #expect(failure.signature == FuzzFailure.Signature(oracle: .dmaProperty, property: "expectation", operation: "dma"))
    #expect(failure.detail.hasPrefix("expected corruption, got ok"))
    #expect(ScenarioChecker().check(try Self.scenario(["dma nic to-device 0x40000000 0x40 expect ok"])).passed)
  }

  /// The spec state after `operations`, and whether the rule covers `dma`.
  static func applies(_ operations: [String], on configuration: FuzzConfiguration = FuzzConfiguration(), dma: DMARequest) throws -> Bool {
    var execution = ScenarioExecution()
    var raw = false
    for statement in try scenario(operations, on: configuration).statements {
      if case .p2mMap = statement.kind { raw = true }
      _ = try execution.execute(statement)
    }
    return DMAProperties.ruleApplies(to: dma, spec: execution, rawP2MUpdates: raw)
  }

  static let grant = "grant guest 0x80001000 to dom0 at 0x50000000 ro as g0"
  static func read(_ address: UInt64, by device: String = "nic") -> DMARequest {
    DMARequest(device: device, buffer: address, size: 0x40, direction: .toDevice)
  }

  @Test("the rule covers dom0 RAM, grant and foreign pages on the default platform, and holds there")
  func covers() throws {
    #expect(try Self.applies([], dma: Self.read(0x4000_0000)))
    #expect(try Self.applies([Self.grant], dma: Self.read(0x5000_0000)))
    #expect(try Self.applies(["foreign guest 0x80002000 into dom0 at 0x50001000 as f0"], dma: Self.read(0x5000_1000)))
    for policy in DMAPolicy.allCases {
      var configuration = FuzzConfiguration()
      configuration.policy = policy
      let result = ScenarioChecker().check(try Self.scenario([
        Self.grant, "dma nic to-device 0x50000000 0x40", "dma gpu from-device 0x40000ff0 0x40",
      ], on: configuration))
      #expect(result.passed, "\(policy): \(result.trace)")
    }
  }

  @Test("each hypothesis is needed to apply the rule")
  func hypotheses() throws {
    var old = FuzzConfiguration()
    old.xen = XenVersion(name: "4.14")!
    #expect(try !Self.applies([Self.grant], on: old, dma: Self.read(0x5000_0000)), "Xen 4.14 predates 04085ec1ac")
    var coloured = FuzzConfiguration()
    coloured.coloured = true
    #expect(try !Self.applies([], on: coloured, dma: Self.read(0x4000_0000)), "a coloured dom0 is not direct-mapped")
    var mmc = FuzzConfiguration()
    mmc.untranslatedMMC = true
    #expect(try !Self.applies([], on: mmc, dma: Self.read(0x4000_0000)), "a device outside the SMMU")
    #expect(try !Self.applies(["detach gpu"], dma: Self.read(0x4000_0000)), "a detached device")
    #expect(try !Self.applies(["p2m dom0 map 0x40001000 0x40c00000 ram_rw"], dma: Self.read(0x4000_0000)), "a raw p2m update")
    #expect(try !Self.applies([Self.grant], dma: DMARequest(device: "nic", buffer: 0x5000_0000, size: 0x40, direction: .fromDevice)),
            "a device writing a read-only grant")
    #expect(try !Self.applies([], dma: Self.read(0x5000_3000)), "an unmapped buffer page")
    let selfAliasing = ["grant guest 0x80001000 to dom0 at 0x50001000 rw as g0", "foreign guest 0x80001000 into dom0 at 0x50002000 as f0"]
    #expect(try !Self.applies(selfAliasing, dma: DMARequest(device: "nic", buffer: 0x5000_1000, size: 0x2000, direction: .fromDevice)),
            "a device writing a buffer whose pages alias one frame")
    #expect(try Self.applies(selfAliasing, dma: DMARequest(device: "nic", buffer: 0x5000_1000, size: 0x2000, direction: .toDevice)),
            "reading such a buffer is fine")
  }

  @Test("outside the rule a DMA may legitimately fail: Xen 4.14's grant DMA through swiotlb-xen faults (before 04085ec1ac)")
  func outsideTheRule() throws {
    var old = FuzzConfiguration()
    old.xen = XenVersion(name: "4.14")!
    let scenario = try Self.scenario([Self.grant, "dma nic to-device 0x50000000 0x40"], on: old)
    #expect(try ScenarioRunner.run(scenario).steps.last?.dma?.outcome == .fault)
    #expect(ScenarioChecker().check(scenario).passed)
  }

  @Test("a grant at a GFN equal to another grant's MFN displaces its 1:1 entry: excluded from the rule (found by the search)")
  func mappedOverForeignRAM() throws {
    let scenario = try Self.scenario([
      "grant guest 0x80001000 to dom0 at 0x50001000 rw as g0", "grant guest 0x80000000 to dom0 at 0x40801000 rw as g1",
      "dma nic to-device 0x50001000 0x40",
    ])
    #expect(try ScenarioRunner.run(scenario).steps.last?.dma?.outcome == .corruption)
    #expect(ScenarioChecker().check(scenario).passed)
  }

  @Test("a foreign map over a live grant leaves Linux's grant tree stale: excluded from the rule (found by fuzzing)")
  func aliasedGFN() throws {
    let scenario = try Self.scenario([
      "grant guest 0x80002000 to dom0 at 0x50002000 ro as g0", "foreign guest 0x80004000 into dom0 at 0x50002000 as f0",
      "dma gpu to-device 0x50002800 0x40",
    ])
    #expect(try ScenarioRunner.run(scenario).steps.last?.dma?.outcome == .corruption)
    #expect(ScenarioChecker().check(scenario).passed)
  }
}
