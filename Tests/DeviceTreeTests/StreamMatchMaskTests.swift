import Scenario
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
      let shares = bridged.notes.contains {
        $0.hasPrefix("/dma-controller@ff0c0000: stream 0x403 shares /ethernet@ff0b0000's stream map entry 0x400/0x7 on iommu")
          && $0.contains("moves the other's DMA to the guest's context")
      }
      #expect(shares == sharing, "\(bridged.notes)")
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

  @Test("a stream partly overlapping an earlier device's masked SMR is a note that Xen 4.20 fails dom0's build; on 4.19 nothing is shared")
  func partialOverlapNote() throws {
    let devices: [(device: String, requests: [StreamMatchRegister])] = [
      ("/a", [StreamMatchRegister(id: 0x10, mask: 0xF)]), ("/b", [StreamMatchRegister(id: 0x18, mask: 0x18)]),
      ("/c", [StreamMatchRegister(id: 0x10)]),
    ]
    let new = Platform.streamMatchSharing(devices, on: "iommu", xen: .v4_20)
    #expect(new.count == 2)
    #expect(new.first?.hasPrefix("/b: stream 0x18/0x18 partly overlaps /a's SMR 0x10/0xf on iommu: Xen 4.20 refuses it") == true)
    #expect(new.last?.hasPrefix("/c: stream 0x10 shares /a's stream map entry 0x10/0xf") == true)
    // Before 4.20 the masks are dropped: /c has /a's very ID, so only it shares.
    let old = Platform.streamMatchSharing(devices, on: "iommu", xen: try #require(XenVersion(name: "4.19")))
    #expect(old.count == 1 && old.first?.hasPrefix("/c: stream 0x10 shares /a's stream map entry 0x10 on iommu (Xen 4.19") == true, "\(old)")
  }
}
