import Spec

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
    try self.init(tree: tree, bindings: .bundled)
  }

  /// Extracts the platform with `bindings` deciding which compatibles
  /// master the bus (the bundled file, or the user's before it).
  package init(tree: FlattenedDeviceTree, bindings: DMABindings) throws(DeviceTreeError) {
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
    var warnings: [PlatformWarning] = []
    for node in tree.nodes.dropFirst() {
      if let property = node.property("iommus") {
        for entry in try tree.phandleList(property, of: node, cellsName: "#iommu-cells") {
          guard iommuPaths.contains(entry.target.path) else {
            throw DeviceTreeError(offset: property.offset, message: "expected 'iommus' of \(node.path) to reference an IOMMU, found \(entry.target.path)")
          }
          // iommu/iommu.txt: the specifier's meaning is the IOMMU's; for
          // the Arm SMMUs the first cell is the stream ID (arm,smmu.yaml:
          // a second cell is an SMR mask; arm,smmu-v3.yaml: one cell).
          var assignment = StreamAssignment(iommu: entry.target.path, binding: .iommus, streamIDs: entry.arguments.prefix(1).map { $0 }, offset: property.offset)
          if let mask = try Self.streamMatchMask(entry.arguments, smmu: entry.target), mask != 0, !assignment.streamIDs.isEmpty {
            assignment.streamMatchMasks = [mask]
          }
          streams[node.path, default: []].append(assignment)
        }
      }
      if let property = node.property("mmu-masters") {
        for (master, ids) in try Self.mmuMasters(property, of: node, in: tree) {
          streams[master.path, default: []].append(
            StreamAssignment(iommu: node.path, binding: .mmuMasters, streamIDs: ids, offset: property.offset))
        }
      }
      if let property = node.property("iommu-map") {
        let fslMC = node.compatible.contains("fsl,qoriq-mc")
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
            // A placeholder the bootloader fills in (U-Boot's
            // fdt_fixup_pcie() on Layerscape writes the map at boot).
            warnings.append(
              PlatformWarning(
                offset: property.offset,
                message: "'iommu-map' of \(node.path) has an entry of length 0, a placeholder the bootloader fills in; its \(fslMC ? "DPAA2 objects" : "PCI devices") are judged without those streams. Read the tree the firmware fixed up (/sys/firmware/fdt on the running board)"))
            continue
          }
          streams[node.path, default: []].append(
            StreamAssignment(
              iommu: target.path, binding: fslMC ? .fslMCMap : .iommuMap, streamIDs: [cells[start + 2]],
              requesterIDBase: cells[start], length: cells[start + 3], offset: property.offset))
        }
      }
    }

    try Self.linkPCIFunctions(in: tree, streams: &streams)

    var ram: [RAMBank] = []
    var memoryNodes = 0
    for node in tree.nodes.dropFirst() where node.deviceType == "memory" && tree.disablingNode(of: node) == nil {
      memoryNodes += 1
      let banks = try tree.reg(of: node).filter { $0.size > 0 }
      if banks.isEmpty {
        warnings.append(
          PlatformWarning(
            offset: node.offset,
            message: "memory node \(node.path) has no bank of non-zero size, a placeholder the bootloader fills in; give the RAM with --ram BASE:SIZE, or read the tree the firmware fixed up (/sys/firmware/fdt on the running board)"))
      }
      for (address, size) in banks {
        ram.append(RAMBank(address: address, size: size, node: node.path))
      }
    }
    if memoryNodes == 0 {
      warnings.append(
        PlatformWarning(
          offset: nil,
          message: "no memory node (device_type = \"memory\"): the bootloader adds it; give the RAM with --ram BASE:SIZE, or read the tree the firmware fixed up (/sys/firmware/fdt on the running board)"))
    }

    let availableIOMMUs = Set(iommus.filter(\.available).map(\.path))
    var devices: [PlatformDevice] = []
    for node in tree.nodes.dropFirst() {
      devices.append(
        try Self.classify(
          node, in: tree, streams: streams[node.path] ?? [], iommuPaths: iommuPaths, availableIOMMUs: availableIOMMUs, bindings: bindings))
    }
    self.init(iommus: iommus, ram: ram, reservations: tree.reservations, devices: devices, warnings: warnings, labels: Self.labels(in: tree))
  }

  /// The source's labels, node path → labels, from `/__symbols__`: dtc
  /// writes one string property per label, named by the label, holding the
  /// labelled node's full path, when run with `-@` (`--symbols`, dtc's
  /// Documentation/dt-object-internal.txt). A value that is
  /// not one string, or names no node, is left out: the labels are shown,
  /// never relied on.
  static func labels(in tree: FlattenedDeviceTree) -> [String: [String]] {
    guard let symbols = tree.node(at: "/__symbols__") else { return [:] }
    var labels: [String: [String]] = [:]
    for property in symbols.properties {
      guard let path = try? property.string(), tree.node(at: path) != nil else { continue }
      labels[path, default: []].append(property.name)
    }
    return labels
  }

  /// The node that keeps `node` from dom0: a disabled one (itself or an
  /// ancestor), else the nearest with `xen,passthrough` (Xen writes
  /// `status = "disabled"` into dom0's copy of it, `write_properties()`,
  /// `xen/arch/arm/domain_build.c`, RELEASE-4.15.0).
  static func dom0DisablingNode(of node: DeviceTreeNode, in tree: FlattenedDeviceTree) -> DeviceTreeNode? {
    if let disabled = tree.disablingNode(of: node) { return disabled }
    var current: DeviceTreeNode? = node
    while let candidate = current {
      if candidate.property("xen,passthrough") != nil { return candidate }
      current = tree.parent(of: candidate)
    }
    return nil
  }

  /// The platform with host RAM given by the user (`--ram`), replacing
  /// the memory nodes' (a bootloader fills those in, so a tree read before
  /// boot may have none).
  package func withRAM(_ banks: [(address: UInt64, size: UInt64)]) -> Platform {
    var copy = self
    copy.ram = banks.map { RAMBank(address: $0.address, size: $0.size, node: "--ram") }
    copy.warnings.removeAll { $0.message.contains("--ram BASE:SIZE") }
    return copy
  }

  /// Stream IDs of the PCI functions described below a host bridge
  /// (endpoints, root ports): pci/pci-iommu.txt maps a requester ID r
  /// through the host's `iommu-map` after masking it with `iommu-map-mask`
  /// (default all ones): the entry with rid-base ≤ r & mask < rid-base +
  /// length emits iommu-base + (r & mask − rid-base). Linux's `of_map_id()`
  /// and Xen's `dt_map_id()` (4.21, `iommu_add_dt_pci_sideband_ids()`) do
  /// the same. A function's RID is bits 23:8 of the first cell of its `reg`
  /// (phys.hi: bus, device, function; PCI bus binding, IEEE 1275), read
  /// when its parent has `#address-cells = <3>`. A mask of 0 sends every
  /// RID to one stream. The nearest ancestor with `iommu-map` is the host.
  static func linkPCIFunctions(in tree: FlattenedDeviceTree, streams: inout [String: [StreamAssignment]]) throws(DeviceTreeError) {
    for node in tree.nodes.dropFirst() {
      guard let parent = tree.parent(of: node), try tree.cellCount("#address-cells", of: parent, default: nil) == 3,
        let reg = node.property("reg"), let physHigh = try reg.cells().first
      else { continue }
      var ancestor: DeviceTreeNode? = parent
      while let current = ancestor, current.property("iommu-map") == nil { ancestor = tree.parent(of: current) }
      guard let host = ancestor, let map = host.property("iommu-map"), !host.compatible.contains("fsl,qoriq-mc") else { continue }
      let mask = try host.property("iommu-map-mask")?.cell() ?? 0xffff_ffff
      let rid = (physHigh >> 8) & 0xffff
      let masked = rid & mask
      let cells = try map.cells()
      for start in stride(from: 0, to: cells.count - cells.count % 4, by: 4) {
        let (base, length) = (cells[start], cells[start + 3])
        guard masked >= base, UInt64(masked) < UInt64(base) + UInt64(length) else { continue }
        let target = try tree.node(phandle: cells[start + 1], referencedBy: map, of: host)
        let (stream, overflow) = cells[start + 2].addingReportingOverflow(masked - base)
        guard !overflow else {
          throw DeviceTreeError(offset: map.offset, message: "expected 'iommu-map' of \(host.path) to map RID \(hex(rid)) of \(node.path) to a stream below 2^32, found an overflow")
        }
        streams[node.path, default: []].append(
          StreamAssignment(
            iommu: target.path, binding: .iommuMap, streamIDs: [stream], requesterID: rid, hostBridge: host.path, offset: map.offset))
        break
      }
    }
  }

  /// The SMR mask of an `iommus` specifier on an SMMUv1/v2, as
  /// `arm_smmu_dt_xlate_generic()` (smmu.c, RELEASE-4.16.0 … 4.21.0) reads
  /// it: `SMR_MASK_MASK & args[1]` when the specifier has a second cell,
  /// else `SMR_MASK_MASK & stream-match-mask` of the SMMU node when it has
  /// one (arm,smmu.yaml); nil for another IOMMU, whose specifier means
  /// something else.
  static func streamMatchMask(_ arguments: [UInt32], smmu: DeviceTreeNode) throws(DeviceTreeError) -> UInt32? {
    guard let kind = IOMMUKind.of(smmu.compatible), kind == .smmuV1 || kind == .smmuV2 else { return nil }
    if arguments.count > 1 { return arguments[1] & Device.streamMatchMaskLimit }
    guard let property = smmu.property("stream-match-mask") else { return nil }
    let cells = try property.cells()
    guard cells.count == 1 else {
      throw DeviceTreeError(offset: property.offset, message: "expected 'stream-match-mask' of \(smmu.path) to be one cell, found \(cells.count)")
    }
    return cells[0] & Device.streamMatchMaskLimit
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
  /// the reason, or nil. A PCIe host bridge is often an MSI controller too
  /// (`msi-controller` on Xilinx's nwl-pcie and Broadcom's brcmstb PCIe);
  /// that does not make it Xen's interrupt controller, so `masters` skips
  /// the interrupt-controller rule.
  static func structuralReason(
    _ node: DeviceTreeNode, in tree: FlattenedDeviceTree, iommuPaths: Set<String>, masters: Bool
  ) -> String? {
    if iommuPaths.contains(node.path) {
      return "an IOMMU: it translates other masters' DMA; whether Xen drives it is in Xen's view"
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
    if !masters, node.property("interrupt-controller") != nil || node.property("msi-controller") != nil {
      return "an interrupt controller: Xen owns the GIC and emulates it for dom0"
    }
    if isBusContainer(node) {
      return "a bus container (\(node.compatible.first ?? "simple-bus")): its children are judged one by one"
    }
    return nil
  }

  static func isBusContainer(_ node: DeviceTreeNode) -> Bool {
    node.compatible.contains(where: { ["simple-bus", "simple-pm-bus", "arm,amba-bus"].contains($0) })
  }

  /// Properties that make a node a provider of a resource other than DMA
  /// (clocks, resets, power domains, PWMs, PHYs, GPIOs, thermal sensors,
  /// mailboxes, IIO channels: the `#…-cells` of their bindings under
  /// Documentation/devicetree/bindings/{clock,reset,power,pwm,phy,gpio,
  /// thermal,mailbox,iio}). With no DMA evidence, such a node is that
  /// provider and not a master.
  static let providerProperties = [
    "#clock-cells": "a clock provider", "#reset-cells": "a reset controller", "#power-domain-cells": "a power-domain provider",
    "#pwm-cells": "a PWM controller", "#phy-cells": "a PHY", "gpio-controller": "a GPIO controller",
    "#thermal-sensor-cells": "a thermal sensor", "#mbox-cells": "a mailbox", "#io-channel-cells": "an ADC (IIO provider)",
  ]

  static func classify(
    _ node: DeviceTreeNode, in tree: FlattenedDeviceTree, streams: [StreamAssignment], iommuPaths: Set<String>,
    availableIOMMUs: Set<String>, bindings: DMABindings
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
    var coherentFrom: String?
    if node.property("dma-coherent") != nil {
      evidence.append(.dmaCoherent)
      coherentFrom = node.path
    } else {
      var ancestor = tree.parent(of: node)
      while let current = ancestor, coherentFrom == nil {
        if current.property("dma-coherent") != nil { coherentFrom = current.path }
        ancestor = tree.parent(of: current)
      }
      if let coherentFrom { evidence.append(.dmaCoherentInherited(from: coherentFrom)) }
    }
    if node.property("dma-ranges") != nil { evidence.append(.dmaRanges) }
    if node.deviceType == "pci" { evidence.append(.pciHostBridge) }
    let decision = bindings.decide(node, in: tree)
    if let decision, decision.rule.verdict == .master {
      evidence.append(.knownBusMaster(compatible: decision.compatible.isEmpty ? node.name : decision.compatible, family: decision.rule.family))
    }

    let showsMaster = evidence.contains(where: \.showsBusMaster)
    let classification: DMAClassification
    var decidingRule = decision
    if let reason = structuralReason(node, in: tree, iommuPaths: iommuPaths, masters: showsMaster) {
      classification = .notAMaster(reason: reason)
      decidingRule = nil
    } else if streams.contains(where: { availableIOMMUs.contains($0.iommu) }) {
      classification = .protected
      if decision?.rule.verdict != .master { decidingRule = nil }
    } else if showsMaster {
      // Stream IDs only on a disabled IOMMU also land here: Xen does not
      // probe that IOMMU, so nothing translates the device's DMA [derived].
      // The node's own properties outrank a not-master or bus rule.
      classification = .unprotected
      if decision?.rule.verdict != .master { decidingRule = nil }
    } else if !providers.isEmpty {
      // dmaengine maps a client's buffers for the controller's device
      // (`dmaengine_get_dma_device()`): the controller masters the bus and
      // is judged on its own.
      let names = providers.joined(separator: ", ")
      classification = .notAMaster(reason: "its DMA is done by \(names) (dmas), judged on its own")
      decidingRule = nil
    } else if let decision {
      if let bus = decision.bus {
        classification = .notAMaster(reason: "\(decision.rule.family) \(bus): \(decision.rule.reason)")
      } else {
        classification = .notAMaster(reason: "\(decision.rule.family): \(decision.rule.reason)")
      }
    } else if let provider = providerProperties.keys.sorted().first(where: { node.property($0) != nil }) {
      classification = .notAMaster(reason: "\(providerProperties[provider] ?? provider) (\(provider)) without DMA properties")
    } else if node.compatible.isEmpty {
      classification = .notAMaster(reason: "no compatible: no driver binds to it")
    } else if node.property("reg") == nil, let parent = tree.parent(of: node),
      parent.parent == nil || parent.property("ranges") != nil || isBusContainer(parent)
    {
      // On a memory-mapped bus a device's registers are its `reg`; with
      // none there is nothing for a driver to program to start a DMA
      // (virtual nodes: sound cards, display subsystems, connectors).
      classification = .notAMaster(reason: "no reg on a memory-mapped bus: no registers for a driver to program")
    } else {
      classification = .unknown
    }
    return PlatformDevice(
      path: node.path, name: node.name, compatible: node.compatible, disabledBy: dom0DisablingNode(of: node, in: tree)?.path,
      classification: classification, evidence: evidence, coherent: coherentFrom != nil,
      binding: decidingRule.map { "\($0.rule.location) (\($0.rule.source))" }, offset: node.offset,
      xenPassthrough: node.property("xen,passthrough") != nil, dmaRanges: try tree.dmaRangeMap(of: node))
  }

  /// The platform with `nodes` said to master the bus (`--assume-dma`): an
  /// unknown node or one judged not a master becomes an unprotected master.
  /// A node is named by its full path or, when unique, its node name.
  /// - Throws: when a name matches no node, or several, or a master
  ///   (where the assumption means nothing).
  package func assumingDMA(_ nodes: [String]) throws(DeviceTreeError) -> Platform {
    var copy = self
    for name in nodes {
      let index = try deviceIndex(name, option: "--assume-dma")
      switch devices[index].classification {
      case .unknown, .notAMaster:
        copy.devices[index].classification = .unprotected
        copy.devices[index].evidence.append(.assumedByUser)
      case .protected, .unprotected:
        throw DeviceTreeError(
          offset: nil, message: "expected --assume-dma to name an unknown device or one that is not a DMA master, but \(devices[index].path) is \(devices[index].classification.label)")
      }
    }
    return copy
  }

  /// The one device `name` names: its path, its node name when unique, or
  /// `&LABEL`, a label of the source (``labels``), as a DTS refers to it.
  func deviceIndex(_ name: String, option: String) throws(DeviceTreeError) -> Int {
    if name.hasPrefix("&") {
      let label = String(name.dropFirst())
      guard let path = labels.first(where: { $0.value.contains(label) })?.key, let index = devices.firstIndex(where: { $0.path == path }) else {
        throw DeviceTreeError(
          offset: nil,
          message: "expected \(option) '\(name)' to be a label of the source, found none called '\(label)'"
            + (labels.isEmpty ? " (the tree has no /__symbols__: a .dts has them, a .dtb only when compiled with dtc -@)" : ""))
      }
      return index
    }
    let matches = devices.indices.filter { devices[$0].path == name || devices[$0].name == name }
    guard let index = matches.first else {
      throw DeviceTreeError(offset: nil, message: "expected \(option) to name a node (a path or a node name), found '\(name)', which no node has")
    }
    guard matches.count == 1 || devices[index].path == name else {
      throw DeviceTreeError(offset: nil, message: "expected \(option) '\(name)' to name one node, but \(matches.map { devices[$0].path }.joined(separator: ", ")) have that name; give the path")
    }
    return index
  }

  /// The platform with `nodes` vouched DMA-free (`--assume-no-dma`). A node
  /// is named by its full path, when unique its node name, or `&LABEL`.
  /// - Throws: when a name matches no node, or several, or a protected
  ///   device or a non-master (where the assumption means nothing).
  public func assumingNoDMA(_ nodes: [String]) throws(DeviceTreeError) -> Platform {
    var copy = self
    for name in nodes {
      let index = try deviceIndex(name, option: "--assume-no-dma")
      if devices[index].evidence.contains(.assumedByUser) {
        throw DeviceTreeError(offset: nil, message: "expected a node in --assume-no-dma or --assume-dma, not both, found \(devices[index].path) in both")
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
