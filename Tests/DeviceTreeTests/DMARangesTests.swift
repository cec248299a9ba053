import Scenario
import Spec
import Testing

@testable import DeviceTree

/// `dma-ranges` as Linux's `of_dma_get_range()` reads them, on the estuary
/// fixture (an invented board): an offset passed down through an empty
/// `dma-ranges`, a limited window, no property, and an empty one under a
/// node without any.
@Suite("dma-ranges: of_dma_get_range on the estuary fixture")
struct DMARangesTests {
  static func ranges(_ path: String) throws -> DMARangeMap? {
    let platform = try Fixtures.platform("estuary")
    return try #require(platform.devices.first { $0.path == path }).dmaRanges
  }

  @Test("each device gets its bus's map, or none, as the walk decides")
  func maps() throws {
    #expect(
      try Self.ranges("/legacy-bus/inner-bus/dma-controller@10000000")
        == DMARangeMap(regions: [DMARegion(cpuStart: 0x4000_0000, dmaStart: 0, size: 0x4000_0000)], node: "/legacy-bus"))
    #expect(
      try Self.ranges("/low-bus/ethernet@20000000")
        == DMARangeMap(regions: [DMARegion(cpuStart: 0x4000_0000, dmaStart: 0x4000_0000, size: 0x1000_0000)], node: "/low-bus"))
    #expect(try Self.ranges("/plain-bus/mmc@21000000") == nil)
    // An empty dma-ranges whose parent has none: -ENODEV, no map.
    #expect(try Self.ranges("/plain-bus/orphan-bus/sata@22000000") == nil)
  }

  @Test("the board's scenario carries the regions, and one note per such device says the matrix does not cover it")
  func scenario() throws {
    let board = try Fixtures.platform("estuary").scenario(ScenarioOptions())
    let regions = board.scenario.statements.compactMap { statement -> [DMARegion]? in
      if case .device(let device) = statement.kind { device.dmaRegions } else { nil }
    }
    #expect(regions.filter { !$0.isEmpty }.count == 2)
    // The Xen view's note, once: the scenario's notes include the view's.
    #expect(board.notes.filter { $0.hasPrefix("/low-bus/ethernet@20000000 has dma-ranges (of /low-bus: ") && $0.contains("does not cover them") }.count == 1)
    #expect(board.notes.filter { $0.contains("dma-ranges") }.count == 2, "\(board.notes)")
  }

  @Test("the Xen view notes each attached master with dma-ranges as outside the matrix's verdicts")
  func xenViewNote() throws {
    let view = try Fixtures.platform("estuary").xenView(ScenarioOptions())
    #expect(view.notes.contains { $0.hasPrefix("/low-bus/ethernet@20000000 has dma-ranges (of /low-bus: ") && $0.contains("does not cover them") })
    #expect(!view.notes.contains { $0.hasPrefix("/plain-bus/mmc@21000000") })
  }

  @Test("a dma-ranges that is not whole triples is an error naming the node and the cell counts")
  func malformed() throws {
    let blob = BlobBuilder(tokens: [
      .begin(""), .property("#address-cells", [0, 0, 0, 1]), .property("#size-cells", [0, 0, 0, 1]),
      .begin("bus"), .property("#address-cells", [0, 0, 0, 1]), .property("#size-cells", [0, 0, 0, 1]),
      .property("dma-ranges", [0, 0, 0, 0, 0, 0, 0, 0]),
      .begin("dev@0"), .property("compatible", Array("arm,pl330\0".utf8)), .end, .end, .end,
    ]).build()
    let tree = try FlattenedDeviceTree(bytes: blob)
    let device = try #require(tree.nodes.first { $0.path == "/bus/dev@0" })
    #expect(throws: DeviceTreeError.self) { try tree.dmaRangeMap(of: device) }
    do {
      _ = try tree.dmaRangeMap(of: device)
    } catch {
      #expect(error.message.contains("expected 'dma-ranges' of /bus to be (bus address, parent address, size) triples of 1+1+1 cells, found 2 cells"))
    }
  }
}
