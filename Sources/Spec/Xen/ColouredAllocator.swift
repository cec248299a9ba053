/// Upstream Xen's LLC-coloured page allocator (Xen 4.20,
/// xen/common/page_alloc.c: `init_color_heap_pages()`,
/// `alloc_color_heap_page()`, `free_color_heap_page()`; fact sheet §5).
///
/// One free list per colour; a page's colour is `mfn & (N − 1)`
/// (`mfn_to_color`). Allocation is order 0 only, from the domain's colour
/// with the longest free list, taking its head; frees go to the head.
public struct ColouredAllocator: Hashable, Sendable {
  /// N, the number of colours (`max_nr_colors = way_size >> PAGE_SHIFT`).
  public let colourCount: Int
  /// The free list of each colour, stored *tail first*: the list's head is
  /// the array's last element, so head insertion and removal are appends
  /// and pops.
  private var stacks: [[MFN]]
  /// Frames handed out and not yet freed; only these may be freed.
  private var allocated: Set<MFN> = []
  /// The pages `init_color_heap_pages()` gave to the buddy allocator
  /// instead (the `buddy-alloc-size` reserve), in the order taken.
  public let buddyRanges: [MemoryBank]

  /// Builds the heap as `end_boot_allocator()` does with colouring on.
  ///
  /// `regions` are the boot-allocator regions that reach its second loop,
  /// in ascending address order: host RAM minus what Xen used at boot, and
  /// minus the one region on CPU0's node that the first loop gives whole to
  /// the buddy (§5). The loop walks them **from last to first**; for each,
  /// `init_color_heap_pages()` first takes pages for the buddy from the
  /// region's start while the global `buddy_alloc_size` budget lasts (it is
  /// decremented, so the budget is shared by all regions, not per region),
  /// then frees the rest one by one in ascending order, each to the head of
  /// its colour's list. Each list therefore descends, and the lowest
  /// region's pages come first.
  ///
  /// - Parameter buddyReservePages: the `buddy-alloc-size` budget in pages.
  ///   The model defaults to 0 (every region page is coloured); Xen's default
  ///   is `CONFIG_BUDDY_ALLOCATOR_SIZE` MB.
  /// - Throws: ``XenError/colourCountNotPowerOfTwo(_:)`` where
  ///   `llc_coloring_init()` panics; ``XenError/invalidHostRAM(_:)`` if
  ///   regions overlap.
  public init(colourCount: Int, regions: [MemoryBank], buddyReservePages: UInt64 = 0) throws(XenError) {
    guard colourCount >= 2, colourCount & (colourCount - 1) == 0 else {
      throw .colourCountNotPowerOfTwo(colourCount)
    }
    let sorted = regions.sorted { $0.start < $1.start }
    for (lower, upper) in zip(sorted, sorted.dropFirst()) where upper.start < lower.end {
      throw .invalidHostRAM("heap regions \(lower) and \(upper) overlap")
    }
    self.colourCount = colourCount
    var stacks = [[MFN]](repeating: [], count: colourCount)
    var budget = buddyReservePages
    var buddy: [MemoryBank] = []
    for region in regions.reversed() where region.pages > 0 {
      let toBuddy = min(budget, region.pages)
      if toBuddy > 0 {
        buddy.append(MemoryBank(start: region.start, pages: toBuddy))
        budget -= toBuddy
      }
      for page in toBuddy..<region.pages {
        let mfn = region.start.advanced(by: page)
        stacks[Self.colour(of: mfn, colourCount: colourCount)].append(mfn)
      }
    }
    self.stacks = stacks
    buddyRanges = buddy
  }

  /// `mfn_to_color()`: the low bits of the frame number.
  public func colour(of mfn: MFN) -> Int { Self.colour(of: mfn, colourCount: colourCount) }

  static func colour(of mfn: MFN, colourCount: Int) -> Int {
    Int(truncatingIfNeeded: llcColour(of: mfn.rawValue, colourCount: colourCount))
  }

  /// `free_colored_pages[colour]`.
  public func freePages(colour: Int) -> Int {
    stacks.indices.contains(colour) ? stacks[colour].count : 0
  }

  /// The free list of a colour, head first.
  public func freeList(colour: Int) -> [MFN] {
    stacks.indices.contains(colour) ? stacks[colour].reversed() : []
  }

  /// Whether the frame was handed out by this allocator and not freed.
  public func isAllocated(_ mfn: MFN) -> Bool { allocated.contains(mfn) }

  /// `alloc_domheap_pages(d, order, …)` with colouring on →
  /// `alloc_color_heap_page(memflags, d)`: among `colours` (the domain's
  /// list, in its order), the colour whose free list is longest, where only
  /// a *strictly* longer list displaces an earlier colour, so ties go to the
  /// first in the list; the page is that list's head.
  ///
  /// - Throws: ``XenError/colouredOrderNotZero(_:)`` for `order > 0` (no
  ///   buddy fallback), ``XenError/invalidColours(_:reason:)`` for a colour
  ///   that does not exist, ``XenError/colouredHeapExhausted(colours:)``
  ///   when all of them are empty. Nothing changes on a throw.
  public mutating func allocate(colours: [Int], order: Int = 0) throws(XenError) -> MFN {
    guard order == 0 else { throw .colouredOrderNotZero(order) }
    try validate(colours)
    var chosen: Int?
    var longest = 0
    for colour in colours where stacks[colour].count > longest {
      chosen = colour
      longest = stacks[colour].count
    }
    guard let colour = chosen, let mfn = stacks[colour].popLast() else {
      throw .colouredHeapExhausted(colours: colours)
    }
    allocated.insert(mfn)
    return mfn
  }

  /// `free_color_heap_page()`: back to the head of its colour's list (LIFO;
  /// "head insertion allows re-using cache-hot pages").
  ///
  /// - Throws: ``XenError/colouredFreeOfUnallocated(_:)`` if this allocator
  ///   did not hand the frame out (a double free, or a buddy page).
  public mutating func free(_ mfn: MFN) throws(XenError) {
    guard allocated.remove(mfn) != nil else { throw .colouredFreeOfUnallocated(mfn) }
    stacks[colour(of: mfn)].append(mfn)
  }

  /// Colours must exist; the order and uniqueness of a domain's list are
  /// checked where domains are configured, since the allocator just walks
  /// the list it is given.
  func validate(_ colours: [Int]) throws(XenError) {
    guard !colours.isEmpty else { throw .invalidColours(colours, reason: "no colour given") }
    if let bad = colours.first(where: { !(0..<colourCount).contains($0) }) {
      throw .invalidColours(colours, reason: "colour \(bad) does not exist with \(colourCount) colours")
    }
  }
}

/// `mfn_to_color(mfn)` (xen/common/llc-coloring.c, Xen 4.20): the low
/// bits of the frame number, `mfn & (max_nr_colors - 1)` (§5). Written
/// over ``Word`` so that the allocator, the proofs and the platform
/// checks share it.
/// - Precondition: `colourCount` is a power of two (the allocator refuses
///   anything else).
public func llcColour<W: Word>(of frame: W, colourCount: Int) -> W {
  llcColour(of: frame, colourCount: frame.constant(UInt64(colourCount)))
}

/// ``llcColour(of:colourCount:)`` with the number of colours a word, for
/// proofs over every colour count.
public func llcColour<W: Word>(of frame: W, colourCount: W) -> W {
  frame & (colourCount &- 1)
}
