import Scenario
import Spec
import Testing

@testable import DeviceTree

/// SMMUs, RAM and stream IDs, per binding.
@Suite("Platform extraction")
struct PlatformExtractionTests {
  func device(_ platform: Platform, _ path: String) throws -> PlatformDevice {
    try #require(platform.devices.first { $0.path == path })
  }

  @Test("orchard: an MMU-500 with #iommu-cells, two RAM banks, the memreserve entry")
  func orchardPlatform() throws {
    let platform = try Fixtures.platform("orchard")
    #expect(platform.iommus == [
      PlatformIOMMU(path: "/soc/iommu@fd800000", name: "iommu@fd800000", compatible: ["arm,mmu-500"], kind: .smmuV2, iommuCells: 1, available: true)
    ])
    #expect(platform.ram == [
      RAMBank(address: 0x4000_0000, size: 0x2000_0000, node: "/memory@40000000"),
      RAMBank(address: 0x8_0000_0000, size: 0x1000_0000, node: "/memory@40000000"),
    ])
    #expect(platform.reservations == [.init(address: 0x7fe0_0000, size: 0x10_0000)])
  }

  @Test("iommus: one specifier per stream, the first cell is the stream ID")
  func iommus() throws {
    let platform = try Fixtures.platform("orchard")
    let usb = try device(platform, "/soc/usb@fe200000")
    #expect(usb.streams.map(\.streamIDs) == [[0x860], [0x861]])
    #expect(usb.streams.allSatisfy { $0.binding == .iommus && $0.iommu == "/soc/iommu@fd800000" })
    #expect(try device(platform, "/soc/ethernet@ff0b0000").streams.map(\.streamIDs) == [[0x874]])
    // Disabled devices keep their streams, for --all.
    #expect(try device(platform, "/soc/sata@fd0c0000").streams.map(\.streamIDs) == [[0x4c0]])
  }

  @Test("mmu-masters: the SMMU has no #iommu-cells; each master's #stream-id-cells counts its IDs")
  func mmuMasters() throws {
    let platform = try Fixtures.platform("quarry")
    #expect(platform.iommus.map(\.kind) == [.smmuV2])
    #expect(platform.iommus.first?.iommuCells == nil)
    let eth = try device(platform, "/ethernet@2b000000")
    #expect(eth.streams.map(\.binding) == [.mmuMasters])
    #expect(eth.streams.map(\.streamIDs) == [[0x100]])
    #expect(eth.streams.first?.iommu == "/iommu@2b400000")
    #expect(try device(platform, "/usb@2c000000").streams.map(\.streamIDs) == [[0x200, 0x201]])
    #expect(try device(platform, "/sata@2d000000").streams.isEmpty)
  }

  @Test("iommu-map: each (rid-base, iommu, iommu-base, length) entry is an assignment of its first stream")
  func iommuMap() throws {
    let platform = try Fixtures.platform("harbour")
    #expect(platform.iommus.map(\.kind) == [.smmuV3])
    let pcie = try device(platform, "/pcie@10000000")
    #expect(pcie.streams.map(\.binding) == [.iommuMap, .iommuMap])
    #expect(pcie.streams.map(\.requesterIDBase) == [0x0, 0x100])
    #expect(pcie.streams.map(\.length) == [0x100, 0x100])
    #expect(pcie.streams.map(\.streamIDs) == [[0x1000], [0x2000]])
    #expect(pcie.evidence.contains(.pciHostBridge))
  }

  @Test("stream IDs are read from mmu-masters even when the master is listed before the SMMU in the blob")
  func orderIndependent() throws {
    let blob = BlobBuilder(tokens: [
      .begin(""),
      .begin("dev@0"), .property("compatible", BlobBuilder.string("cdns,gem")), .property("#stream-id-cells", BlobBuilder.cells(1)),
      .property("phandle", BlobBuilder.cells(2)), .end,
      .begin("iommu@1"), .property("compatible", BlobBuilder.string("arm,smmu-v1")), .property("mmu-masters", BlobBuilder.cells(2, 0x7)), .end,
      .end,
    ]).build()
    let platform = try Platform(tree: try FlattenedDeviceTree(bytes: blob))
    #expect(platform.iommus.map(\.kind) == [.smmuV1])
    #expect(platform.devices.first?.streams.map(\.streamIDs) == [[0x7]])
    #expect(platform.devices.first?.classification == .protected)
  }

  @Test("a dangling phandle, a master without #stream-id-cells, a short specifier and a non-IOMMU target are errors at the property")
  func referenceErrors() throws {
    func extract(_ tokens: [BlobBuilder.Token]) throws(DeviceTreeError) -> Platform {
      try Platform(tree: try FlattenedDeviceTree(bytes: BlobBuilder(tokens: [.begin("")] + tokens + [.end]).build()))
    }
    let smmu: [BlobBuilder.Token] = [
      .begin("iommu@0"), .property("compatible", BlobBuilder.string("arm,mmu-500")), .property("#iommu-cells", BlobBuilder.cells(1)),
      .property("phandle", BlobBuilder.cells(1)), .end,
    ]
    #expect(throws: DeviceTreeError(offset: 0x94, message: "expected 'iommus' of /dev@1 to reference a node, found phandle 0x9 which no node has")) {
      try extract(smmu + [.begin("dev@1"), .property("iommus", BlobBuilder.cells(9, 1)), .end])
    }
    #expect(throws: DeviceTreeError.self) {
      try extract(smmu + [.begin("dev@1"), .property("iommus", BlobBuilder.cells(1)), .end])
    }
    do {
      _ = try extract(smmu + [.begin("dev@1"), .property("iommus", BlobBuilder.cells(1)), .end])
    } catch {
      #expect(error.message == "expected 1 argument cell after the phandle of /iommu@0 in 'iommus' of /dev@1, found 0")
    }
    do {
      _ = try extract([
        .begin("iommu@0"), .property("compatible", BlobBuilder.string("arm,smmu-v2")), .property("mmu-masters", BlobBuilder.cells(2, 5)), .end,
        .begin("dev@1"), .property("phandle", BlobBuilder.cells(2)), .end,
      ])
      Issue.record("expected an error")
    } catch {
      #expect(error.message == "expected /dev@1, referenced by 'mmu-masters' of /iommu@0, to have '#stream-id-cells'")
    }
    do {
      _ = try extract([
        .begin("clk"), .property("#iommu-cells", BlobBuilder.cells(0)), .property("compatible", BlobBuilder.string("x,y")), .end,
        .begin("other"), .property("phandle", BlobBuilder.cells(3)), .property("#iommu-cells", []), .end,
      ])
      Issue.record("expected an error")
    } catch {
      #expect(error.message == "expected property '#iommu-cells' to be one 32-bit cell, found 0 cells")
    }
    do {
      _ = try extract(smmu + [.begin("pci"), .property("iommu-map", BlobBuilder.cells(0, 1, 0)), .end])
      Issue.record("expected an error")
    } catch {
      #expect(error.message == "expected 'iommu-map' of /pci to be (rid-base, iommu, iommu-base, length) entries of 4 cells, found 3 cells")
    }
  }

  @Test("any node with #iommu-cells is an IOMMU; one Xen does not drive leaves its masters untranslated; an R-Car IPMMU Xen drives (CONFIG_IPMMU_VMSA) attaches them")
  func otherIOMMU() throws {
    try otherIOMMU("acme,iommu", xens: false)
    try otherIOMMU("rockchip,iommu", xens: false)
    // Not built by default: not Xen's.
    try otherIOMMU("renesas,ipmmu-r8a7795", xens: false)
    try otherIOMMU("renesas,ipmmu-r8a7795", xens: true, config: XenConfig(ipmmuDriver: true))
    // Gen2 IPMMUs: no Xen driver matches them.
    try otherIOMMU("renesas,ipmmu-r8a7790", xens: false, config: XenConfig(ipmmuDriver: true))
    // R-Car S4's IPMMU: in ipmmu_dt_match from 4.17.
    try otherIOMMU("renesas,ipmmu-r8a779f0", xens: false, config: XenConfig(ipmmuDriver: true), xen: XenVersion(name: "4.16")!)
    try otherIOMMU("renesas,ipmmu-r8a779f0", xens: true, config: XenConfig(ipmmuDriver: true), xen: .v4_17)
  }

  func otherIOMMU(_ compatible: String, xens: Bool, config: XenConfig = XenConfig(), xen: XenVersion = .latest) throws {
    let blob = BlobBuilder(tokens: [
      .begin(""),
      .begin("iommu@0"), .property("compatible", BlobBuilder.string(compatible)), .property("#iommu-cells", BlobBuilder.cells(1)),
      .property("phandle", BlobBuilder.cells(1)), .end,
      .begin("memory@0"), .property("device_type", BlobBuilder.string("memory")), .property("reg", BlobBuilder.cells(0, 0x1000_0000, 0x1000_0000)), .end,
      .begin("dev@1"), .property("compatible", BlobBuilder.string("acme,dev")), .property("iommus", BlobBuilder.cells(1, 4)), .end,
      .end,
    ]).build()
    let platform = try Platform(tree: try FlattenedDeviceTree(bytes: blob))
    #expect(platform.iommus.map(\.kind) == [.other])
    #expect(platform.ram == [RAMBank(address: 0x1000_0000, size: 0x1000_0000, node: "/memory@0")])
    #expect(platform.devices.last?.classification == .protected)
    let options = ScenarioOptions(xen: xen, xenConfig: config)
    let bridged = try platform.scenario(options)
    let kinds = bridged.scenario.statements.map(\.kind)
    if xens {
      // ipmmu-vmsa.c reads iommus and points the context at dom0's p2m.
      #expect(platform.xenView(options).placements["/dev@1"] == .attached(iommu: "/iommu@0"))
      #expect(kinds.contains(.smmu(name: "iommu", version: .v2)))
      #expect(kinds.contains(.device(DeviceDeclaration(name: "dev", placement: .smmu(name: "iommu", streams: [4], described: true), coherent: false))))
      #expect(kinds.contains(.iommu(true)))
      #expect(bridged.notes.contains { $0.hasPrefix("/iommu@0 is an R-Car IPMMU that Xen drives") })
      // It boots, and the master's DMA goes through dom0's p2m.
      let text = ScenarioPrinter.print(bridged.scenario) + "dma dev from-device 0x10100000 4K\n"
      let report = try ScenarioRunner.run(try ScenarioParser.parse(text))
      #expect(report.steps.last?.dma?.outcome == .ok, "\(report.steps.last?.result ?? "")")
    } else {
      #expect(kinds.contains(.device(DeviceDeclaration(name: "dev", placement: .untranslated, coherent: false))))
      #expect(kinds.contains(.iommu(false)))
      #expect(platform.xenView(options).placements["/dev@1"] == .iommuNotXens(iommu: "/iommu@0"))
    }
  }

  @Test("ledge: PCI functions below a host bridge get streams through its iommu-map and iommu-map-mask (mask 0: one stream); a zero-length map is a warning")
  func pciFunctions() throws {
    let ledge = try Fixtures.platform("ledge")
    let masters = ledge.enabledDevices.filter { if case .notAMaster = $0.classification { false } else { true } }
    #expect(masters.map(\.path) == ["/pcie@14100000", "/pcie@14100000/pcie@0,0", "/pcie@14100000/pcie@0,0/ethernet@0,0", "/pcie@3600000"])
    let endpoint = try #require(ledge.devices.first { $0.path == "/pcie@14100000/pcie@0,0/ethernet@0,0" })
    #expect(endpoint.classification == .protected)
    #expect(endpoint.streams.map(\.streamIDs) == [[0x5a]])
    #expect(endpoint.streams.first?.requesterID == 0x100)
    #expect(endpoint.streams.first?.hostBridge == "/pcie@14100000")
    #expect(endpoint.evidence.first?.description == "iommu-map of /pcie@14100000: RID 0x100 → stream 0x5a on /iommu@5000000")
    let rootPort = try #require(ledge.devices.first { $0.path == "/pcie@14100000/pcie@0,0" })
    #expect(rootPort.streams.map(\.streamIDs) == [[0x5a]])
    // The placeholder host: no streams, a warning, not a refusal.
    #expect(ledge.devices.first { $0.path == "/pcie@3600000" }?.classification == .unprotected)
    #expect(ledge.warnings.map(\.message).first?.hasPrefix("'iommu-map' of /pcie@3600000 has an entry of length 0") == true)
    // Xen reads iommu-map from 4.21, with its PCI support on.
    #expect(ledge.xenView(ScenarioOptions(xen: .v4_20, pciStreamsAttached: true)).placements[endpoint.path] == .undescribed(iommu: "/iommu@5000000"))
    #expect(ledge.xenView(ScenarioOptions(pciStreamsAttached: true)).placements[endpoint.path] == .attached(iommu: "/iommu@5000000"))
  }

  @Test("an fsl-mc bus's iommu-map gives DPAA2 objects' ICIDs, which no Xen release reads: undescribed, even with PCI support on")
  func fslMC() throws {
    let blob = BlobBuilder(tokens: [
      .begin(""),
      .begin("iommu@0"), .property("compatible", BlobBuilder.string("arm,mmu-500")), .property("#iommu-cells", BlobBuilder.cells(1)),
      .property("phandle", BlobBuilder.cells(1)), .end,
      .begin("fsl-mc@80c000000"), .property("compatible", BlobBuilder.string("fsl,qoriq-mc")), .property("iommu-map", BlobBuilder.cells(0, 1, 0, 0x80)),
      .end,
      .end,
    ]).build()
    let platform = try Platform(tree: try FlattenedDeviceTree(bytes: blob))
    let mc = try #require(platform.devices.first { $0.path == "/fsl-mc@80c000000" })
    #expect(mc.classification == .protected)
    #expect(mc.streams.map(\.binding) == [.fslMCMap])
    #expect(mc.evidence.first?.description == "fsl-mc iommu-map: ICIDs 0x0–0x7f of DPAA2 objects → streams 0x0… on /iommu@0")
    for options in [ScenarioOptions(), ScenarioOptions(pciStreamsAttached: true)] {
      #expect(platform.xenView(options).placements[mc.path] == .undescribed(iommu: "/iommu@0"))
    }
  }

  @Test("without a mask, a RID maps into its entry's range; a RID outside every entry gets no stream")
  func pciMask() throws {
    let blob = BlobBuilder(tokens: [
      .begin(""),
      .begin("iommu@0"), .property("compatible", BlobBuilder.string("arm,mmu-500")), .property("#iommu-cells", BlobBuilder.cells(1)),
      .property("phandle", BlobBuilder.cells(1)), .end,
      .begin("pcie@1"), .property("device_type", BlobBuilder.string("pci")), .property("#address-cells", BlobBuilder.cells(3)),
      .property("#size-cells", BlobBuilder.cells(2)), .property("iommu-map", BlobBuilder.cells(0x100, 1, 0x2000, 0x100)),
      .begin("dev@1,2"), .property("reg", BlobBuilder.cells(0x1_0a00, 0, 0, 0, 0)), .end,
      .begin("dev@2,0"), .property("reg", BlobBuilder.cells(0x2_0000, 0, 0, 0, 0)), .end,
      .end,
      .end,
    ]).build()
    let platform = try Platform(tree: try FlattenedDeviceTree(bytes: blob))
    #expect(platform.devices.first { $0.path == "/pcie@1/dev@1,2" }?.streams.map(\.streamIDs) == [[0x200a]])
    #expect(platform.devices.first { $0.path == "/pcie@1/dev@2,0" }?.streams.isEmpty == true)
  }
}
