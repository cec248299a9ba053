extension Platform {
  /// Extracts the platform from a device tree.
  ///
  /// Stream IDs come from all three bindings: `iommus` on the master,
  /// `mmu-masters` in the SMMU node, `iommu-map` on a PCI host bridge.
  /// Every node other than the root is classified (see
  /// ``DMAClassification``); disabled ones too, with ``PlatformDevice/disabledBy``
  /// set, so that `--all` can list them.
  /// - Throws: ``DeviceTreeError`` at the offending property when a
  ///   reference dangles or a cell list has the wrong length.
  public init(tree: FlattenedDeviceTree) throws(DeviceTreeError) {
    var iommus: [PlatformIOMMU] = []
    for node in tree.nodes.dropFirst() {
      let hasCells = node.property("#iommu-cells") != nil
      guard let kind = IOMMUKind.of(node.compatible) ?? (hasCells ? .other : nil) else { continue }
      iommus.append(
        PlatformIOMMU(
          path: node.path, name: node.name, compatible: node.compatible, kind: kind,
          iommuCells: try tree.cellCount("#iommu-cells", of: node, default: nil),
          available: tree.disablingNode(of: node) == nil))
    }
    let iommuPaths = Set(iommus.map(\.path))

    var streams: [String: [StreamAssignment]] = [:]
    for node in tree.nodes.dropFirst() {
      if let property = node.property("iommus") {
        for entry in try tree.phandleList(property, of: node, cellsName: "#iommu-cells") {
          guard iommuPaths.contains(entry.target.path) else {
            throw DeviceTreeError(offset: property.offset, message: "expected 'iommus' of \(node.path) to reference an IOMMU, found \(entry.target.path)")
          }
          // iommu/iommu.txt: the specifier's meaning is the IOMMU's; for
          // the Arm SMMUs the first cell is the stream ID (arm,smmu.yaml:
          // a second cell is an SMR mask; arm,smmu-v3.yaml: one cell).
          streams[node.path, default: []].append(
            StreamAssignment(iommu: entry.target.path, binding: .iommus, streamIDs: entry.arguments.prefix(1).map { $0 }, offset: property.offset))
        }
      }
      if let property = node.property("mmu-masters") {
        for (master, ids) in try Self.mmuMasters(property, of: node, in: tree) {
          streams[master.path, default: []].append(
            StreamAssignment(iommu: node.path, binding: .mmuMasters, streamIDs: ids, offset: property.offset))
        }
      }
      if let property = node.property("iommu-map") {
        let cells = try property.cells()
        // pci/pci-iommu.txt: (rid-base, iommu, iommu-base, length), one
        // cell each; Linux's `of_map_id()` reads it as 4-cell entries.
        guard cells.count % 4 == 0, !cells.isEmpty else {
          throw DeviceTreeError(offset: property.offset, message: "expected 'iommu-map' of \(node.path) to be (rid-base, iommu, iommu-base, length) entries of 4 cells, found \(cells.count) cells")
        }
        for start in stride(from: 0, to: cells.count, by: 4) {
          let target = try tree.node(phandle: cells[start + 1], referencedBy: property, of: node)
          guard iommuPaths.contains(target.path) else {
            throw DeviceTreeError(offset: property.offset, message: "expected 'iommu-map' of \(node.path) to reference an IOMMU, found \(target.path)")
          }
          guard cells[start + 3] > 0 else {
            throw DeviceTreeError(offset: property.offset, message: "expected a non-zero length in 'iommu-map' of \(node.path), found 0")
          }
          streams[node.path, default: []].append(
            StreamAssignment(
              iommu: target.path, binding: .iommuMap, streamIDs: [cells[start + 2]],
              requesterIDBase: cells[start], length: cells[start + 3], offset: property.offset))
        }
      }
    }

    var ram: [RAMBank] = []
    for node in tree.nodes.dropFirst() where node.deviceType == "memory" && tree.disablingNode(of: node) == nil {
      for (address, size) in try tree.reg(of: node) where size > 0 {
        ram.append(RAMBank(address: address, size: size, node: node.path))
      }
    }

    let availableIOMMUs = Set(iommus.filter(\.available).map(\.path))
    var devices: [PlatformDevice] = []
    for node in tree.nodes.dropFirst() {
      devices.append(
        try Self.classify(node, in: tree, streams: streams[node.path] ?? [], iommuPaths: iommuPaths, availableIOMMUs: availableIOMMUs))
    }
    self.init(iommus: iommus, ram: ram, reservations: tree.reservations, devices: devices)
  }

  /// iommu/arm,smmu.yaml, legacy binding: `mmu-masters` is a list of
  /// phandles to masters, each followed by as many stream IDs as that
  /// master's `#stream-id-cells` says.
  static func mmuMasters(
    _ property: DeviceTreeProperty, of smmu: DeviceTreeNode, in tree: FlattenedDeviceTree
  ) throws(DeviceTreeError) -> [(DeviceTreeNode, [UInt32])] {
    try tree.phandleList(property, of: smmu, cellsName: "#stream-id-cells").map { ($0.target, $0.arguments) }
  }

  /// Container and infrastructure nodes that are not devices dom0 drives:
  /// the reason, or nil.
  static func structuralReason(_ node: DeviceTreeNode, in tree: FlattenedDeviceTree, iommuPaths: Set<String>) -> String? {
    if iommuPaths.contains(node.path) {
      return "an IOMMU: Xen drives it and hides it from dom0 (fact sheet §6.3)"
    }
    var ancestor: DeviceTreeNode? = node
    while let current = ancestor {
      switch current.name {
      case "chosen", "aliases", "__symbols__", "__fixups__", "__local_fixups__":
        return "/\(current.name) carries configuration, not a device"
      case "cpus":
        return "a CPU"
      case "reserved-memory":
        return "a reserved-memory region, not a device"
      default:
        break
      }
      if current.path != node.path, iommuPaths.contains(current.path) { return "part of IOMMU \(current.path)" }
      ancestor = tree.parent(of: current)
    }
    if node.deviceType == "memory" { return "a memory node: host RAM" }
    if node.deviceType == "cpu" { return "a CPU" }
    if node.property("interrupt-controller") != nil || node.property("msi-controller") != nil {
      return "an interrupt controller: Xen owns the GIC and emulates it for dom0"
    }
    if node.compatible.contains(where: { ["simple-bus", "simple-pm-bus", "arm,amba-bus"].contains($0) }) {
      return "a bus container (\(node.compatible.first ?? "simple-bus")): its children are judged one by one"
    }
    return nil
  }

  static func classify(
    _ node: DeviceTreeNode, in tree: FlattenedDeviceTree, streams: [StreamAssignment], iommuPaths: Set<String>,
    availableIOMMUs: Set<String>
  ) throws(DeviceTreeError) -> PlatformDevice {
    var evidence: [DMAEvidence] = streams.map { .streams($0) }
    if node.property("#dma-cells") != nil { evidence.append(.dmaProvider) }
    var providers: [String] = []
    if let property = node.property("dmas") {
      for entry in try tree.phandleList(property, of: node, cellsName: "#dma-cells") where !providers.contains(entry.target.path) {
        providers.append(entry.target.path)
      }
      evidence.append(.dmaConsumer(providers: providers))
    }
    if node.property("dma-coherent") != nil { evidence.append(.dmaCoherent) }
    if node.property("dma-ranges") != nil { evidence.append(.dmaRanges) }
    if node.deviceType == "pci" { evidence.append(.pciHostBridge) }
    if let known = KnownDevices.match(node.compatible, in: KnownDevices.busMasters) {
      evidence.append(.knownBusMaster(compatible: known.compatible, family: known.entry.family))
    }

    let classification: DMAClassification
    if let reason = structuralReason(node, in: tree, iommuPaths: iommuPaths) {
      classification = .notAMaster(reason: reason)
    } else if streams.contains(where: { availableIOMMUs.contains($0.iommu) }) {
      classification = .protected
    } else if evidence.contains(where: \.showsBusMaster) {
      // Stream IDs only on a disabled IOMMU also land here: Xen does not
      // probe that IOMMU, so nothing translates the device's DMA [derived].
      classification = .unprotected
    } else if !providers.isEmpty {
      // dmaengine maps a client's buffers for the controller's device
      // (`dmaengine_get_dma_device()`): the controller masters the bus and
      // is judged on its own.
      let names = providers.joined(separator: ", ")
      classification = .notAMaster(reason: "its DMA is done by \(names) (dmas), judged on its own")
    } else if let known = KnownDevices.match(node.compatible, in: KnownDevices.nonMasters) {
      classification = .notAMaster(reason: "\(known.entry.family): \(known.entry.reason)")
    } else if node.property("#clock-cells") != nil {
      classification = .notAMaster(reason: "a clock provider (#clock-cells) without DMA properties")
    } else if node.compatible.isEmpty {
      classification = .notAMaster(reason: "no compatible: no driver binds to it")
    } else {
      classification = .unknown
    }
    return PlatformDevice(
      path: node.path, name: node.name, compatible: node.compatible, disabledBy: tree.disablingNode(of: node)?.path,
      classification: classification, evidence: evidence, coherent: node.property("dma-coherent") != nil,
      offset: node.offset)
  }

  /// The platform with `nodes` vouched DMA-free (`--assume-no-dma`). A node
  /// is named by its full path or, when unique, its node name.
  /// - Throws: when a name matches no node, or several, or a protected
  ///   device or a non-master (where the assumption means nothing).
  public func assumingNoDMA(_ nodes: [String]) throws(DeviceTreeError) -> Platform {
    var copy = self
    for name in nodes {
      let matches = devices.indices.filter { devices[$0].path == name || devices[$0].name == name }
      guard let index = matches.first else {
        throw DeviceTreeError(offset: nil, message: "expected --assume-no-dma to name a node (a path or a node name), found '\(name)', which no node has")
      }
      guard matches.count == 1 || devices[index].path == name else {
        throw DeviceTreeError(offset: nil, message: "expected --assume-no-dma '\(name)' to name one node, but \(matches.map { devices[$0].path }.joined(separator: ", ")) have that name; give the path")
      }
      switch devices[index].classification {
      case .unknown, .unprotected:
        copy.devices[index].assumedNoDMA = true
      case .protected, .notAMaster:
        throw DeviceTreeError(offset: nil, message: "expected --assume-no-dma to name an unknown or unprotected device, but \(devices[index].path) is \(devices[index].classification.label)")
      }
    }
    return copy
  }
}
