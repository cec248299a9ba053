/// What a node's properties and compatible say about its DMA.
public enum DMAEvidence: Hashable, Sendable, CustomStringConvertible {
  /// Stream IDs on an IOMMU.
  case streams(StreamAssignment)
  /// `#dma-cells`: a DMA controller (dma/dma-controller.yaml).
  case dmaProvider
  /// `dmas`: a client of these DMA controllers (dma/dma-common.yaml); the
  /// controller, not the client, masters the bus.
  case dmaConsumer(providers: [String])
  /// `dma-coherent` (a devicetree standard property; Linux
  /// `of_dma_is_coherent()`): only a bus master's coherency matters.
  case dmaCoherent
  /// `dma-coherent` on an ancestor bus: Linux's `of_dma_is_coherent()`
  /// walks up the DMA parents, so the node is coherent *if* it masters the
  /// bus, but the bus's property does not say that it does.
  case dmaCoherentInherited(from: String)
  /// `dma-ranges` (devicetree spec "dma-ranges"): how DMA addresses of the
  /// node's bus map to its parent's. A property of a bus, not evidence that
  /// the node itself masters it (Tegra's memory controller has one).
  case dmaRanges
  /// `device_type = "pci"`: a PCI host bridge, whose endpoints master the bus.
  case pciHostBridge
  /// A `master` rule of the bindings file (``DMABindings``) selects the node.
  case knownBusMaster(compatible: String, family: String)
  /// `--assume-dma`: the user says it masters the bus.
  case assumedByUser

  public var description: String {
    switch self {
    case .streams(let assignment):
      if let rid = assignment.requesterID, let host = assignment.hostBridge {
        "iommu-map of \(host): RID \(hex(rid)) → stream \(hex(assignment.streamIDs.first ?? 0)) on \(assignment.iommu)"
      } else if let base = assignment.requesterIDBase, let length = assignment.length, assignment.binding == .fslMCMap {
        "fsl-mc iommu-map: ICIDs \(hex(base))–\(hex(UInt64(base) + UInt64(length) - 1)) of DPAA2 objects → streams \(hex(assignment.streamIDs.first ?? 0))… on \(assignment.iommu)"
      } else if let base = assignment.requesterIDBase, let length = assignment.length {
        "iommu-map: RIDs \(hex(base))–\(hex(UInt64(base) + UInt64(length) - 1)) → streams \(hex(assignment.streamIDs.first ?? 0))… on \(assignment.iommu)"
      } else {
        "\(assignment.binding.rawValue): stream\(assignment.streamIDs.count == 1 ? "" : "s") \(assignment.streamIDs.map { hex($0) }.joined(separator: ",")) on \(assignment.iommu)"
      }
    case .dmaProvider: "#dma-cells (a DMA controller)"
    case .dmaConsumer(let providers): "dmas → \(providers.joined(separator: ", "))"
    case .dmaCoherent: "dma-coherent"
    case .dmaCoherentInherited(let from): "dma-coherent inherited from \(from)"
    case .assumedByUser: "--assume-dma: the user says it masters the bus"
    case .dmaRanges: "dma-ranges"
    case .pciHostBridge: "device_type = \"pci\" (a PCI host bridge)"
    case .knownBusMaster(let compatible, let family): "compatible \"\(compatible)\" is a known bus master (\(family))"
    }
  }

  /// Whether this shows that the node itself masters the bus.
  var showsBusMaster: Bool {
    switch self {
    case .streams, .dmaProvider, .dmaCoherent, .pciHostBridge, .knownBusMaster, .assumedByUser: true
    case .dmaConsumer, .dmaRanges, .dmaCoherentInherited: false
    }
  }
}
