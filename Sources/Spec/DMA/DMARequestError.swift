/// Why a DMA request is not a meaningful input to the model.
public enum DMARequestError: Error, Hashable, Sendable, CustomStringConvertible {
  /// Zero bytes, more than ``maximumDMASize``, or a buffer that wraps past
  /// the top of the address space.
  case sizeOutOfRange(phys: UInt64, size: UInt64)
  /// A buffer byte whose dom0 GFN has no p2m entry: dom0 could not have
  /// filled or used such a buffer, so the ideal DMA is undefined.
  case bufferNotMapped(GFN)
  case unknownDevice(String)

  public var description: String {
    switch self {
    case .sizeOutOfRange(let phys, let size): "a DMA of \(size) bytes at \(hex(phys)) is outside the model"
    case .bufferNotMapped(let gfn): "the buffer's \(gfn) is not mapped in dom0's p2m"
    case .unknownDevice(let name): "no device called \(name)"
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
