/// How Linux mapped the buffer.
public enum DMAMappingKind: String, Hashable, Sendable, Codable {
  /// swiotlb-xen without a bounce: the device gets `xen_phys_to_bus(p)`.
  case direct
  /// swiotlb-xen through a bounce slot in the pool.
  case bounce
  /// dma-direct: the device gets `phys_to_dma(p)` = p.
  case dmaDirect = "dma-direct"
}
