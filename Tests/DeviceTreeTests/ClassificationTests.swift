import Testing

@testable import DeviceTree

/// Every enabled node is protected, an unprotected DMA master, unknown or
/// not a master, with the evidence that decided it.
@Suite("DMA-master classification")
struct ClassificationTests {
  func classes(_ platform: Platform) -> [String: DMAClassification] {
    Dictionary(uniqueKeysWithValues: platform.enabledDevices.map { ($0.path, $0.classification) })
  }

  func device(_ platform: Platform, _ path: String) throws -> PlatformDevice {
    try #require(platform.devices.first { $0.path == path })
  }

  @Test("orchard: iommus masters protected, the PL330 without iommus unprotected, the frobnicator unknown, the UART's DMA is the PL330's")
  func orchard() throws {
    let platform = try Fixtures.platform("orchard")
    let classes = classes(platform)
    #expect(classes["/soc/ethernet@ff0b0000"] == .protected)
    #expect(classes["/soc/mmc@ff160000"] == .protected)
    #expect(classes["/soc/usb@fe200000"] == .protected)
    #expect(classes["/soc/dma-controller@fd500000"] == .unprotected)
    #expect(classes["/soc/accelerator@fe000000"] == .unknown)
    #expect(classes["/soc/serial@ff000000"] == .notAMaster(reason: "its DMA is done by /soc/dma-controller@fd500000 (dmas), judged on its own"))
    #expect(platform.unsafeDevices.map(\.path) == ["/soc/dma-controller@fd500000", "/soc/accelerator@fe000000"])

    let pl330 = try device(platform, "/soc/dma-controller@fd500000")
    #expect(pl330.evidence == [.dmaProvider, .knownBusMaster(compatible: "arm,pl330", family: "DMA engine")])
    let gem = try device(platform, "/soc/ethernet@ff0b0000")
    #expect(gem.coherent)
    #expect(gem.evidence.contains(.dmaCoherent))
    #expect(gem.evidence.contains(.knownBusMaster(compatible: "cdns,gem", family: "Cadence GEM/macb Ethernet")))
    let uart = try device(platform, "/soc/serial@ff000000")
    #expect(uart.evidence == [.dmaConsumer(providers: ["/soc/dma-controller@fd500000"])])
    #expect(try device(platform, "/soc/accelerator@fe000000").evidence.isEmpty)
  }

  @Test("orchard: infrastructure nodes are not masters, each for its reason")
  func infrastructure() throws {
    let classes = classes(try Fixtures.platform("orchard"))
    let reasons: [String: String] = [
      "/chosen": "/chosen carries configuration, not a device",
      "/aliases": "/aliases carries configuration, not a device",
      "/cpus": "a CPU",
      "/cpus/cpu@0": "a CPU",
      "/memory@40000000": "a memory node: host RAM",
      "/timer": "timer: the generic timer has no memory interface",
      "/clock-100m": "clock: a fixed clock is a constant",
      "/soc": "a bus container (simple-bus): its children are judged one by one",
      "/soc/interrupt-controller@f9010000": "an interrupt controller: Xen owns the GIC and emulates it for dom0",
      "/soc/iommu@fd800000": "an IOMMU: Xen drives it and hides it from dom0 (fact sheet §6.3)",
    ]
    for (path, reason) in reasons {
      #expect(classes[path] == .notAMaster(reason: reason), "\(path)")
    }
  }

  @Test("disabled nodes are classified but not enabled: orchard's SATA, harbour's second PCIe and the SATA under a disabled bus")
  func disabled() throws {
    let orchard = try Fixtures.platform("orchard")
    let sata = try device(orchard, "/soc/sata@fd0c0000")
    #expect(sata.disabledBy == "/soc/sata@fd0c0000")
    #expect(sata.classification == .protected)
    #expect(!orchard.enabledDevices.contains { $0.path == sata.path })

    let harbour = try Fixtures.platform("harbour")
    #expect(try device(harbour, "/pcie@40000000").disabledBy == "/pcie@40000000")
    let offbus = try device(harbour, "/offbus/sata@9300000")
    #expect(offbus.disabledBy == "/offbus")
    #expect(offbus.classification == .unprotected)
    #expect(!harbour.unsafeDevices.contains { $0.path == offbus.path })
  }

  @Test("quarry: mmu-masters protect the macb and the xHCI; the AHCI is an unprotected master; the doorbell unknown")
  func quarry() throws {
    let platform = try Fixtures.platform("quarry")
    let classes = classes(platform)
    #expect(classes["/ethernet@2b000000"] == .protected)
    #expect(classes["/usb@2c000000"] == .protected)
    #expect(classes["/sata@2d000000"] == .unprotected)
    #expect(classes["/mailbox@2e000000"] == .unknown)
    #expect(try device(platform, "/sata@2d000000").evidence == [.knownBusMaster(compatible: "generic-ahci", family: "AHCI SATA")])
    #expect(try device(platform, "/usb@2c000000").coherent)
    #expect(!(try device(platform, "/ethernet@2b000000").coherent))
  }

  @Test("harbour: the PCIe bridge protected through iommu-map, the dwmac through iommus, the HDLCD an unprotected display DMA")
  func harbour() throws {
    let platform = try Fixtures.platform("harbour")
    let classes = classes(platform)
    #expect(classes["/pcie@10000000"] == .protected)
    #expect(classes["/ethernet@9100000"] == .protected)
    #expect(classes["/display@9200000"] == .unprotected)
    #expect(try device(platform, "/display@9200000").evidence == [.knownBusMaster(compatible: "arm,hdlcd", family: "display DMA")])
    #expect(platform.unsafeDevices.map(\.path) == ["/display@9200000"])
  }

  @Test("each kind of evidence alone makes an unprotected master; stream IDs on a disabled SMMU do not protect")
  func evidenceKinds() throws {
    let cases: [(BlobBuilder.Token, DMAEvidence)] = [
      (.property("#dma-cells", BlobBuilder.cells(1)), .dmaProvider),
      (.property("dma-coherent", []), .dmaCoherent),
      (.property("dma-ranges", []), .dmaRanges),
      (.property("device_type", BlobBuilder.string("pci")), .pciHostBridge),
    ]
    for (property, evidence) in cases {
      let blob = BlobBuilder(tokens: [
        .begin(""), .begin("thing@0"), .property("compatible", BlobBuilder.string("acme,thing")), property, .end, .end,
      ]).build()
      let platform = try Platform(tree: try FlattenedDeviceTree(bytes: blob))
      #expect(platform.devices.first?.classification == .unprotected, "\(evidence)")
      #expect(platform.devices.first?.evidence == [evidence])
    }
    let offSMMU = BlobBuilder(tokens: [
      .begin(""),
      .begin("iommu@0"), .property("compatible", BlobBuilder.string("arm,smmu-v3")), .property("#iommu-cells", BlobBuilder.cells(1)),
      .property("status", BlobBuilder.string("disabled")), .property("phandle", BlobBuilder.cells(1)), .end,
      .begin("nic@1"), .property("compatible", BlobBuilder.string("acme,nic")), .property("iommus", BlobBuilder.cells(1, 3)), .end,
      .end,
    ]).build()
    let platform = try Platform(tree: try FlattenedDeviceTree(bytes: offSMMU))
    #expect(platform.devices.last?.classification == .unprotected)
    #expect(platform.iommus.first?.available == false)
  }

  @Test("the known-device table: globs, most specific compatible first")
  func table() {
    #expect(KnownDevices.glob("*sdhci*", matches: "rockchip,rk3399-sdhci-5.1"))
    #expect(KnownDevices.glob("cdns,*-gem", matches: "cdns,zynqmp-gem"))
    #expect(!KnownDevices.glob("cdns,*-gem", matches: "cdns,gem"))
    #expect(KnownDevices.glob("generic-ahci", matches: "generic-ahci"))
    #expect(!KnownDevices.glob("generic-ahci", matches: "generic-ahci2"))
    #expect(KnownDevices.glob("a*b*c", matches: "aXbYc"))
    #expect(!KnownDevices.glob("a*b*c", matches: "aXcYb"))
    #expect(KnownDevices.match(["vendor,board-uart", "snps,dwmac-4.20a"], in: KnownDevices.busMasters)?.compatible == "snps,dwmac-4.20a")
    #expect(KnownDevices.match(["acme,frobnicator-2"], in: KnownDevices.busMasters) == nil)
  }

  @Test("--assume-no-dma by node name or path; unknown names, ambiguous names and protected devices are refused")
  func assumptions() throws {
    let platform = try Fixtures.platform("orchard")
    let assumed = try platform.assumingNoDMA(["accelerator@fe000000", "/soc/dma-controller@fd500000"])
    #expect(assumed.unsafeDevices.isEmpty)
    #expect(assumed.devices.filter(\.assumedNoDMA).map(\.path) == ["/soc/dma-controller@fd500000", "/soc/accelerator@fe000000"])
    #expect(throws: DeviceTreeError(offset: nil, message: "expected --assume-no-dma to name a node (a path or a node name), found 'nothing', which no node has")) {
      try platform.assumingNoDMA(["nothing"])
    }
    #expect(throws: DeviceTreeError(offset: nil, message: "expected --assume-no-dma to name an unknown or unprotected device, but /soc/ethernet@ff0b0000 is protected")) {
      try platform.assumingNoDMA(["ethernet@ff0b0000"])
    }
    let twins = BlobBuilder(tokens: [
      .begin(""), .begin("a"), .begin("x"), .property("compatible", BlobBuilder.string("q,r")), .end, .end,
      .begin("b"), .begin("x"), .property("compatible", BlobBuilder.string("q,r")), .end, .end, .end,
    ]).build()
    let ambiguous = try Platform(tree: try FlattenedDeviceTree(bytes: twins))
    #expect(throws: DeviceTreeError.self) { try ambiguous.assumingNoDMA(["x"]) }
    #expect(try ambiguous.assumingNoDMA(["/b/x"]).devices.filter(\.assumedNoDMA).map(\.path) == ["/b/x"])
  }
}
