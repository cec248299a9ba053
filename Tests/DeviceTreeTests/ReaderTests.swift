import Testing

@testable import DeviceTree

@Suite("DTB reader: fixtures")
struct ReaderTests {
  @Test("the header of a dtc-made blob: magic, version 17, compatible back to 16, blocks in order")
  func header() throws {
    let blob = try Fixtures.blob("quarry")
    let tree = try FlattenedDeviceTree(bytes: blob)
    #expect(tree.header.totalSize == UInt32(blob.count))
    #expect(tree.header.version == 17)
    #expect(tree.header.lastCompatibleVersion == 16)
    #expect(tree.header.reservationMapOffset == 0x28)
    #expect(tree.header.structureOffset == 0x38)
    #expect(tree.header.stringsOffset == tree.header.structureOffset + tree.header.structureSize)
    #expect(tree.header.stringsOffset + tree.header.stringsSize == tree.header.totalSize)
  }

  @Test("orchard: nodes in blob order with paths, the /memreserve/ entry, properties by type")
  func orchard() throws {
    let tree = try Fixtures.tree("orchard")
    #expect(tree.reservations == [.init(address: 0x7fe0_0000, size: 0x10_0000)])
    #expect(tree.root.path == "/")
    #expect(tree.root.name == "")
    #expect(
      tree.nodes.map(\.path) == [
        "/", "/chosen", "/aliases", "/cpus", "/cpus/cpu@0", "/memory@40000000", "/timer", "/clock-100m", "/soc",
        "/soc/interrupt-controller@f9010000", "/soc/iommu@fd800000", "/soc/ethernet@ff0b0000", "/soc/mmc@ff160000",
        "/soc/usb@fe200000", "/soc/sata@fd0c0000", "/soc/dma-controller@fd500000", "/soc/serial@ff000000",
        "/soc/accelerator@fe000000",
      ])
    #expect(try tree.root.property("model")?.string() == "dmaverify Orchard test board")
    #expect(try tree.node(at: "/chosen")?.property("bootargs")?.string() == "console=ttyAMA0")
    let uart = try #require(tree.node(at: "/soc/serial@ff000000"))
    #expect(uart.compatible == ["arm,pl011", "arm,primecell"])
    #expect(try uart.property("dma-names")?.strings() == ["tx", "rx"])
    #expect(uart.baseName == "serial")
    let gem = try #require(tree.node(at: "/soc/ethernet@ff0b0000"))
    #expect(gem.property("dma-coherent")?.value == [])
    let iommus = try #require(gem.property("iommus"))
    let smmu = try #require(tree.node(at: "/soc/iommu@fd800000"))
    #expect(try iommus.cells() == [try #require(smmu.phandle), 0x874])
    #expect(try tree.node(phandle: try iommus.cells()[0], referencedBy: iommus, of: gem).path == smmu.path)
    #expect(try tree.cellCount("#iommu-cells", of: smmu, default: nil) == 1)
    #expect(tree.children(of: tree.root).map(\.name) == ["chosen", "aliases", "cpus", "memory@40000000", "timer", "clock-100m", "soc"])
    #expect(tree.parent(of: gem)?.path == "/soc")
  }

  @Test("reg decodes with the parent's #address-cells/#size-cells: 2+2 on orchard, 1+1 on quarry, defaults 2+1")
  func reg() throws {
    let orchard = try Fixtures.tree("orchard")
    let memory = try #require(orchard.node(at: "/memory@40000000"))
    let banks = try orchard.reg(of: memory)
    #expect(banks.map(\.address) == [0x4000_0000, 0x8_0000_0000])
    #expect(banks.map(\.size) == [0x2000_0000, 0x1000_0000])
    let cpu = try #require(orchard.node(at: "/cpus/cpu@0"))
    let cells = try orchard.addressAndSizeCells(for: cpu)
    #expect(cells.address == 1 && cells.size == 0)
    #expect(try orchard.reg(of: cpu).map(\.address) == [0])

    let quarry = try Fixtures.tree("quarry")
    let ahci = try #require(quarry.node(at: "/sata@2d000000"))
    #expect(try quarry.reg(of: ahci).map(\.address) == [0x2d00_0000])
    #expect(try quarry.reg(of: ahci).map(\.size) == [0x1000])

    let defaults = BlobBuilder(tokens: [
      .begin(""), .begin("dev@1"), .property("reg", BlobBuilder.cells(0x1, 0x2, 0x3)), .end, .end,
    ]).build()
    let tree = try FlattenedDeviceTree(bytes: defaults)
    let device = try #require(tree.node(at: "/dev@1"))
    #expect(try tree.reg(of: device).map(\.address) == [0x1_0000_0002])
    #expect(try tree.reg(of: device).map(\.size) == [0x3])
  }

  @Test("status: absent and \"okay\" are available, \"disabled\" is not, and a disabled bus disables its children")
  func status() throws {
    let harbour = try Fixtures.tree("harbour")
    let nic = try #require(harbour.node(at: "/ethernet@9100000"))
    #expect(nic.status == "okay")
    #expect(nic.isAvailable)
    #expect(harbour.disablingNode(of: nic) == nil)
    let pcie = try #require(harbour.node(at: "/pcie@40000000"))
    #expect(pcie.status == "disabled")
    #expect(harbour.disablingNode(of: pcie)?.path == "/pcie@40000000")
    let sata = try #require(harbour.node(at: "/offbus/sata@9300000"))
    #expect(sata.isAvailable)
    #expect(harbour.disablingNode(of: sata)?.path == "/offbus")
  }

  @Test("quarry: the legacy mmu-masters list and #stream-id-cells read as cells")
  func quarry() throws {
    let tree = try Fixtures.tree("quarry")
    let smmu = try #require(tree.node(at: "/iommu@2b400000"))
    let masters = try #require(smmu.property("mmu-masters"))
    let list = try tree.phandleList(masters, of: smmu, cellsName: "#stream-id-cells")
    #expect(list.map(\.target.path) == ["/ethernet@2b000000", "/usb@2c000000"])
    #expect(list.map(\.arguments) == [[0x100], [0x200, 0x201]])
  }

  @Test("harbour: iommu-map entries are 4 cells each; every fixture has unique phandles")
  func harbour() throws {
    let tree = try Fixtures.tree("harbour")
    let pcie = try #require(tree.node(at: "/pcie@10000000"))
    let smmu = try #require(tree.node(at: "/iommu@9050000")?.phandle)
    #expect(try pcie.property("iommu-map")?.cells() == [0x0, smmu, 0x1000, 0x100, 0x100, smmu, 0x2000, 0x100])
    #expect(pcie.deviceType == "pci")
    for board in Fixtures.boards {
      let nodes = try Fixtures.tree(board).nodes
      let phandles = nodes.compactMap(\.phandle)
      #expect(Set(phandles).count == phandles.count, "\(board)")
    }
  }

  @Test("FDT_NOP tokens anywhere in the structure block are skipped")
  func nops() throws {
    let blob = BlobBuilder(tokens: [
      .nop, .begin(""), .nop, .property("compatible", BlobBuilder.string("a,b")), .nop, .begin("x"), .nop, .end, .nop, .end, .nop,
    ]).build()
    let tree = try FlattenedDeviceTree(bytes: blob)
    #expect(tree.nodes.map(\.path) == ["/", "/x"])
    #expect(tree.root.compatible == ["a,b"])
  }

  @Test("a blob longer than totalsize is read up to totalsize")
  func trailingBytes() throws {
    let blob = try Fixtures.blob("quarry")
    let tree = try FlattenedDeviceTree(bytes: blob + [0xff, 0xff, 0xff, 0xff])
    #expect(tree == (try FlattenedDeviceTree(bytes: blob)))
  }

  @Test("property value helpers reject values of the wrong shape, naming the property's offset")
  func valueShapes() throws {
    let property = DeviceTreeProperty(name: "reg", value: [0, 0, 1], offset: 0x64)
    #expect(throws: DeviceTreeError(offset: 0x64, message: "expected property 'reg' to be a list of 32-bit cells, found 3 bytes")) {
      try property.cells()
    }
    let unterminated = DeviceTreeProperty(name: "compatible", value: Array("abc".utf8), offset: 0x70)
    #expect(throws: DeviceTreeError(offset: 0x70, message: "expected property 'compatible' to be NUL-terminated strings")) {
      try unterminated.strings()
    }
    let two = DeviceTreeProperty(name: "status", value: Array("a\0b\0".utf8), offset: 0x80)
    #expect(throws: DeviceTreeError.self) { try two.string() }
  }
}
