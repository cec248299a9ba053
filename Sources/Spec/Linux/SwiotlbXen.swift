// A note on the generic functions
//
// The address computations and decisions of swiotlb-xen are written once
// over ``Word`` (DESIGN.md §3, "One source, two semantics"): the program
// runs them on `UInt64`, the proofs on Z3 bit-vectors. `pfn_to_bfn` is a
// parameter, so a proof may take the grant tree's contents concrete
// (``GrantTree/pfnToBfn(_:)``) or as an uninterpreted relation.
// ``mapPageThroughSwiotlbXen(_:size:device:grantTree:options:pool:)`` is the
// concrete driver around them, with the pool allocation that has no
// symbolic counterpart.

/// `xen_phys_to_bus(dev, p)` (drivers/xen/swiotlb-xen.c, §3.1):
/// `(pfn_to_bfn(p >> 12) << 12) | (p & 0xfff)`.
///
/// ``xenPhysToDMA(_:regions:pfnToBfn:)`` then applies the device's
/// `dma-ranges`.
public func xenPhysToBus<W: Word>(_ phys: W, pfnToBfn: (W) -> W) -> W {
  let offset = SeededBug.physToBusDropsPageOffset.isActive ? phys.constant(0) : phys & (pageSize - 1)
  return (pfnToBfn(phys >> pageShift) << pageShift) | offset
}

/// `xen_phys_to_dma(dev, paddr)` (drivers/xen/swiotlb-xen.c, v5.9
/// `91ffe4ad534a` on): `phys_to_dma(dev, xen_phys_to_bus(dev, paddr))`,
/// so an address outside every `dma-ranges` region is `DMA_MAPPING_ERROR`
/// and fails `dma_capable()`.
public func xenPhysToDMA<W: Word>(_ phys: W, regions: [DMARegion], pfnToBfn: (W) -> W) -> W {
  physToDMA(xenPhysToBus(phys, pfnToBfn: pfnToBfn), regions: regions)
}

/// `range_straddles_page_boundary(p, size)` (drivers/xen/swiotlb-xen.c,
/// §3.1): whether the Xen pages the buffer spans are not machine-contiguous,
/// i.e. `pfn_to_bfn(pfn + i) != pfn_to_bfn(pfn) + i` for some
/// `0 < i < nr_pages`, with `nr_pages = XEN_PFN_UP(offset_in_page(p) + size)`.
///
/// The loop runs up to `maximumPages`, each step guarded by `i < nr_pages`:
/// the result is exact whenever `nr_pages <= maximumPages`, which a proof
/// states as a hypothesis and the concrete driver guarantees by passing the
/// exact count.
public func rangeStraddlesPageBoundary<W: Word>(
  _ phys: W, size: W, maximumPages: Int, pfnToBfn: (W) -> W
) -> W.Condition {
  let pfn = phys >> pageShift
  let pages = ((phys & (pageSize - 1)) &+ size &+ (pageSize - 1)) >> pageShift
  let firstBFN = pfnToBfn(pfn)
  var straddles = phys.condition(false)
  if maximumPages > 1 {
    for step in 1..<(SeededBug.straddleFirstBoundaryOnly.isActive ? min(maximumPages, 2) : maximumPages) {
      let i = UInt64(step)
      straddles = straddles || (pages > i && pfnToBfn(pfn &+ i) != firstBFN &+ i)
    }
  }
  return straddles
}

/// `xen_arch_need_swiotlb(dev, phys, dev_addr)` (arch/arm/xen/mm.c, §3.5):
/// bounce when Xen lacks GNTTABOP_cache_flush, the page is foreign
/// (its bus frame differs from its pfn) and the device is not coherent.
/// The bus frame is read from `dma_to_phys(dev, dma_addr)`: callers pass
/// `devAddr` through ``dmaToPhys(_:regions:)``.
///
/// Only the first Xen page is checked ("it's not possible to have a mix of
/// local and foreign Xen page"). Linux holds both frame numbers in
/// `unsigned int`, so they are compared truncated to 32 bits.
public func xenArchNeedSwiotlb<W: Word>(
  phys: W, devAddr: W, hypercallCacheFlush: W.Condition, coherent: W.Condition
) -> W.Condition {
  let xenPFN = (phys >> pageShift).zeroExtended(fromWidth: 32)
  let bfn = (devAddr >> pageShift).zeroExtended(fromWidth: 32)
  return !hypercallCacheFlush && xenPFN != bfn && !coherent
}

/// `dma_capable(dev, addr, size, true)` (include/linux/dma-direct.h, v5.10
/// … current): false for `DMA_MAPPING_ERROR`, else `addr + size - 1 <=
/// min_not_zero(dma_mask, bus_dma_limit)`, in wrapping `dma_addr_t`
/// arithmetic (the low-memory check is for 32-bit `dma_addr_t` only).
/// `busLimit` is ``busDMALimit(_:)`` of the device's regions, 0 for none.
public func dmaCapable<W: Word>(_ addr: W, size: W, mask: W, busLimit: UInt64 = 0) -> W.Condition {
  let end = addr &+ size &- 1
  let withinMask = end <= mask
  let withinLimit = busLimit == 0 ? withinMask : ((mask == 0 || withinMask) && end <= busLimit)
  return addr != dmaMappingError && withinLimit
}

/// The test at the top of `xen_swiotlb_map_page()` (§3.4 step 2): map
/// directly, without a bounce buffer, iff the device can reach the
/// address, the buffer is machine-contiguous, Arm does not ask for a
/// bounce, and bouncing is not forced (`swiotlb=force`).
public func swiotlbXenMapsDirectly<W: Word>(
  phys: W, size: W, mask: W, regions: [DMARegion] = [], maximumPages: Int, hypercallCacheFlush: W.Condition, coherent: W.Condition,
  forceBounce: W.Condition, pfnToBfn: (W) -> W
) -> W.Condition {
  let devAddr = xenPhysToDMA(phys, regions: regions, pfnToBfn: pfnToBfn)
  return dmaCapable(devAddr, size: size, mask: mask, busLimit: busDMALimit(regions))
    && !rangeStraddlesPageBoundary(phys, size: size, maximumPages: maximumPages, pfnToBfn: pfnToBfn)
    && !xenArchNeedSwiotlb(
      phys: phys, devAddr: dmaToPhys(devAddr, regions: regions), hypercallCacheFlush: hypercallCacheFlush, coherent: coherent)
    && !forceBounce
}

/// What dom0 knows about the platform when it maps for DMA (§3.5).
public struct SwiotlbXenOptions: Hashable, Sendable {
  /// Whether Xen implements GNTTABOP_cache_flush, probed by `xen_mm_init()`
  /// (anything but −ENOSYS). Xen on Arm has had it since 4.6.
  public var hypercallCacheFlush: Bool
  /// `swiotlb=force` (v5.10 `swiotlb_force == SWIOTLB_FORCE`, later
  /// `is_swiotlb_force_bounce(dev)`).
  public var forceBounce: Bool

  public init(hypercallCacheFlush: Bool = true, forceBounce: Bool = false) {
    self.hypercallCacheFlush = hypercallCacheFlush
    self.forceBounce = forceBounce
  }
}

/// The result of `xen_swiotlb_map_page()`.
public enum SwiotlbXenMapping: Hashable, Sendable, CustomStringConvertible {
  /// No bounce: the device is given `xen_phys_to_bus(phys)`.
  case direct(DMAAddress)
  /// Bounced through the pool slot at dom0 physical address `slot`; the
  /// device is given `xen_phys_to_bus(slot)`.
  case bounce(DMAAddress, slot: UInt64)
  /// `DMA_MAPPING_ERROR`.
  case mappingError(String)

  public var description: String {
    switch self {
    case .direct(let address): "direct \(address)"
    case .bounce(let address, let slot): "bounce via \(hex(slot)) as \(address)"
    case .mappingError(let why): "DMA_MAPPING_ERROR (\(why))"
    }
  }
}

/// `xen_swiotlb_map_page(dev, page, offset, size, dir, attrs)`
/// (drivers/xen/swiotlb-xen.c, §3.4) for the dom0 physical address `phys`.
///
/// Direct when ``swiotlbXenMapsDirectly`` holds. Otherwise
/// `swiotlb_tbl_map_single()` takes a slot in the pool (dom0 RAM), the
/// device address is `xen_phys_to_dma(slot)`, and if that is still not
/// `dma_capable` the slot is released and the result is
/// `DMA_MAPPING_ERROR`; so is a full pool. The copy into the slot is the
/// caller's (``performDMA``), as is cache maintenance, which this model
/// does not need (machine memory is coherent here).
///
/// A zero-length mapping is direct under the same test; one that would be
/// bounced is ``zeroLengthBounceBug``, reported as a mapping that fails.
///
/// - Throws: ``DMARequestError/sizeOutOfRange(phys:size:)`` for an
///   oversized or wrapping buffer.
public func mapPageThroughSwiotlbXen(
  _ phys: UInt64, size: UInt64, device: Device, grantTree: GrantTree, options: SwiotlbXenOptions,
  pool: inout SwiotlbPool
) throws(DMARequestError) -> SwiotlbXenMapping {
  try validateDMARange(phys, size: size)
  let pfnToBfn: (UInt64) -> UInt64 = { grantTree.pfnToBfn($0) }
  let pages = Int(clamping: pagesSpanned(phys, size: size))
  let direct = swiotlbXenMapsDirectly(
    phys: phys, size: size, mask: device.dmaMask, regions: device.dmaRegions, maximumPages: pages,
    hypercallCacheFlush: options.hypercallCacheFlush, coherent: device.coherent, forceBounce: options.forceBounce,
    pfnToBfn: pfnToBfn)
  if direct { return .direct(DMAAddress(xenPhysToDMA(phys, regions: device.dmaRegions, pfnToBfn: pfnToBfn))) }
  if size == 0 { return .mappingError(zeroLengthBounceBug) }
  guard let slot = pool.mapSingle(size: size) else { return .mappingError("swiotlb_tbl_map_single found no slot (pool full, or over 256 KiB)") }
  let address = xenPhysToDMA(slot, regions: device.dmaRegions, pfnToBfn: pfnToBfn)
  guard dmaCapable(address, size: size, mask: device.dmaMask, busLimit: busDMALimit(device.dmaRegions)) else {
    pool.unmapSingle(slot)
    return .mappingError(dmaCapableRefusal(address: address, of: slot, device: device, bounce: true))
  }
  return .bounce(DMAAddress(address), slot: slot)
}

/// `XEN_PFN_UP(offset_in_page(p) + size)`: the Xen pages `[p, p + size)`
/// touches, in Linux's wrapping arithmetic.
func pagesSpanned(_ phys: UInt64, size: UInt64) -> UInt64 {
  ((phys & (pageSize - 1)) &+ size &+ (pageSize - 1)) >> UInt64(pageShift)
}
