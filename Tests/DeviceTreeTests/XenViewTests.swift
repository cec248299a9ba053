import Scenario
import Spec
import Testing

@testable import DeviceTree

/// What Xen drives, per release, build and boot (`XenView.swift`).
@Suite("Xen's view of a board")
struct XenViewTests {
  func device(_ platform: Platform, _ path: String) throws -> PlatformDevice {
    try #require(platform.devices.first { $0.path == path })
  }

  @Test("an SMMUv3 is not Xen's unless Xen is built with its driver (Kconfig default off): its masters are untranslated, the IOMMU off")
  func smmuV3Driver() throws {
    let harbour = try Fixtures.platform("harbour")
    let plain = harbour.xenView(ScenarioOptions())
    #expect(plain.owners["/iommu@9050000"] == .notXen(reason: "Xen is built without CONFIG_ARM_SMMU_V3 (default off, needs CONFIG_EXPERT; --xen-config smmuv3=on if yours has it)"))
    #expect(plain.placements["/ethernet@9100000"] == .iommuNotXens(iommu: "/iommu@9050000"))
    #expect(!plain.iommuEnabled)
    #expect(plain.panics.isEmpty)
    let built = harbour.xenView(ScenarioOptions(xenConfig: XenConfig(smmuV3Driver: true)))
    #expect(built.owners["/iommu@9050000"] == .xen)
    #expect(built.placements["/ethernet@9100000"] == .attached(iommu: "/iommu@9050000"))
    #expect(built.iommuEnabled)
  }

  @Test("iommu=off: no IOMMU is Xen's, every master untranslated")
  func iommuOff() throws {
    let orchard = try Fixtures.platform("orchard")
    let view = orchard.xenView(ScenarioOptions(xenConfig: XenConfig(iommu: false)))
    #expect(!view.iommuEnabled)
    #expect(view.placements["/soc/ethernet@ff0b0000"] == .iommuNotXens(iommu: "/soc/iommu@fd800000"))
    #expect(!view.placements.values.contains { if case .attached = $0 { true } else { false } })
    let bridged = try orchard.scenario(ScenarioOptions(xenConfig: XenConfig(iommu: false)))
    #expect(bridged.scenario.statements.map(\.kind).contains(.iommu(false)))
    #expect(bridged.smmuNames.isEmpty)
  }

  @Test("Xen 4.13–4.15 with smmu.c panics at dom0 build on an iommus-only master; 4.12 leaves it undescribed; 4.16 attaches it")
  func panicsBefore416() throws {
    let orchard = try Fixtures.platform("orchard")
    for minor in 13...15 {
      let view = orchard.xenView(ScenarioOptions(xen: XenVersion(name: "4.\(minor)")!))
      #expect(view.panics.map(\.node).contains("/soc/ethernet@ff0b0000"), "4.\(minor)")
      #expect(view.panics.first?.reason.contains("iommu_add_dt_device() returns -EINVAL") == true)
    }
    let old = orchard.xenView(ScenarioOptions(xen: XenVersion(name: "4.12")!))
    #expect(old.panics.isEmpty)
    #expect(old.placements["/soc/ethernet@ff0b0000"] == .undescribed(iommu: "/soc/iommu@fd800000"))
    let new = orchard.xenView(ScenarioOptions(xen: XenVersion(name: "4.16")!))
    #expect(new.panics.isEmpty)
    #expect(new.placements["/soc/ethernet@ff0b0000"] == .attached(iommu: "/soc/iommu@fd800000"))
    // With iommu=off, iommu_add_dt_device() returns 1 before reading iommus.
    #expect(orchard.xenView(ScenarioOptions(xen: .v4_15, xenConfig: XenConfig(iommu: false))).panics.isEmpty)
    // quarry lists its masters in mmu-masters: 4.15 boots.
    #expect(try Fixtures.platform("quarry").xenView(ScenarioOptions(xen: .v4_15)).panics.isEmpty)
  }

  @Test("ridge: a disabled iommus master still makes 4.15 panic; a xen,passthrough node is not dom0's; the Rockchip IOMMU's master is untranslated")
  func ridge() throws {
    let ridge = try Fixtures.platform("ridge")
    let view = ridge.xenView(ScenarioOptions(xen: .v4_15))
    #expect(view.panics.map(\.node).contains("/soc/sata@fd0c0000"))
    #expect(view.panics.first { $0.node == "/soc/sata@fd0c0000" }?.reason.contains("(disabled, but Xen handles it too)") == true)
    #expect(!view.panics.map(\.node).contains("/soc/usb@fe300000"))

    let usb = try device(ridge, "/soc/usb@fe300000")
    #expect(usb.xenPassthrough)
    #expect(usb.disabledBy == "/soc/usb@fe300000")
    let latest = ridge.xenView(ScenarioOptions())
    // dom0's masters, exactly: not the UART, the IOMMUs, the disabled SATA
    // or the passthrough USB.
    #expect(Set(latest.placements.keys) == [
      "/soc/dma-controller@fd500000", "/soc/dma-controller@ffa80000", "/soc/ethernet@ff0e0000", "/soc/mmc@ff170000", "/soc/gpu@fd4b0000",
      "/soc/video@ff210000",
    ])
    #expect(latest.placements["/soc/usb@fe300000"] == nil)
    #expect(latest.placements["/soc/sata@fd0c0000"] == nil)
    #expect(latest.placements["/soc/video@ff210000"] == .iommuNotXens(iommu: "/soc/iommu@ff200000"))
    #expect(latest.placements["/soc/ethernet@ff0e0000"] == .attached(iommu: "/soc/iommu@fd800000"))
    #expect(latest.placements["/soc/gpu@fd4b0000"] == .untranslated)
    #expect(latest.owners["/soc/iommu@ff200000"] != .xen)
    #expect(latest.iommuEnabled)
  }

  @Test("a cavium,smmu-v2 is not matched by Xen's smmu.c")
  func cavium() {
    let iommu = PlatformIOMMU(path: "/smmu", name: "smmu", compatible: ["cavium,smmu-v2"], kind: .smmuV2, iommuCells: 1, available: true)
    #expect(Platform.owner(of: iommu, config: XenConfig(), version: .latest) != .xen)
    var mmu500 = iommu
    mmu500.compatible = ["arm,mmu-500"]
    #expect(Platform.owner(of: mmu500, config: XenConfig(), version: .latest) == .xen)
  }

  @Test("bootloader placeholders are warnings: a size-0 memory node, a zero-length iommu-map entry; --ram gives the RAM")
  func placeholders() throws {
    let ridge = try Fixtures.platform("ridge")
    #expect(ridge.ram.isEmpty)
    #expect(ridge.warnings.map(\.message) == [
      "memory node /memory@0 has no bank of non-zero size, a placeholder the bootloader fills in; give the RAM with --ram BASE:SIZE, or read the tree the firmware fixed up (/sys/firmware/fdt on the running board)"
    ])
    let given = ridge.withRAM([(0x0, 0x8000_0000)])
    #expect(given.ram == [RAMBank(address: 0, size: 0x8000_0000, node: "--ram")])
    #expect(given.warnings.isEmpty)
    #expect(try given.scenario(ScenarioOptions()).scenario.statements.map(\.kind).contains(.ram(address: 0, size: 0x8000_0000)))

    let blob = BlobBuilder(tokens: [
      .begin(""),
      .begin("iommu@0"), .property("compatible", BlobBuilder.string("arm,mmu-500")), .property("#iommu-cells", BlobBuilder.cells(1)),
      .property("phandle", BlobBuilder.cells(1)), .end,
      .begin("pcie@1"), .property("compatible", BlobBuilder.string("acme,pcie")), .property("device_type", BlobBuilder.string("pci")),
      .property("iommu-map", BlobBuilder.cells(0, 1, 0x100, 0)), .end,
      .end,
    ]).build()
    let platform = try Platform(tree: try FlattenedDeviceTree(bytes: blob))
    #expect(platform.warnings.count == 2)
    #expect(platform.warnings.first?.message.hasPrefix("'iommu-map' of /pcie@1 has an entry of length 0, a placeholder the bootloader fills in") == true)
    #expect(platform.warnings.last?.message.hasPrefix("no memory node") == true)
    #expect(platform.devices.first { $0.path == "/pcie@1" }?.streams.isEmpty == true)
  }

  @Test("stream-map entries: Xen allocates one per stream it adds, a disabled node's too; more than the SMMU has panics at dom0 build")
  func streamMap() throws {
    let ridge = try Fixtures.platform("ridge")
    // 8 + 6 DMA channels, the GEM, the SDHCI, and the disabled SATA; the
    // passthrough USB is not added.
    #expect(ridge.xenView(ScenarioOptions()).streamMapUse == ["/soc/iommu@fd800000": 17])
    #expect(ridge.xenView(ScenarioOptions()).panics.isEmpty)
    var small = ScenarioOptions()
    small.smmuStreamMapEntries = 16
    let view = ridge.xenView(small)
    #expect(view.panics.map(\.node) == ["/soc/iommu@fd800000"])
    #expect(view.panics.first?.reason.contains("needs 17 stream-map entries for the streams Xen adds (disabled nodes included) but has 16") == true)
    small.smmuStreamMapEntries = 17
    #expect(ridge.xenView(small).panics.isEmpty)

    // Two masters sharing a stream: one entry from 4.16, one each in 4.15.
    let blob = BlobBuilder(tokens: [
      .begin(""),
      .begin("iommu@0"), .property("compatible", BlobBuilder.string("arm,mmu-500")), .property("#global-interrupts", BlobBuilder.cells(1)),
      .property("mmu-masters", BlobBuilder.cells(2, 0x10, 3, 0x10)), .end,
      .begin("a@1"), .property("compatible", BlobBuilder.string("acme,dma")), .property("#dma-cells", BlobBuilder.cells(1)),
      .property("#stream-id-cells", BlobBuilder.cells(1)), .property("phandle", BlobBuilder.cells(2)), .end,
      .begin("b@2"), .property("compatible", BlobBuilder.string("acme,dma")), .property("#dma-cells", BlobBuilder.cells(1)),
      .property("#stream-id-cells", BlobBuilder.cells(1)), .property("phandle", BlobBuilder.cells(3)), .end,
      .end,
    ]).build()
    let shared = try Platform(tree: try FlattenedDeviceTree(bytes: blob))
    #expect(shared.xenView(ScenarioOptions(xen: .v4_15)).streamMapUse == ["/iommu@0": 2])
    #expect(shared.xenView(ScenarioOptions(xen: XenVersion(name: "4.16")!)).streamMapUse == ["/iommu@0": 1])
  }

  @Test("more attached streams than the model's default 16 give the SMMUv2 the hardware's stream-match entries; more than those are said in the notes")
  func scenarioStreamMap() throws {
    var ridge = try Fixtures.platform("ridge").withRAM([(0, 0x8000_0000)])
    #expect(!(try ridge.scenario(ScenarioOptions())).text.contains(" entries "))
    let index = try #require(ridge.devices.firstIndex { $0.path == "/soc/ethernet@ff0e0000" })
    let stream = try #require(ridge.devices[index].streams.first)
    ridge.devices[index].evidence.append(.streams(StreamAssignment(iommu: stream.iommu, binding: .iommus, streamIDs: [0x878], offset: stream.offset)))
    let generated = try ridge.scenario(ScenarioOptions())
    #expect(generated.text.contains("smmu iommu v2 entries 128"))
    #expect(try ScenarioRunner.run(ScenarioParser.parse(generated.text)).steps.allSatisfy(\.succeeded))
    var small = ScenarioOptions()
    small.smmuStreamMapEntries = 16
    #expect(try ridge.scenario(small).notes.contains("SMMU iommu gets 17 attached streams, more than its 16 stream-map entries: 'dmaverify run' cannot boot this scenario"))
  }
}
