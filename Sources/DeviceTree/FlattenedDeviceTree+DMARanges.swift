import Spec

/// The `dma-ranges` Linux applies to a device, and where they come from.
public struct DMARangeMap: Hashable, Sendable {
  /// The regions, as `of_dma_get_range()` builds `dev->dma_range_map`.
  public var regions: [DMARegion]
  /// The node whose `dma-ranges` gave them.
  public var node: String
}

extension FlattenedDeviceTree {
  /// `of_dma_get_range(np, &map)` as `of_dma_configure_id()` asks it
  /// (drivers/of/address.c and device.c, v5.10 … current): from the device
  /// node upward, the first node with a non-empty `dma-ranges` gives the
  /// map; an empty one ("no translation required") passes on to its
  /// parent, and once the walk has left the device node a node *without*
  /// `dma-ranges` ends it with no map (-ENODEV: DMA addresses are physical
  /// ones). nil when there is no map.
  ///
  /// Each entry of that `dma-ranges` is (bus address: the node's
  /// `#address-cells`; parent address: its parent's; size: the node's
  /// `#size-cells`; `of_dma_range_parser_init()`), and the parent address
  /// is taken to the CPU through the non-empty `dma-ranges` of the nodes
  /// above it (`of_translate_dma_address()`); an entry that no such
  /// `dma-ranges` covers is skipped, as Linux skips `OF_BAD_ADDR`.
  /// **[derived simplification]** Cell counts missing on a node default as
  /// everywhere in this reader (2 and 1), where Linux looks further up.
  /// - Throws: an entry list that is not a whole number of triples, or a
  ///   value of more than 64 bits.
  public func dmaRangeMap(of node: DeviceTreeNode) throws(DeviceTreeError) -> DMARangeMap? {
    var current: DeviceTreeNode? = node
    var left = false
    while let here = current {
      if let property = here.property("dma-ranges") {
        if !property.value.isEmpty {
          var regions: [DMARegion] = []
          for entry in try dmaRanges(of: here, property) {
            guard let cpu = try translateUp(entry.parent, from: here) else { continue }
            regions.append(DMARegion(cpuStart: cpu, dmaStart: entry.bus, size: entry.size))
          }
          return regions.isEmpty ? nil : DMARangeMap(regions: regions, node: here.path)
        }
      } else if left {
        return nil
      }
      left = true
      current = parent(of: here)
    }
    return nil
  }

  /// The (bus, parent, size) entries of `node`'s `dma-ranges`.
  func dmaRanges(of node: DeviceTreeNode, _ property: DeviceTreeProperty) throws(DeviceTreeError) -> [(bus: UInt64, parent: UInt64, size: UInt64)] {
    let busCells = try cellCount("#address-cells", of: node, default: 2) ?? 2
    let sizeCells = try cellCount("#size-cells", of: node, default: 1) ?? 1
    let parentCells = try addressAndSizeCells(for: node).address
    let cells = try property.cells()
    let stride = Int(busCells + parentCells + sizeCells)
    guard stride > 0, cells.count % stride == 0 else {
      throw DeviceTreeError(
        offset: property.offset,
        message: "expected 'dma-ranges' of \(node.path) to be (bus address, parent address, size) triples of \(busCells)+\(parentCells)+\(sizeCells) cells, found \(cells.count) cells")
    }
    var entries: [(bus: UInt64, parent: UInt64, size: UInt64)] = []
    for start in Swift.stride(from: 0, to: cells.count, by: stride) {
      let what = "a 'dma-ranges' entry of \(node.path)"
      let bus = try DeviceTreeProperty.combine(cells[start..<start + Int(busCells)], offset: property.offset, what: what)
      let parentStart = start + Int(busCells)
      let parentAddress = try DeviceTreeProperty.combine(cells[parentStart..<parentStart + Int(parentCells)], offset: property.offset, what: what)
      let size = try DeviceTreeProperty.combine(cells[parentStart + Int(parentCells)..<start + stride], offset: property.offset, what: what)
      if size > 0 { entries.append((bus, parentAddress, size)) }
    }
    return entries
  }

  /// `address` on `node`'s parent bus, as a CPU address: through each
  /// ancestor's non-empty `dma-ranges` (an empty or missing one is the
  /// identity here); nil when one does not cover it.
  func translateUp(_ address: UInt64, from node: DeviceTreeNode) throws(DeviceTreeError) -> UInt64? {
    var address = address
    var current = parent(of: node)
    while let here = current, here.parent != nil {
      if let property = here.property("dma-ranges"), !property.value.isEmpty {
        let entries = try dmaRanges(of: here, property)
        guard let entry = entries.first(where: { address >= $0.bus && address - $0.bus < $0.size }) else { return nil }
        address = entry.parent &+ (address - entry.bus)
      }
      current = parent(of: here)
    }
    return address
  }
}
