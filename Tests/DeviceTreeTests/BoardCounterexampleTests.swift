import Scenario
import Spec
import Testing

@testable import DeviceTree

/// A matrix counterexample moved onto a board keeps its steps' roles and
/// takes the board's addresses and device.
@Suite("Counterexamples on the board")
struct BoardCounterexampleTests {
  /// What `dma.matrix[global-flag/direct-mapped/not-behind-smmu/grant/one-page/before-fix].integrity`
  /// printed on the reference platform (64 MiB at 0x4000_0000, extended
  /// region at 0x8000_0000).
  static let grant = """
    scenario "dma.matrix global-flag/direct-mapped/not-behind-smmu/grant/one-page/before-fix: integrity refuted"
    xen 4.14
    ipa-bits 40
    ram 0x40000000 64M
    iommu on
    hypercall-cflush on
    linux global-flag
    smmu smmu0 v2
    device dev untranslated non-coherent dma-mask 32
    swiotlb 0x41fc0000 256K
    dom0 direct-mapped memory 32M
    domu guest id 1 memory 0x42000000 16M base 0x10000000
    p2m guest map 0x10008000 0x42000000 ram_rw
    grant guest 0x10008000 to dom0 at 0x80000000 rw as page0
    dma dev from-device 0x80000800 2K

    """

  /// A local page of a coloured dom0: the model placed dom0's page
  /// 0x4000_1000 on frame 0x4000_6000 (a frame of dom0's colours).
  static let local = """
    scenario "dma.matrix merged-flags/coloured/not-behind-smmu/local/one-page/after-fix: integrity refuted"
    xen 4.21
    ipa-bits 40
    ram 0x40000000 64M
    llc-colours 16
    iommu on
    hypercall-cflush on
    linux merged-flags
    smmu smmu0 v2
    device dev untranslated non-coherent dma-mask 64
    swiotlb 0x41fc0000 256K
    dom0 coloured 0-7 memory 32M
    domu guest id 1 coloured 8-15 pages 6144 base 0x10000000
    p2m dom0 map 0x40001000 0x40006000 ram_rw
    dma dev from-device 0x40001800 2K

    """

  @Test("a grant counterexample: the guest after dom0's RAM, the grant in the hole above the board's RAM, the board's device")
  func grantOnTheBoard() throws {
    // crest: 2 GiB of RAM at 0, IPA 40 bits, dom0 64 MiB, a Mali GPU not behind the SMMU.
    let board = try Fixtures.platform("crest")
    let options = ScenarioOptions(dom0: .directMapped, policy: .globalFlag, xen: .latest)
    let moved = try board.counterexample(Self.grant, options: options, device: "/gpu@fd4b0000")
    #expect(moved.steps == [
      "p2m guest map 0x10008000 0x4000000 ram_rw",
      "grant guest 0x10008000 to dom0 at 0x80000000 rw as page0",
      "dma gpu from-device 0x80000800 2K",
    ])
    #expect(moved.scenario.contains("domu guest id 1 memory 0x4000000 16M base 0x10000000"))
    #expect(moved.scenario.contains("hypercall-cflush on"))
    // An untranslated device DMAs to the guest frame's GFN-based address:
    // not the granted frame, on the board as on the matrix's platform.
    #expect(moved.outcome.hasPrefix("CORRUPTION") || moved.outcome.hasPrefix("FAULT"), "\(moved.outcome)")
    // The rewritten scenario runs as it is printed.
    let report = try ScenarioRunner.run(try ScenarioParser.parse(moved.scenario))
    #expect(report.steps.last?.dma != nil)
  }

  @Test("a local counterexample keeps its offset into dom0's RAM, which the board puts at its own RAM")
  func localOnTheBoard() throws {
    let board = try Fixtures.platform("crest")
    let options = ScenarioOptions(dom0: .coloured(colours: Array(0...7)), policy: .mergedFlags)
    let moved = try board.counterexample(Self.local, options: options, device: "/gpu@fd4b0000")
    #expect(moved.steps == ["p2m dom0 map 0x1000 0x6000 ram_rw", "dma gpu from-device 0x1800 2K"])
    // The guest takes the colours dom0 leaves.
    #expect(moved.scenario.contains("domu guest id 1 coloured 8-15 pages 6144 base 0x10000000"))
    // A coloured dom0's GFN is not its frame: an untranslated device
    // writes the wrong page, on the board as in the matrix.
    #expect(moved.outcome == "CORRUPTION via dma-direct", "\(moved.outcome)")
  }

  @Test("a board whose memory nodes list a high bank first: the counterexample lands in the lowest bank, where the runner boots dom0")
  func banksOutOfOrder() throws {
    var board = try Fixtures.platform("crest")
    board.ram = [RAMBank(address: 0x8_0000_0000, size: 0x8000_0000, node: "/memory@800000000"), RAMBank(address: 0, size: 0x8000_0000, node: "/memory@0")]
    let options = ScenarioOptions(dom0: .coloured(colours: Array(0...7)), policy: .mergedFlags)
    let moved = try board.counterexample(Self.local, options: options, device: "/gpu@fd4b0000")
    #expect(moved.steps == ["p2m dom0 map 0x1000 0x6000 ram_rw", "dma gpu from-device 0x1800 2K"])
    #expect(moved.outcome == "CORRUPTION via dma-direct", "\(moved.outcome)")
  }

  @Test("a board that cannot hold the counterexample says why: a device it does not have, an address outside dom0's memory")
  func refusals() throws {
    let board = try Fixtures.platform("crest")
    #expect(throws: DeviceTreeError.self) {
      try board.counterexample(Self.grant, options: ScenarioOptions(policy: .globalFlag), device: "/no-such-device")
    }
    let stray = Self.local.replacingOccurrences(of: "dma dev from-device 0x40001800 2K", with: "dma dev from-device 0x43000800 2K")
    #expect {
      try board.counterexample(stray, options: ScenarioOptions(dom0: .coloured(colours: Array(0...7)), policy: .mergedFlags), device: "/gpu@fd4b0000")
    } throws: { error in
      "\(error)".contains("neither dom0's RAM nor its extended region")
    }
  }
}
