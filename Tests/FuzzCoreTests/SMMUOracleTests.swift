@testable import FuzzCore
import P2MImpl
import SMMUImpl
import Scenario
import Spec
import Testing

/// The SMMU side of the spec-versus-implementation oracle finds known
/// bugs put back into `XenSMMUPlatform`, each with the property that
/// should see it, and passes the real implementation on the same
/// scenarios.
@Suite("SMMU differential oracle")
struct SMMUOracleTests {
  static func scenario(_ operations: [String], _ configuration: FuzzConfiguration = FuzzConfiguration()) throws -> Scenario {
    try parse((configuration.platform.map(ScenarioPrinter.line(for:)) + operations).joined(separator: "\n"))
  }

  static var twoSMMUs: FuzzConfiguration {
    var configuration = FuzzConfiguration()
    configuration.gpuBehindSecondSMMU = true
    return configuration
  }

  /// A grant DMAed through its 1:1 entry, then unmapped: Xen flushes the
  /// IOTLB at the unmap (`9ed527dc95`), the mutant does not.
  static let grantDMAUngrant = [
    "grant guest 0x80001000 to dom0 at 0x50000000 rw as g0", "dma nic from-device 0x50000000 0x40", "ungrant g0",
  ]

  @Test("an IOTLB never flushed keeps the ungranted page: iotlb-coherence at the ungrant", arguments: [ScenarioChecker.Mode.full, .lean])
  func ignoresFlush(mode: ScenarioChecker.Mode) throws {
    let checker = ScenarioChecker(mode: mode)
    let scenario = try Self.scenario(Self.grantDMAUngrant)
    let result = SeededBug.iotlbFlushIgnored.inject { checker.check(scenario) }
    let failure = try #require(result.failure)
    #expect(failure.signature == FuzzFailure.Signature(oracle: .smmu, property: "iotlb-coherence", operation: "ungrant"))
    #expect(failure.detail.hasPrefix("stale IOTLB entry: smmu0 vmid 1 page 0x40801: cached 0x40801000 rw L3, walk "), "\(failure.detail)")
    #expect(ScenarioChecker(mode: mode).check(try Self.scenario(Self.grantDMAUngrant)).passed)
  }

  @Test("a DMA through a stale IOTLB entry reaches the old frame: dma-report names both runs")
  func staleDMA() throws {
    // The remap's stale entry is only visible to the DMA comparison if
    // coherence is not checked first; the VMID mutant is such a case,
    // since each entry is coherent for its own VMID.
    let operations = ["dma nic to-device 0x40001000 0x40", "detach nic", "attach nic guest", "dma nic to-device 0x40001000 0x40"]
    let scenario = try Self.scenario(operations)
    let result = SeededBug.iotlbIgnoresVMID.inject { ScenarioChecker().check(scenario) }
    let failure = try #require(result.failure)
    #expect(failure.signature == FuzzFailure.Signature(oracle: .smmu, property: "dma-report", operation: "dma"))
    #expect(failure.stepIndex == FuzzConfiguration().platform.count + 3)
    #expect(failure.detail.contains("outcome: spec fault, impl ok"), "\(failure.detail)")
    #expect(ScenarioChecker().check(try Self.scenario(operations)).passed)
  }

  @Test("a flush reaching only the first SMMU leaves smmu1 stale, which only the two-SMMU platform shows")
  func firstSMMUOnly() throws {
    let operations = ["dma gpu to-device 0x40000000 0x40", "p2m dom0 map 0x40000000 0x40800000 ram_rw"]
    let checker = ScenarioChecker()
    let two = try Self.scenario(operations, Self.twoSMMUs), one = try Self.scenario(operations)
    try SeededBug.iotlbFlushFirstSMMUOnly.inject {
      let failure = try #require(checker.check(two).failure)
      #expect(failure.signature == FuzzFailure.Signature(oracle: .smmu, property: "iotlb-coherence", operation: "p2m map"))
      #expect(failure.detail.hasPrefix("stale IOTLB entry: smmu1 vmid 1 page 0x40000"), "\(failure.detail)")
      #expect(checker.check(one).passed, "with one SMMU the flush reaches the GPU's IOTLB")
    }
    #expect(ScenarioChecker().check(try Self.scenario(operations, Self.twoSMMUs)).passed)
  }

  @Test("attach to a domain and detach agree on every stream, on SMMUv2 and v3, with one or two SMMUs", arguments: [false, true])
  func streams(v3: Bool) throws {
    var configuration = Self.twoSMMUs
    configuration.undescribedDSP = true
    configuration.untranslatedMMC = true
    if v3 { configuration.smmuVersion = .v3 }
    let operations = [
      "attach dsp dom0", "attach mmc dom0", "detach nic", "attach nic guest", "detach gpu", "attach gpu guest",
      "dma nic to-device 0x40000000 0x40", "dma gpu from-device 0x40000ff0 12K", "detach gpu", "attach gpu dom0",
      "dma gpu from-device 0x40000ff0 12K", "dma mmc to-device 0x40000000 0x40",
    ]
    let result = ScenarioChecker().check(try Self.scenario(operations, configuration))
    #expect(result.passed, "\(result.trace)")
  }

  @Test("an implementation that lost an attachment behind the spec's back fails at the next stream check")
  func lostAttachment() throws {
    let platform = FuzzConfiguration().platform.map { Statement($0) }
    var execution = ScenarioExecution()
    let implementation = ImplementationState()
    var oracles: [any StepOracle] = [P2MDifferentialOracle(), SMMUDifferentialOracle()]
    func run(_ statement: Statement, index: Int) throws -> FuzzFailure? {
      for position in oracles.indices {
        oracles[position].prepare(StepContext(index: index, statement: statement, spec: execution, implementation: implementation))
      }
      let report = try execution.execute(statement)
      for position in oracles.indices {
        if let failure = oracles[position].check(StepContext(index: index, statement: statement, spec: execution, implementation: implementation), report: report) {
          return failure
        }
      }
      return nil
    }
    for (index, statement) in platform.enumerated() { #expect(try run(statement, index: index) == nil) }
    try implementation.platform?.detach("nic")
    let failure = try #require(try run(Statement(.attach(device: "gpu", domain: "dom0")), index: platform.count))
    #expect(failure.property == "stream")
    #expect(failure.detail == "nic stream 0x10 on smmu0: spec context d0 vmid 1, impl fault: S2CR 0 is FAULT")
  }

  @Test("an implementation whose memory lost a byte fails the memory comparison at the next DMA of that frame")
  func memory() throws {
    let platform = FuzzConfiguration().platform.map { Statement($0) }
    var execution = ScenarioExecution()
    let implementation = ImplementationState()
    var p2m = P2MDifferentialOracle()
    var smmu = SMMUDifferentialOracle()
    func run(_ statement: Statement, index: Int) throws -> FuzzFailure? {
      p2m.prepare(StepContext(index: index, statement: statement, spec: execution, implementation: implementation))
      smmu.prepare(StepContext(index: index, statement: statement, spec: execution, implementation: implementation))
      let report = try execution.execute(statement)
      let context = StepContext(index: index, statement: statement, spec: execution, implementation: implementation)
      return p2m.check(context, report: report) ?? smmu.check(context, report: report)
    }
    for (index, statement) in platform.enumerated() { #expect(try run(statement, index: index) == nil) }
    implementation.memory.setByte(0xAA, at: 0x4000_0800)
    let dma = Statement(.dma(DMAStatement(DMARequest(device: "nic", buffer: 0x4000_0000, size: 0x40, direction: .fromDevice))))
    let failure = try #require(try run(dma, index: platform.count))
    #expect(failure.property == "memory")
    #expect(failure.detail == "mfn 0x40000 byte 0x800: spec 0x0, impl 0xaa")
  }

  /// A grant DMAed by dma-direct at its host GFN, whose IPA bits 20:12
  /// (0x001) are not in the granted frame's (0x40802): the second DMA hits
  /// the IOTLB, where a fast path taking the offset at a 2 MiB block's
  /// width ORs them into the cached page.
  static let grantAtOddPage = [
    "grant guest 0x80002000 to dom0 at 0x50001000 rw as g0",
    "dma nic to-device 0x50001000 0x40", "dma nic to-device 0x50001000 0x40",
  ]

  @Test("a fast path that answers unlike the full one is its own failure, fast-path, with both answers; the real one passes",
        arguments: [SeededBug.fastPathBlockOffset])
  func fastPath(bug: SeededBug) throws {
    var configuration = FuzzConfiguration()
    configuration.policy = .globalFlag
    let scenario = try Self.scenario(Self.grantAtOddPage, configuration)
    #expect(ScenarioChecker().check(scenario).passed)
    let failure = try #require(bug.inject { ScenarioChecker().check(scenario) }.failure)
    #expect(failure.signature == FuzzFailure.Signature(oracle: .smmu, property: "fast-path", operation: "dma"))
    #expect(failure.detail.contains("0x40803000") && failure.detail.contains("0x40802000"), "\(failure.detail)")
  }

  @Test("the implementation's platform copy is independent: an input never sees another's IOTLB or p2m")
  func bootCacheIndependence() throws {
    let checker = ScenarioChecker()
    let dma = try Self.scenario(["dma nic from-device 0x40001000 0x40"])
    let map = try Self.scenario(["p2m dom0 map 0x40001000 0x40800000 ram_rw"])
    let both = try Self.scenario(["dma nic from-device 0x40001000 0x40", "p2m dom0 map 0x40001000 0x40800000 ram_rw"])
    SeededBug.iotlbFlushIgnored.inject {
      // The first input fills the IOTLB; the second, from the same cached
      // boot, must not find that entry.
      #expect(checker.check(dma).passed)
      #expect(checker.check(map).passed)
      #expect(checker.check(both).failure?.property == "iotlb-coherence")
    }
  }

  @Test("a fast path that ignores the VMID answers for another VMID's page only where they share a slot: a one-entry IOTLB")
  func fastPathVMIDNeedsSharedSlot() throws {
    var small = FuzzConfiguration()
    small.iotlbEntries = 1
    let operations = ["dma nic to-device 0x40001000 0x40", "detach gpu", "attach gpu guest", "dma gpu to-device 0x40001000 0x40"]
    let shared = try Self.scenario(operations, small), large = try Self.scenario(operations)
    try SeededBug.fastPathIgnoresVMID.inject {
      let failure = try #require(ScenarioChecker().check(shared).failure)
      #expect(failure.signature == FuzzFailure.Signature(oracle: .smmu, property: "fast-path", operation: "dma"), "\(failure)")
      #expect(ScenarioChecker().check(large).passed, "with 256 entries the two VMIDs' entries for the page never share a slot")
    }
    #expect(ScenarioChecker().check(shared).passed)
  }

  @Test("with a device of the guest's from boot and a one-entry IOTLB, two DMAs to one bus page show a fast path that ignores the VMID")
  func fastPathVMIDFromBoot() throws {
    var configuration = FuzzConfiguration()
    configuration.format = .v2
    configuration.iotlbEntries = 1
    configuration.guestDevice = true
    let scenario = try Self.scenario(["dma nic to-device 0x40001000 0x40", "dma vf to-device 0x40001000 0x40"], configuration)
    try SeededBug.fastPathIgnoresVMID.inject {
      let failure = try #require(ScenarioChecker().check(scenario).failure)
      #expect(failure.signature == FuzzFailure.Signature(oracle: .smmu, property: "fast-path", operation: "dma"), "\(failure)")
    }
    #expect(ScenarioChecker().check(scenario).passed)
  }
}
