/// Why a DMA request is not a meaningful input to the model.
public enum DMARequestError: Error, Hashable, Sendable, CustomStringConvertible {
  /// Zero bytes, more than ``maximumDMASize``, or a buffer that wraps past
  /// the top of the address space.
  case sizeOutOfRange(phys: UInt64, size: UInt64)
  /// A buffer byte whose dom0 GFN has no p2m entry: dom0 could not have
  /// filled or used such a buffer, so the ideal DMA is undefined.
  case bufferNotMapped(GFN)
  case unknownDevice(String)
  /// `dma_set_mask()` refused the device's mask: under swiotlb-xen,
  /// `xen_swiotlb_dma_supported()` wants the bus address of the pool's
  /// last byte within the mask, so the driver never maps a buffer.
  case maskBelowPool(device: String, maskBits: Int, poolLast: UInt64)

  public var description: String {
    switch self {
    case .sizeOutOfRange(let phys, let size): "a DMA of \(size) bytes at \(hex(phys)) is outside the model"
    case .bufferNotMapped(let gfn): "the buffer's \(gfn) is not mapped in dom0's p2m"
    case .unknownDevice(let name): "no device called \(name)"
    case .maskBelowPool(let device, let bits, let last):
      "dma_set_mask() refuses \(device)'s \(bits)-bit DMA mask: the swiotlb-xen pool ends at bus address \(hex(last)) (xen_swiotlb_dma_supported)"
    }
  }
}

/// The largest DMA the model accepts: 1 MiB, 256 Xen pages. It bounds the
/// unrolled straddle test and the page-by-page device access; Linux's own
/// limit for a bounced mapping is smaller (``SwiotlbPool/maximumMappingSize``).
public let maximumDMASize: UInt64 = 1 << 20

/// Checks `[phys, phys + size)` against ``maximumDMASize`` and wrap-around.
func validateDMARange(_ phys: UInt64, size: UInt64) throws(DMARequestError) {
  guard size > 0, size <= maximumDMASize, phys <= UInt64.max - (size - 1) else {
    throw .sizeOutOfRange(phys: phys, size: size)
  }
}
