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
      "/soc/iommu@fd800000": "an IOMMU: it translates other masters' DMA; whether Xen drives it is in Xen's view",
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

  @Test("each kind of evidence alone makes an unprotected master, dma-ranges (a bus property) does not; stream IDs on a disabled SMMU do not protect")
  func evidenceKinds() throws {
    let cases: [(BlobBuilder.Token, DMAEvidence)] = [
      (.property("#dma-cells", BlobBuilder.cells(1)), .dmaProvider),
      (.property("dma-coherent", []), .dmaCoherent),
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
    let ranges = BlobBuilder(tokens: [
      .begin(""), .begin("thing@0"), .property("compatible", BlobBuilder.string("acme,thing")), .property("reg", BlobBuilder.cells(0, 0, 0)),
      .property("dma-ranges", []), .end, .end,
    ]).build()
    let rangesOnly = try Platform(tree: try FlattenedDeviceTree(bytes: ranges))
    #expect(rangesOnly.devices.first?.classification == .unknown)
    #expect(rangesOnly.devices.first?.evidence == [.dmaRanges])
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

  @Test("grove: each node's class and the reason for it, from bus rules, bindings entries and properties")
  func grove() throws {
    let platform = try Fixtures.platform("grove")
    let classes = classes(platform)
    let reasons: [String: String] = [
      "/opp-table": "OPP table: operating points of a CPU or device",
      "/opp-table/opp-1200000000": "OPP table /opp-table: operating points of a CPU or device",
      "/firmware": "no compatible: no driver binds to it",
      "/firmware/platform-firmware": "firmware interface /firmware: reached through firmware calls, not by bus mastering",
      "/firmware/platform-firmware/clock-controller": "firmware interface /firmware: reached through firmware calls, not by bus mastering",
      "/thermal-zones": "no compatible: no driver binds to it",
      "/thermal-zones/cpu-thermal": "thermal zone /thermal-zones: a description of sensors and trip points",
      "/soc/pinctrl@ff180000": "pinctrl: pin multiplexing registers",
      "/soc/pinctrl@ff180000/uart0-default": "pinctrl /soc/pinctrl@ff180000: pin multiplexing and configuration states",
      "/soc/thermal-sensor@ffa50000": "thermal sensor: analog monitoring registers",
      "/soc/serial@ff000000": "UART: registers and FIFOs only; DMA, if any, through dmas",
      "/soc/i2c@ff030000": "I2C controller: registers and FIFOs only",
      "/soc/i2c@ff030000/mux@75": "I2C bus /soc/i2c@ff030000: an I2C device only exchanges bytes with its controller",
      "/soc/i2c@ff030000/mux@75/i2c@0": "I2C bus /soc/i2c@ff030000: an I2C device only exchanges bytes with its controller",
      "/soc/i2c@ff030000/mux@75/i2c@0/power-monitor@40":
        "I2C bus /soc/i2c@ff030000/mux@75/i2c@0: an I2C device only exchanges bytes with its controller",
      "/soc/interrupt-controller@f9010000": "an interrupt controller: Xen owns the GIC and emulates it for dom0",
      "/soc/axi": "a bus container (simple-bus): its children are judged one by one",
    ]
    for (path, reason) in reasons {
      #expect(classes[path] == .notAMaster(reason: reason), "\(path)")
    }
    // The exact master list: the PCIe bridge is its own MSI controller but
    // a master behind the SMMU through iommu-map; the MAC is a master by
    // its bindings entry and coherent through its bus; the widget unknown.
    let masters = platform.enabledDevices.filter { if case .notAMaster = $0.classification { false } else { true } }
    #expect(masters.map(\.path) == ["/soc/pcie@fd0e0000", "/soc/axi/ethernet@ff0e0000", "/soc/accelerator@fe100000"])
    #expect(classes["/soc/pcie@fd0e0000"] == .protected)
    let pcie = try device(platform, "/soc/pcie@fd0e0000")
    #expect(pcie.streams.map(\.iommu) == ["/soc/iommu@fd800000"])
    #expect(pcie.streams.first?.streamIDs == [0x4d0])
    #expect(pcie.evidence.contains(.pciHostBridge))
    let mac = try device(platform, "/soc/axi/ethernet@ff0e0000")
    #expect(mac.classification == .unprotected)
    #expect(mac.coherent)
    #expect(mac.evidence == [.dmaCoherentInherited(from: "/soc/axi"), .knownBusMaster(compatible: "cdns,gem", family: "Cadence GEM/macb Ethernet")])
    #expect(mac.binding?.hasPrefix("dma-bindings.txt:") == true)
    #expect(mac.binding?.contains("net/cdns,macb.yaml") == true)
    #expect(classes["/soc/accelerator@fe100000"] == .unknown)
    #expect(platform.unsafeDevices.map(\.path) == ["/soc/axi/ethernet@ff0e0000", "/soc/accelerator@fe100000"])
  }

  @Test("a user's bindings rule comes before the bundled ones")
  func userBindings() throws {
    let user = try DMABindings.parse("master acme,widget-* widget: DMAs into a ring | acme's driver\n", file: "mine.txt")
    let platform = try Platform(tree: try Fixtures.tree("grove"), bindings: DMABindings.bundled.preceded(by: user))
    let widget = try device(platform, "/soc/accelerator@fe100000")
    #expect(widget.classification == .unprotected)
    #expect(widget.binding == "mine.txt:1 (acme's driver)")
  }

  @Test("--assume-dma makes an unknown node or a non-master an unprotected master; a master, or the same node in both lists, is refused")
  func assumeDMA() throws {
    let platform = try Fixtures.platform("grove")
    let assumed = try platform.assumingDMA(["accelerator@fe100000", "/soc/serial@ff000000"])
    #expect(try device(assumed, "/soc/accelerator@fe100000").classification == .unprotected)
    #expect(try device(assumed, "/soc/serial@ff000000").evidence.contains(.assumedByUser))
    #expect(assumed.unsafeDevices.map(\.path) == ["/soc/serial@ff000000", "/soc/axi/ethernet@ff0e0000", "/soc/accelerator@fe100000"])
    #expect(throws: DeviceTreeError(offset: nil, message: "expected --assume-dma to name an unknown device or one that is not a DMA master, but /soc/pcie@fd0e0000 is protected")) {
      try platform.assumingDMA(["pcie@fd0e0000"])
    }
    #expect(throws: DeviceTreeError.self) { try assumed.assumingNoDMA(["accelerator@fe100000"]) }
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
