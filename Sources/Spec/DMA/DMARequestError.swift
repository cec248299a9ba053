/// Why a DMA request is not a meaningful input to the model.
public enum DMARequestError: Error, Hashable, Sendable, CustomStringConvertible {
  /// More than ``maximumDMASize``, or a buffer that wraps past the top of
  /// the address space.
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

/// The largest DMA the model accepts: 64 MiB, 16 384 Xen pages. Linux
/// has no such bound for a mapping it does not bounce (`dma_map_page()`
/// takes any `size_t`; a contiguous buffer of any size maps directly), and
/// refuses to bounce more than ``SwiotlbPool/maximumMappingSize``; the
/// model's bound comes from its machine memory, which holds every byte a
/// DMA moves. Zero bytes are Linux's too (``performDMA``).
public let maximumDMASize: UInt64 = 64 << 20

/// Checks `[phys, phys + size)` against ``maximumDMASize`` and wrap-around.
func validateDMARange(_ phys: UInt64, size: UInt64) throws(DMARequestError) {
  guard size <= maximumDMASize, size == 0 || phys <= UInt64.max - (size - 1) else {
    throw .sizeOutOfRange(phys: phys, size: size)
  }
}

/// What swiotlb-xen does with a zero-length mapping it bounces:
/// `swiotlb_tbl_map_single()` asks the slot search for
/// `nr_slots(0 + offset)` slots, and with no `min_align_mask` offset that
/// is `BUG_ON(!nslots)` (kernel/dma/swiotlb.c, `find_slots()` in v5.10 …
/// `swiotlb_search_pool_area()` today): the mapping never returns.
let zeroLengthBounceBug =
  "swiotlb-xen bounces a zero-length mapping and swiotlb_tbl_map_single() hits BUG_ON(!nslots) in its slot search (kernel/dma/swiotlb.c): dom0 Linux crashes"

