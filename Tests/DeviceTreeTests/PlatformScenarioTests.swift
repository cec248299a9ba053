import Scenario
import Spec
import Testing

@testable import DeviceTree

/// The bridge's scenarios parse, print back, and run on the spec with the
/// outcomes the semantics imply (fact sheet §6.4).
@Suite("Platform → scenario")
struct PlatformScenarioTests {
  /// The bridged scenario plus DMAs, printed and parsed back as a user's
  /// saved file would be, then run.
  func run(_ bridged: PlatformScenario, dmas: [String]) throws -> ScenarioReport {
    let text = bridged.text + dmas.map { $0 + "\n" }.joined()
    let parsed = try ScenarioParser.parse(text, file: "bridged.scn")
    return try ScenarioRunner.run(parsed, file: "bridged.scn")
  }

  func outcomes(_ report: ScenarioReport) -> [DMAOutcome] {
    report.steps.compactMap { $0.dma?.outcome }
  }

  @Test("quarry, coloured dom0, global-flag: the unprotected AHCI corrupts, the mmu-masters macb is ok")
  func quarryColoured() throws {
    let platform = try Fixtures.platform("quarry")
    let bridged = try platform.scenario(ScenarioOptions(dom0: .coloured(colours: [0, 1, 2, 3]), policy: .globalFlag, xen: .v4_20), name: "quarry")
    #expect(bridged.deviceNames == [
      "/ethernet@2b000000": "ethernet", "/usb@2c000000": "usb", "/sata@2d000000": "sata", "/mailbox@2e000000": "mailbox",
    ])
    #expect(bridged.smmuNames == ["/iommu@2b400000": "iommu"])
    #expect(
      ScenarioPrinter.print(bridged.scenario) == """
        scenario "quarry"
        xen 4.20
        ipa-bits 40
        llc-colours 16
        ram 0x80000000 256M
        smmu iommu v2
        iommu on
        linux global-flag
        device ethernet smmu iommu streams 0x100 non-coherent dma-mask 64
        device usb smmu iommu streams 0x200,0x201 coherent dma-mask 64
        device sata untranslated non-coherent dma-mask 64
        device mailbox untranslated non-coherent dma-mask 64
        dom0 coloured 0-3 memory 64M

        """)
    // 16 MiB into dom0: with 4 of 16 colours, that GFN is backed by a
    // different MFN, which an untranslated master writes instead.
    let report = try run(bridged, dmas: [
      "dma sata from-device 0x81000000 4K expect corruption",
      "dma ethernet from-device 0x81000000 4K expect ok",
      "dma mailbox to-device 0x81000000 4K expect corruption",
    ])
    #expect(outcomes(report) == [.corruption, .ok, .corruption])
    #expect(report.unmetExpectations.isEmpty)
  }

  @Test("orchard on Xen 4.15: its iommus streams are not read by smmu.c, so the GEM faults; on 4.16 it is ok")
  func orchardBindingByRelease() throws {
    let platform = try Fixtures.platform("orchard").assumingNoDMA(["accelerator@fe000000"])
    let old = try platform.scenario(ScenarioOptions(policy: .globalFlag, xen: .v4_15))
    let gem = try #require(old.scenario.statements.first { if case .device(let d) = $0.kind { d.name == "ethernet" } else { false } })
    #expect(gem.kind == .device(DeviceDeclaration(name: "ethernet", placement: .smmu(name: "iommu", streams: [0x874], described: false), coherent: true)))
    #expect(old.notes.contains("/soc/ethernet@ff0b0000: Xen 4.15 does not read its iommus streams on /soc/iommu@fd800000, so they are undescribed and fault"))
    #expect(!old.deviceNames.keys.contains("/soc/accelerator@fe000000"))
    #expect(old.notes.contains("/soc/accelerator@fe000000 (unknown) left out: assumed DMA-free (--assume-no-dma)"))
    #expect(outcomes(try run(old, dmas: ["dma ethernet to-device 0x40100000 4K"])) == [.fault])

    let new = try platform.scenario(ScenarioOptions(policy: .globalFlag, xen: XenVersion(name: "4.16")!))
    #expect(outcomes(try run(new, dmas: ["dma ethernet to-device 0x40100000 4K", "dma mmc from-device 0x40100000 4K"])) == [.ok, .ok])
  }

  @Test("orchard: names are node names, with the unit address only to break ties; RAM banks and IPA size from the memory node")
  func orchardStatements() throws {
    let bridged = try Fixtures.platform("orchard").scenario(ScenarioOptions())
    #expect(Set(bridged.deviceNames.values) == ["ethernet", "mmc", "usb", "dma-controller", "accelerator"])
    let kinds = bridged.scenario.statements.map(\.kind)
    #expect(kinds.contains(.ram(address: 0x4000_0000, size: 0x2000_0000)))
    #expect(kinds.contains(.ram(address: 0x8_0000_0000, size: 0x1000_0000)))
    #expect(kinds.contains(.ipaBits(40)))
    #expect(kinds.contains(.dom0(.directMapped, size: 64 << 20)))
    #expect(kinds.contains(.linuxPolicy(.mergedFlags)))
    #expect(!kinds.contains { if case .device(let d) = $0 { d.name == "serial" || d.name == "sata" } else { false } })
    // Direct-mapped with merged flags: swiotlb-xen; every master is fine,
    // even the untranslated PL330 (GFN = MFN).
    let report = try run(bridged, dmas: ["dma dma-controller to-device 0x40100000 4K", "dma usb from-device 0x40100000 4K"])
    #expect(outcomes(report) == [.ok, .ok])
  }

  @Test("harbour, Xen built with its SMMUv3 driver: PCIe streams from iommu-map are undescribed (fault) unless Xen 4.21 attaches PCI devices")
  func harbourPCI() throws {
    let platform = try Fixtures.platform("harbour")
    let smmuV3 = XenConfig(smmuV3Driver: true)
    let plain = try platform.scenario(ScenarioOptions(policy: .globalFlag, xenConfig: smmuV3))
    #expect(plain.scenario.statements.map(\.kind).contains(
      .device(DeviceDeclaration(name: "pcie", placement: .smmu(name: "iommu", streams: [0x1000, 0x2000], described: false), coherent: true))))
    #expect(plain.scenario.statements.map(\.kind).contains(.smmu(name: "iommu", version: .v3)))
    #expect(!plain.deviceNames.keys.contains("/pcie@40000000"))
    #expect(outcomes(try run(plain, dmas: ["dma pcie to-device 0x80100000 4K", "dma ethernet to-device 0x80100000 4K"])) == [.fault, .ok])

    let attached = try platform.scenario(ScenarioOptions(policy: .globalFlag, pciStreamsAttached: true, xenConfig: smmuV3))
    #expect(outcomes(try run(attached, dmas: ["dma pcie to-device 0x80100000 4K"])) == [.ok])
    // 4.20 reads no iommu-map: the switch changes nothing there.
    let old = try platform.scenario(ScenarioOptions(policy: .globalFlag, xen: .v4_20, pciStreamsAttached: true, xenConfig: smmuV3))
    #expect(outcomes(try run(old, dmas: ["dma pcie to-device 0x80100000 4K"])) == [.fault])
  }

  @Test("every fixture bridges and boots for every layout, policy and a range of releases")
  func allCombinations() throws {
    for board in Fixtures.boards {
      var platform = try Fixtures.platform(board)
      // ridge's memory node is a bootloader placeholder: --ram's part.
      if platform.ram.isEmpty { platform = platform.withRAM([(0, 0x8000_0000)]) }
      for policy in DMAPolicy.allCases {
        for (layout, xen) in [(Dom0Memory.directMapped, XenVersion.v4_15), (.directMapped, .latest), (.coloured(colours: [0, 1]), .v4_20)] {
          let bridged = try platform.scenario(ScenarioOptions(dom0: layout, policy: policy, xen: xen))
          let reparsed = try ScenarioParser.parse(bridged.text)
          #expect(reparsed == bridged.scenario, "\(board) \(policy) \(xen)")
          // crest attaches 18 streams: its SMMUv2 gets the hardware's
          // stream-match entries (`entries 128`), so it boots too.
          let report = try ScenarioRunner.run(reparsed)
          #expect(report.steps.allSatisfy { $0.succeeded }, "\(board) \(policy) \(xen)")
        }
      }
    }
  }

  @Test("the options the board cannot meet are errors: colouring before 4.20, bad colours, no RAM")
  func errors() throws {
    let harbour = try Fixtures.platform("harbour")
    #expect(throws: DeviceTreeError(offset: nil, message: "expected Xen 4.20 or later for a coloured dom0 (LLC colouring, fact sheet §5), found 4.17")) {
      try harbour.scenario(ScenarioOptions(dom0: .coloured(colours: [0]), xen: .v4_17))
    }
    // Before 4.15 Xen has no SMMUv3 driver: the SMMU is not Xen's.
    let old = try harbour.scenario(ScenarioOptions(xen: .v4_14, xenConfig: XenConfig(smmuV3Driver: true)))
    #expect(old.smmuNames.isEmpty)
    #expect(old.notes.contains { $0.contains("Xen 4.14 has no SMMUv3 driver") })
    // Order and repeats are Xen's to accept (parse_color_config()); more
    // entries than colours, or a colour that does not exist, are not.
    let unordered = try harbour.scenario(ScenarioOptions(dom0: .coloured(colours: [3, 1, 3]), xen: .v4_20))
    #expect(unordered.scenario.statements.contains { statement in
      if case .dom0(.coloured(let colours), _) = statement.kind { colours == [3, 1, 3] } else { false }
    })
    #expect(throws: DeviceTreeError.self) { try harbour.scenario(ScenarioOptions(dom0: .coloured(colours: Array(repeating: 1, count: 17)), xen: .v4_20)) }
    #expect(throws: DeviceTreeError.self) { try harbour.scenario(ScenarioOptions(dom0: .coloured(colours: [16]), xen: .v4_20)) }
    var noRAM = harbour
    noRAM.ram = []
    #expect(throws: DeviceTreeError(offset: nil, message: "expected at least one memory node (device_type = \"memory\") with RAM, found none; give it with --ram BASE:SIZE, or read the tree the firmware fixed up (/sys/firmware/fdt on the running board)")) {
      try noRAM.scenario(ScenarioOptions())
    }
    var wide = try Fixtures.platform("quarry")
    let index = try #require(wide.devices.firstIndex { $0.path == "/ethernet@2b000000" })
    let stream = try #require(wide.devices[index].streams.first)
    wide.devices[index].evidence = [.streams(StreamAssignment(iommu: stream.iommu, binding: .mmuMasters, streamIDs: [0x8000], offset: stream.offset))]
    #expect(throws: DeviceTreeError(offset: stream.offset, message: "expected stream IDs of /ethernet@2b000000 below 2^15 (the model's SMMUv2), found 0x8000")) {
      try wide.scenario(ScenarioOptions())
    }
  }

  @Test("which release reads which binding (fact sheet §6.1, §6.2)")
  func bindingTable() {
    let options = ScenarioOptions()
    let v415 = XenVersion.v4_15
    let v416 = XenVersion(name: "4.16")!
    #expect(Platform.isRead(.mmuMasters, by: v415, on: .smmuV2, options: options))
    #expect(!Platform.isRead(.iommus, by: v415, on: .smmuV2, options: options))
    #expect(Platform.isRead(.iommus, by: v416, on: .smmuV1, options: options))
    #expect(Platform.isRead(.iommus, by: v415, on: .smmuV3, options: options))
    #expect(!Platform.isRead(.mmuMasters, by: .latest, on: .smmuV3, options: options))
    #expect(!Platform.isRead(.iommuMap, by: .latest, on: .smmuV3, options: options))
    #expect(Platform.isRead(.iommuMap, by: .latest, on: .smmuV3, options: ScenarioOptions(pciStreamsAttached: true)))
    #expect(!Platform.isRead(.iommuMap, by: .v4_20, on: .smmuV2, options: ScenarioOptions(pciStreamsAttached: true)))
  }

  @Test("strings from the tree cannot add a statement to the scenario: the model and notes stay on their lines, escaped")
  func noInjection() throws {
    let injected = "x\ndma dev from-device 0x80000000 4K\n\u{1b}]0;owned\u{7}"
    let blob = BlobBuilder(tokens: [
      .begin(""), .property("model", BlobBuilder.string("Board \"\(injected)\"")),
      .property("#address-cells", BlobBuilder.cells(1)), .property("#size-cells", BlobBuilder.cells(1)),
      .begin("memory@80000000"), .property("device_type", BlobBuilder.string("memory")), .property("reg", BlobBuilder.cells(0x8000_0000, 0x100_0000)), .end,
      // An IOMMU of a kind the scenarios lack, with no masters: a note
      // quotes its compatible.
      .begin("iommu@1000"), .property("compatible", BlobBuilder.string("acme,iommu\(injected)")), .property("#iommu-cells", BlobBuilder.cells(1)), .end,
      .begin("dev@2000"), .property("compatible", BlobBuilder.string("acme,dev\(injected)")), .property("#dma-cells", BlobBuilder.cells(1)), .end,
      .end,
    ]).build()
    let tree = try FlattenedDeviceTree(bytes: blob)
    let platform = try Platform(tree: tree)
    let model = try tree.root.property("model")?.string()
    let written = try platform.scenario(ScenarioOptions(), name: model)
    let parsed = try ScenarioParser.parse(written.text)
    // The statements read back are the ones written: no DMA was injected.
    #expect(parsed.statements.map(\.kind) == written.scenario.statements.map(\.kind))
    #expect(!parsed.statements.contains { if case .dma = $0.kind { true } else { false } })
    #expect(parsed.name == "Board 'x\\ndma dev from-device 0x80000000 4K\\n\\x1b]0;owned\\x07'")
    #expect(written.text.contains("# IOMMU /iommu@1000 (acme,iommux\\ndma dev from-device 0x80000000 4K\\n\\x1b]0;owned\\x07) has no masters and is left out\n"))
    #expect(!written.text.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" })
  }

  @Test("scenario names are sanitised and unique")
  func names() {
    var names = UniqueNames()
    #expect(names.make(for: "ethernet@ff0b0000") == "ethernet")
    #expect(names.make(for: "ethernet@ff0c0000") == "ethernet-ff0c0000")
    #expect(names.make(for: "ethernet@ff0c0000") == "ethernet-ff0c0000-2")
    #expect(names.make(for: "3d-engine") == "n-3d-engine")
    #expect(names.make(for: "gpu,core@0") == "gpu-core")
    #expect(names.make(for: "") == "node")
  }
}
