/// The swiotlb bounce pool: a range of dom0 RAM, carved into 2 KiB slots.
///
/// It lives in dom0's own memory (`swiotlb_init` allocates it from
/// memblock; v5.10 `xen_swiotlb_init`), so its addresses are dom0 pfns
/// and `xen_phys_to_bus` leaves them alone: a coloured dom0's pool is at
/// GFNs, not MFNs (§3.4, §3.5).
public struct SwiotlbPool: Hashable, Sendable {
  /// `IO_TLB_SHIFT` = 11 (kernel/dma/swiotlb.c).
  public static let slotSize: UInt64 = 1 << 11
  /// `IO_TLB_SEGSIZE` × slot: `swiotlb_max_mapping_size()`, the largest
  /// single bounce (256 KiB).
  public static let maximumMappingSize: UInt64 = 128 * slotSize

  /// Dom0 pfn of the first page.
  public let start: GFN
  public let pages: UInt64
  /// Allocated slot ranges by first slot: the number of slots.
  public private(set) var allocations: [Int: Int] = [:]

  public init(start: GFN, pages: UInt64) {
    self.start = start
    self.pages = pages
  }

  public var slotCount: Int { Int(clamping: pages * pageSize / Self.slotSize) }

  /// Whether the dom0 physical address `phys` lies in the pool
  /// (`is_swiotlb_buffer`).
  public func contains(_ phys: UInt64) -> Bool {
    let first = start.address
    return phys >= first && phys - first < pages * pageSize
  }

  /// `swiotlb_tbl_map_single()`'s slot search: the first run of free slots
  /// large enough, page aligned when the mapping is at least a page
  /// (`swiotlb_find_slots`: stride of a page for `alloc_size >= PAGE_SIZE`).
  /// Returns the dom0 physical address of the slot, or nil when the pool
  /// cannot hold it.
  ///
  /// **[derived simplification]** Linux searches from a rotating index and
  /// may keep the buffer's low address bits (`min_align_mask`); first-fit
  /// from the start and no kept offset change which slot is used, not
  /// whether the slot is dom0 RAM.
  mutating func mapSingle(size: UInt64) -> UInt64? {
    let found = firstFreeSlot(size: size)
    guard found.present else { return nil }
    allocations[Int((found.value - start.address) / Self.slotSize)] = Int((size + Self.slotSize - 1) / Self.slotSize)
    return found.value
  }

  /// The slot search of ``mapSingle(size:)``, written over ``Word`` so that
  /// a proof can ask it with a symbolic size (the pool's allocations stay
  /// concrete): the lowest slot, at the stride, that starts a run of free
  /// slots long enough.
  public func firstFreeSlot<W: Word>(size: W) -> GuardedWord<W> {
    firstFreeSlot(size: size, poolAddress: size.constant(start.address))
  }

  /// ``firstFreeSlot(size:)`` for a pool of this one's slots and
  /// allocations placed at `poolAddress` (page aligned), so that a proof
  /// can leave the pool's place open: the search depends only on slot
  /// indices, and page alignment of a slot is the same relative to any
  /// page-aligned start.
  public func firstFreeSlot<W: Word>(size: W, poolAddress: W) -> GuardedWord<W> {
    let fits = size > 0 && size <= Self.maximumMappingSize
    let needed = (size &+ (Self.slotSize - 1)) >> 11
    let pageStride = size >= pageSize
    let slotsPerPage = Int(pageSize / Self.slotSize)
    // Free slots from each slot up to the next taken one or the end.
    var freeRun = Array(repeating: 0, count: slotCount + 1)
    var taken = Array(repeating: false, count: slotCount)
    for (first, count) in allocations {
      for slot in first..<min(first + count, slotCount) { taken[slot] = true }
    }
    for slot in (0..<slotCount).reversed() { freeRun[slot] = taken[slot] ? 0 : freeRun[slot + 1] + 1 }
    // Within one run of free slots an earlier start has more room, so only
    // a run's first slot and its first page-aligned slot can be the first
    // fit; the lowest candidate wins (selects stacked from the top down).
    var candidates: [Int] = []
    for first in 0..<slotCount where freeRun[first] > 0 && (first == 0 || freeRun[first - 1] == 0) {
      candidates.append(first)
      let aligned = (first + slotsPerPage - 1) / slotsPerPage * slotsPerPage
      if aligned != first && aligned < first + freeRun[first] { candidates.append(aligned) }
    }
    var found = GuardedWord<W>.absent(size)
    for first in candidates.reversed() {
      let aligned = first % slotsPerPage == 0 ? size.condition(true) : !pageStride
      let candidate = fits && aligned && needed <= UInt64(freeRun[first])
      found = .select(candidate, GuardedWord(present: candidate, value: poolAddress &+ UInt64(first) * Self.slotSize), found)
    }
    return found
  }

  /// `swiotlb_tbl_unmap_single()`: frees the slots of the mapping at `phys`.
  mutating func unmapSingle(_ phys: UInt64) {
    guard contains(phys) else { return }
    allocations[Int((phys - start.address) / Self.slotSize)] = nil
  }
}
