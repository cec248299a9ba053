extension FlattenedDeviceTree {
  /// The node a phandle names.
  /// - Throws: naming `property` when no node has that phandle.
  public func node(phandle: UInt32, referencedBy property: DeviceTreeProperty, of node: DeviceTreeNode) throws(DeviceTreeError) -> DeviceTreeNode {
    guard let index = phandles[phandle] else {
      throw DeviceTreeError(offset: property.offset, message: "expected '\(property.name)' of \(node.path) to reference a node, found phandle \(hex(phandle)) which no node has")
    }
    return nodes[index]
  }

  /// A cell-count property such as `#address-cells` of `node`, or
  /// `default` when absent.
  public func cellCount(_ name: String, of node: DeviceTreeNode, default value: UInt32?) throws(DeviceTreeError) -> UInt32? {
    guard let property = node.property(name) else { return value }
    let count = try property.cell()
    // Counts this large come from corrupted blobs; the bound keeps
    // `address + size` cell arithmetic far from overflow.
    guard count <= 128 else {
      throw DeviceTreeError(offset: property.offset, message: "expected '\(name)' of \(node.path) to be at most 128, found \(count)")
    }
    return count
  }

  /// Devicetree spec §2.3.5: `#address-cells` and `#size-cells` of a node's
  /// *parent* say how its `reg` is encoded; "if missing, a client program
  /// should assume a default value of 2 for #address-cells, and a value of
  /// 1 for #size-cells".
  public func addressAndSizeCells(for node: DeviceTreeNode) throws(DeviceTreeError) -> (address: UInt32, size: UInt32) {
    guard let parent = parent(of: node) else { return (2, 1) }
    return (
      try cellCount("#address-cells", of: parent, default: 2) ?? 2,
      try cellCount("#size-cells", of: parent, default: 1) ?? 1
    )
  }

  /// §2.3.6 `reg`: (address, length) pairs in the parent's cell sizes,
  /// untranslated (bus addresses; for children of the root they are CPU
  /// physical addresses).
  /// - Throws: when the length is not a whole number of pairs, or a number
  ///   needs more than 64 bits.
  public func reg(of node: DeviceTreeNode) throws(DeviceTreeError) -> [(address: UInt64, size: UInt64)] {
    guard let property = node.property("reg") else { return [] }
    let (addressCells, sizeCells) = try addressAndSizeCells(for: node)
    let cells = try property.cells()
    let stride = Int(addressCells + sizeCells)
    guard stride > 0, cells.count % stride == 0 else {
      throw DeviceTreeError(
        offset: property.offset,
        message: "expected 'reg' of \(node.path) to be (address, size) pairs of \(addressCells)+\(sizeCells) cells, found \(cells.count) cells")
    }
    var pairs: [(address: UInt64, size: UInt64)] = []
    for start in Swift.stride(from: 0, to: cells.count, by: stride) {
      let address = try DeviceTreeProperty.combine(cells[start..<start + Int(addressCells)], offset: property.offset, what: "a 'reg' address of \(node.path)")
      let size = try DeviceTreeProperty.combine(cells[start + Int(addressCells)..<start + stride], offset: property.offset, what: "a 'reg' size of \(node.path)")
      pairs.append((address, size))
    }
    return pairs
  }

  /// A phandle-with-arguments list (§2.4 style, as `iommus`, `dmas`,
  /// `clocks`): each entry is a phandle followed by as many cells as the
  /// referenced node's `cellsName` property says.
  /// - Throws: when a phandle dangles, the referenced node lacks
  ///   `cellsName`, or the list ends inside an entry.
  public func phandleList(
    _ property: DeviceTreeProperty, of node: DeviceTreeNode, cellsName: String
  ) throws(DeviceTreeError) -> [(target: DeviceTreeNode, arguments: [UInt32])] {
    let cells = try property.cells()
    var entries: [(target: DeviceTreeNode, arguments: [UInt32])] = []
    var index = 0
    while index < cells.count {
      let target = try self.node(phandle: cells[index], referencedBy: property, of: node)
      guard let count = try cellCount(cellsName, of: target, default: nil) else {
        throw DeviceTreeError(offset: property.offset, message: "expected \(target.path), referenced by '\(property.name)' of \(node.path), to have '\(cellsName)'")
      }
      guard cells.count - index - 1 >= Int(count) else {
        throw DeviceTreeError(offset: property.offset, message: "expected \(count) argument cell\(count == 1 ? "" : "s") after the phandle of \(target.path) in '\(property.name)' of \(node.path), found \(cells.count - index - 1)")
      }
      entries.append((target, Array(cells[index + 1..<index + 1 + Int(count)])))
      index += 1 + Int(count)
    }
    return entries
  }

  /// The node whose status (§2.3.4) keeps `node` from being used: the node
  /// itself or an ancestor; nil when all are available. Linux's
  /// `of_platform_populate()` does not create devices under an unavailable
  /// bus, so dom0 never drives them [derived; whether Xen's
  /// `handle_device()` still maps their resources for dom0 is not checked].
  public func disablingNode(of node: DeviceTreeNode) -> DeviceTreeNode? {
    var current: DeviceTreeNode? = node
    while let candidate = current {
      if !candidate.isAvailable { return candidate }
      current = parent(of: candidate)
    }
    return nil
  }
}
