import Spec

/// The machine memory that holds one domain's stage-2 tables: a region of
/// consecutive 4K frames, the concatenated root pages first, then the
/// pages of the domain's P2M pool, with a page allocator over the pool.
///
/// Xen allocates intermediate tables with `p2m_alloc_page()`
/// (xen/arch/arm/mmu/p2m.c), which since the XSA-409/410 pool commits
/// takes pages from the per-domain `d->arch.paging.p2m_freelist`, sized by
/// `p2m_set_allocation()`; an empty list is a NULL page, which callers turn
/// into −ENOMEM/−ENOENT. `p2m_free_page()` adds a page back at the *tail*
/// and allocation removes the *head*, so the list is FIFO: a freed page is
/// reused as late as possible, which this allocator keeps. Two liberties,
/// both [derived]: the hardware domain allocates from the domain heap
/// instead (no limit), which a pool of the heap's size models; and the
/// root pages come from `p2m_allocate_root()` → `alloc_domheap_pages(NULL,
/// P2M_ROOT_ORDER)`, not from the pool, so they sit in the same region here
/// only so that one flat array holds every table.
///
/// Storage is one flat array indexed by slot × 512 + entry, so the walk's
/// loads are an index computation and no hashing. Freed pages keep their
/// contents until reallocated, as real memory does; a page is zeroed when
/// it is handed out (`clear_page()` in `p2m_create_table()`; the split's
/// copy writes all 512 entries).
public struct TablePool: DescriptorMemory, Sendable {
  public typealias W = UInt64

  /// Descriptors per table (`XEN_PT_LPAE_ENTRIES`).
  public static let entriesPerTable = 512

  /// The first frame of the region (the first root page).
  public let baseFrame: MFN
  /// Concatenated root pages at the start of the region (`P2M_ROOT_PAGES`).
  public let rootPages: Int
  /// Pages in the pool (`p2m_total_pages`).
  public internal(set) var poolPages: Int

  @usableFromInline var storage: ContiguousArray<UInt64>
  /// Free pool slots in FIFO order: a ring of `poolPages` slots.
  var freeRing: [Int32]
  var freeHead = 0
  public internal(set) var freeCount: Int
  /// The fewest free pages since the last ``resetLowWaterMark()``: how
  /// deep an update dug into the pool, splits that gave pages back after
  /// taking them included.
  public internal(set) var lowWaterMark: Int
  /// Whether each slot is in use (roots always are).
  var inUse: [Bool]

  /// - Throws: ``XenP2MError/badTableRegion(_:pages:ipaBits:)`` when the
  ///   region is not aligned to the roots' concatenated size
  ///   (`alloc_domheap_pages(P2M_ROOT_ORDER)` aligns naturally), does not
  ///   fit in the PA size, or is larger than a flat array should be.
  public init(baseFrame: MFN, geometry: StageTwoGeometry, poolPages: Int) throws(XenP2MError) {
    let rootPages = geometry.concatenatedRootTables
    let total = UInt64(rootPages) &+ UInt64(max(poolPages, 0))
    guard baseFrame.rawValue % UInt64(rootPages) == 0,
      Self.regionFits(baseFrame: baseFrame, totalPages: total, poolPages: poolPages, ipaBits: geometry.ipaBits)
    else { throw .badTableRegion(baseFrame, pages: Int(clamping: total), ipaBits: geometry.ipaBits) }
    self.baseFrame = baseFrame
    self.rootPages = rootPages
    self.poolPages = poolPages
    storage = ContiguousArray(repeating: 0, count: Int(total) * Self.entriesPerTable)
    freeRing = (0..<poolPages).map { Int32(rootPages + $0) }
    freeCount = poolPages
    lowWaterMark = poolPages
    inUse = Array(repeating: true, count: rootPages) + Array(repeating: false, count: poolPages)
  }

  /// Whether a region of `totalPages` from `baseFrame`, `poolPages` of them
  /// the pool, is one a flat array should hold (at most 2^20 pool pages)
  /// and ends inside the PA size.
  static func regionFits(baseFrame: MFN, totalPages: UInt64, poolPages: Int, ipaBits: Int) -> Bool {
    let end = baseFrame.rawValue.addingReportingOverflow(totalPages)
    return poolPages >= 0 && poolPages <= 1 << 20 && !end.overflow && end.partialValue <= 1 << UInt64(min(ipaBits, 48) - pageShift)
  }

  /// Slots in the region: roots then pool.
  public var totalPages: Int { rootPages + poolPages }
  /// Pool pages currently holding tables.
  public var pagesInUse: Int { poolPages - freeCount }

  /// The frame of `slot`.
  public func frame(ofSlot slot: Int) -> MFN { baseFrame.advanced(by: UInt64(slot)) }

  /// The slot of `frame`, if the frame is in the region.
  public func slot(of frame: MFN) -> Int? {
    let slot = frame.rawValue &- baseFrame.rawValue
    return slot < UInt64(totalPages) ? Int(slot) : nil
  }

  /// Whether `slot` is a root page or a pool page holding a table.
  public func isInUse(slot: Int) -> Bool { inUse.indices.contains(slot) && inUse[slot] }

  /// Whether `slot` is one of the pool's pages (not a root).
  public func isPoolSlot(_ slot: Int) -> Bool { slot >= rootPages && slot < totalPages }

  /// The descriptor at `physicalAddress` (bits 2:0 ignored). Outside the
  /// region memory reads as 0: an invalid descriptor.
  @inlinable
  public func loadDescriptor(at physicalAddress: UInt64) -> UInt64 {
    let slot = (physicalAddress >> pageShift) &- baseFrame.rawValue
    let index = Int(truncatingIfNeeded: slot) &<< 9 | Int(truncatingIfNeeded: (physicalAddress >> 3) & 511)
    return slot < UInt64(storage.count >> 9) ? storage[index] : 0
  }

  /// The 512 descriptors of `slot`.
  public func table(slot: Int) -> ArraySlice<UInt64> {
    ArraySlice(storage[slot * Self.entriesPerTable..<(slot + 1) * Self.entriesPerTable])
  }

  /// Takes the head of the free list and zeroes it; nil when the pool is
  /// empty (`page_list_remove_head()` on an empty `p2m_freelist`).
  mutating func allocate() -> Int? {
    guard freeCount > 0 else { return nil }
    let slot = Int(freeRing[freeHead])
    freeHead = (freeHead + 1) % poolPages
    freeCount -= 1
    lowWaterMark = min(lowWaterMark, freeCount)
    inUse[slot] = true
    let start = slot * Self.entriesPerTable
    for index in start..<start + Self.entriesPerTable { storage[index] = 0 }
    return slot
  }

  /// Returns `slot` to the tail of the free list (`p2m_free_page()`).
  mutating func free(_ slot: Int) {
    precondition(isPoolSlot(slot) && inUse[slot], "freeing slot \(slot), which is not an allocated pool page")
    inUse[slot] = false
    freeRing[(freeHead + freeCount) % poolPages] = Int32(slot)
    freeCount += 1
  }

  /// The live tables (roots and pages in use) as a ``FrameStore``: what a
  /// `SymbolicDescriptorMemory` is built from for a proof. Freed pages are
  /// left out; ``XenP2M/checkInvariants()`` shows none is reachable.
  public func liveTables() -> FrameStore {
    var store = FrameStore()
    for slot in 0..<totalPages where inUse[slot] {
      let frame = frame(ofSlot: slot)
      for (index, descriptor) in table(slot: slot).enumerated() where descriptor != 0 {
        // In range by construction: index < 512, frame inside the PA size.
        try! store.write(descriptor, table: frame, index: index)
      }
    }
    return store
  }
}
