import Spec

public struct PlatformDevice: Hashable, Sendable {
  public var path: String
  public var name: String
  public var compatible: [String]
  /// The node whose status disables this one (itself or an ancestor).
  public var disabledBy: String?
  public var classification: DMAClassification
  public var evidence: [DMAEvidence]
  /// `dma-coherent` on the node or an ancestor (`of_dma_is_coherent()`):
  /// Linux treats the device as snooping CPU caches.
  public var coherent: Bool
  /// The bindings-file rule that decided the class (`file:line` and the
  /// Linux binding or driver it cites), when one did.
  package var binding: String?
  /// Set by ``Platform/assumingNoDMA(_:)``: the user vouches that dom0
  /// never makes it master the bus.
  public var assumedNoDMA = false
  /// Offset of the node's FDT_BEGIN_NODE token.
  public var offset: Int
  /// The node has `xen,passthrough`: Xen keeps it for a guest. It does
  /// not add it to the IOMMU for dom0 and gives dom0 `status = "disabled"`
  /// (`handle_device()` and `write_properties()`,
  /// `xen/arch/arm/domain_build.c`, RELEASE-4.15.0), so it and the nodes
  /// below it have ``disabledBy`` set to it.
  public var xenPassthrough = false
  /// The `dma-ranges` Linux gives the device (``FlattenedDeviceTree/dmaRangeMap(of:)``);
  /// nil: its DMA addresses are physical ones.
  public var dmaRanges: DMARangeMap?

  /// Stream assignments on SMMUs, from any binding.
  public var streams: [StreamAssignment] {
    evidence.compactMap { if case .streams(let assignment) = $0 { assignment } else { nil } }
  }
}
