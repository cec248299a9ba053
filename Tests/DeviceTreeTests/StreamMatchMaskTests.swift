import Spec
import Testing

@testable import DeviceTree

/// SMR masks read as `arm_smmu_dt_xlate_generic()` (xen/drivers/passthrough/
/// arm/smmu.c, RELEASE-4.16.0 … 4.21.0) reads them: a second `iommus` cell,
/// else the SMMU's `stream-match-mask`, kept to SMR.MASK's 15 bits; carried
/// into the scenario's device, where the release decides what Xen does with
/// them (``XenVersion/sharesMaskedStreamMatchEntries``).
@Suite("Device tree: stream-match masks")
struct StreamMatchMaskTests {
  @Test("thicket: the second iommus cell and stream-match-mask (15 bits of 0xfff3) are each stream's mask")
  func masksRead() throws {
    let platform = try Fixtures.platform("thicket")
    func streams(_ path: String) -> [StreamAssignment] { platform.devices.first { $0.path == path }?.streams ?? [] }
    #expect(streams("/ethernet@ff0b0000").map(\.streamMatchMasks) == [[0x7]])
    // A second cell of 0 is no mask.
    #expect(streams("/dma-controller@ff0c0000").map(\.streamMatchMasks) == [[]])
    #expect(streams("/mmc@ff160000").map(\.streamMatchMasks) == [[0x7FF3]])
    #expect(streams("/ethernet@ff0b0000").map(\.streamIDs) == [[0x400]])
  }

  @Test("thicket's scenario keeps the masks; on 4.19 only the IDs match, from 4.20 the DMA engine shares the NIC's entry")
  func scenarioByRelease() throws {
    let platform = try Fixtures.platform("thicket")
    for (name, sharing) in [("4.19", false), ("4.20", true)] {
      let xen = try #require(XenVersion(name: name))
      let bridged = try platform.scenario(ScenarioOptions(policy: .perDevice, xen: xen))
      #expect(bridged.text.contains("device ethernet smmu iommu streams 0x400/0x7 coherent"), "\(bridged.text)")
      #expect(bridged.text.contains("streams 0x403 coherent"), "\(bridged.text)")
      #expect(bridged.text.contains("streams 0x40/0x7ff3 coherent"), "\(bridged.text)")
      #expect(bridged.notes.contains { $0.contains("/ethernet@ff0b0000: stream-match mask 0x400/0x7") && $0.contains(sharing ? "shares the entry" : "ignores it") })
      let scenario = try ScenarioParser.parse(bridged.text + "dma ethernet to-device 0x40100000 4K\ndma dma-controller to-device 0x40100000 4K\n")
      var execution = ScenarioExecution()
      var steps: [StepReport] = []
      for statement in scenario.statements { steps.append(try execution.execute(statement)) }
      let refused = steps.filter { !$0.succeeded }.map(\.result)
      #expect(refused.isEmpty, "\(name): \(refused)")
      #expect(steps.compactMap { $0.dma?.outcome } == [.ok, .ok])
      let smmu = try #require(execution.smmuPlatform?.smmus[bridged.smmuNames["/iommu@fd800000"] ?? ""])
      guard case .v2(let registers) = smmu.state else {
        Issue.record("expected an SMMUv2")
        continue
      }
      let expected: [StreamMatchRegister?] = sharing
        ? [StreamMatchRegister(id: 0x400, mask: 0x7), nil]
        : [StreamMatchRegister(id: 0x400), StreamMatchRegister(id: 0x403)]
      #expect(Array(registers.streamMatch.prefix(2)) == expected, "\(name)")
    }
  }
}
