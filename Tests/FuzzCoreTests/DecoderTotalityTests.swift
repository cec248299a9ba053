import FuzzCore
import Scenario
import Spec
import Testing

/// The decoder is total: every byte string is a scenario, and
/// that scenario runs on the spec without a scenario error.
@Suite("Decoder totality")
struct DecoderTotalityTests {
  @Test("10 000 seeded random inputs of every length decode, and every decoded scenario is meaningful")
  func randomInputs() {
    var random = SplitMix64(seed: 0xF022_0001)
    for index in 0..<10_000 {
      let length = Int(random.next() % 80)
      let input = (0..<length).map { _ in UInt8(truncatingIfNeeded: random.next()) }
      let scenario = FuzzDecoder.decode(input)
      let configuration = FuzzDecoder(input).configuration
      #expect(Array(scenario.statements.prefix(configuration.platform.count).map(\.kind)) == configuration.platform,
              "input \(index) (seed 0xF0220001): the platform comes first")
      #expect(scenario.statements.count <= configuration.platform.count + length / FuzzDecoder.recordSize + 1)
    }
  }

  @Test("decoded scenarios run on the spec without a scenario error (300 inputs, DMAs included)")
  func decodedScenariosRun() {
    var random = SplitMix64(seed: 0xF022_0002)
    for index in 0..<300 {
      let input = randomInput(&random, records: Int(random.next() % 24))
      let scenario = FuzzDecoder.decode(input)
      #expect(throws: Never.self, "input \(index) (seed 0xF0220002)") { try ScenarioRunner.run(scenario) }
    }
  }

  @Test("the empty input is the default platform with no operations")
  func empty() {
    let scenario = FuzzDecoder.decode([])
    #expect(scenario.statements.map(\.kind) == FuzzConfiguration().platform)
    #expect(FuzzConfiguration().description == "Xen 4.21, 40-bit IPA, direct-mapped dom0, SMMUv2, IOMMU on, legacy")
  }

  @Test("a huge input is read up to the operation limit, quickly")
  func huge() {
    var random = SplitMix64(seed: 0xF022_0003)
    let input = (0..<1_000_000).map { _ in UInt8(truncatingIfNeeded: random.next()) }
    let scenario = FuzzDecoder.decode(input)
    let operations = scenario.statements.filter { FuzzEncoder.isOperation($0.kind) }.count
    #expect(operations > 0)
    #expect(operations <= FuzzDecoder.maximumOperations)
  }

  @Test("unmapping with nothing live decodes to nothing; a refused grant never becomes a handle to unmap")
  func liveHandles() throws {
    // ungrant, unforeign first: nothing live. Then a grant of the page
    // outside the guest's RAM (index 7: refused), then ungrant.
    let scenario = FuzzDecoder.decode([0, 0, 3, 0, 0, 5, 0, 0, 2, 7, 0, 3, 0, 0])
    let operations = scenario.statements.map(\.kind).filter(FuzzEncoder.isOperation)
    #expect(operations.count == 1)
    guard case .grant(let grant) = operations.first else {
      Issue.record("expected the grant alone, got \(operations)")
      return
    }
    #expect(grant.gfnAddress == 0x8020_0000)
    let report = try ScenarioRunner.run(scenario)
    #expect(report.steps.last?.succeeded == false, "the grant of a page outside the guest is refused")
  }

  @Test("every configuration byte pair decodes to a platform the runner boots")
  func everyConfiguration() throws {
    var seen = Set<FuzzConfiguration>()
    for byte0 in 0...255 {
      for byte1 in stride(from: 0, through: 255, by: 17) {
        seen.insert(FuzzConfiguration(UInt8(byte0), UInt8(byte1)))
      }
    }
    for configuration in seen.prefix(120) {
      let scenario = Scenario(statements: configuration.platform.map { Statement($0) })
      let report = try ScenarioRunner.run(scenario)
      #expect(report.steps.allSatisfy { $0.succeeded }, "\(configuration)")
    }
    #expect(seen.contains { $0.coloured } && seen.contains { !$0.iommu } && seen.contains { $0.smmuVersion == .v3 })
  }
}
