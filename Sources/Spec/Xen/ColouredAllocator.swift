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
  /// The free list of each colour, stored *tail first* as maximal
  /// segments of frames `colourCount` apart (what freeing a region's pages
  /// in ascending order leaves): the list's head is the last segment's
  /// highest frame, so head insertion and removal touch only the end, and
  /// a region costs one segment per colour instead of one entry per page.
  private var stacks: [[Segment]]
  /// The length of each free list (`free_colored_pages`).
  private var freeCounts: [UInt64]
  /// The frames of the coloured heap (the regions less the buddy reserve):
  /// those of them not on a free list are handed out, and only those may
  /// be freed.
  private let heapRanges: [MemoryBank]
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
    stacks = [[Segment]](repeating: [], count: colourCount)
    freeCounts = [UInt64](repeating: 0, count: colourCount)
    var budget = buddyReservePages
    var buddy: [MemoryBank] = []
    var heap: [MemoryBank] = []
    for region in regions.reversed() where region.pages > 0 {
      let toBuddy = min(budget, region.pages)
      if toBuddy > 0 {
        buddy.append(MemoryBank(start: region.start, pages: toBuddy))
        budget -= toBuddy
      }
      if toBuddy < region.pages { heap.append(MemoryBank(start: region.start.advanced(by: toBuddy), pages: region.pages - toBuddy)) }
    }
    buddyRanges = buddy
    heapRanges = heap
    // Freeing a region's pages in ascending order pushes each colour's
    // pages of it onto that list's head in ascending order: one segment.
    // Xen files each page by `page_to_llc_color()` (`init_col_heap_pages()`
    // → `free_color_heap_page()`, RELEASE-4.21.0 xen/common/llc-coloring.c);
    // a segment's pages share their low bits, so filing the segment by its
    // first page's colour is filing each page, through the same function.
    let stride = UInt64(colourCount)
    for range in heap {
      let (first, end) = (range.start.rawValue, range.end.rawValue)
      for residue in 0..<colourCount {
        let lowest = first + (UInt64(residue) &- first) % stride
        guard lowest < end else { continue }
        push(Segment(low: MFN(lowest), count: (end - 1 - lowest) / stride + 1), colour: colour(of: MFN(lowest)))
      }
    }
  }

  /// Frames `low`, `low + colourCount`, …, `count` of them, in list order
  /// from tail to head.
  struct Segment: Hashable, Sendable {
    var low: MFN
    var count: UInt64
  }

  /// Puts a segment at the head of a colour's list, joining the head
  /// segment when it continues it, so that segments stay maximal.
  private mutating func push(_ segment: Segment, colour: Int) {
    let stride = UInt64(colourCount)
    freeCounts[colour] += segment.count
    if let head = stacks[colour].last, head.low.rawValue &+ head.count &* stride == segment.low.rawValue {
      stacks[colour][stacks[colour].count - 1].count += segment.count
    } else {
      stacks[colour].append(segment)
    }
  }

  /// Takes the head of a colour's list.
  private mutating func pop(colour: Int) -> MFN? {
    guard let head = stacks[colour].last else { return nil }
    let mfn = head.low.advanced(by: (head.count - 1) * UInt64(colourCount))
    if head.count == 1 { stacks[colour].removeLast() } else { stacks[colour][stacks[colour].count - 1].count -= 1 }
    freeCounts[colour] -= 1
    return mfn
  }

  /// Whether the frame is on its colour's free list.
  private func isFree(_ mfn: MFN) -> Bool {
    let stride = UInt64(colourCount)
    return stacks[colour(of: mfn)].contains { segment in
      mfn >= segment.low && (mfn.rawValue - segment.low.rawValue) / stride < segment.count
    }
  }

  /// `mfn_to_color()`: the low bits of the frame number.
  public func colour(of mfn: MFN) -> Int { Self.colour(of: mfn, colourCount: colourCount) }

  static func colour(of mfn: MFN, colourCount: Int) -> Int {
    Int(truncatingIfNeeded: llcColour(of: mfn.rawValue, colourCount: colourCount))
  }

  /// `free_colored_pages[colour]`.
  public func freePages(colour: Int) -> Int {
    stacks.indices.contains(colour) ? Int(freeCounts[colour]) : 0
  }

  /// The free list of a colour, head first (one element per page: for
  /// small heaps).
  public func freeList(colour: Int) -> [MFN] {
    guard stacks.indices.contains(colour) else { return [] }
    return stacks[colour].reversed().flatMap { segment in
      (0..<segment.count).reversed().map { segment.low.advanced(by: $0 * UInt64(colourCount)) }
    }
  }

  /// Whether the frame was handed out by this allocator and not freed.
  public func isAllocated(_ mfn: MFN) -> Bool {
    heapRanges.contains { $0.contains(mfn.rawValue) } && !isFree(mfn)
  }

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
    var longest: UInt64 = 0
    for colour in colours where freeCounts[colour] > longest {
      chosen = colour
      longest = freeCounts[colour]
    }
    guard let colour = chosen, let mfn = pop(colour: colour) else {
      throw .colouredHeapExhausted(colours: colours)
    }
    return mfn
  }

  /// `free_color_heap_page()`: back to the head of its colour's list (LIFO;
  /// "head insertion allows re-using cache-hot pages").
  ///
  /// - Throws: ``XenError/colouredFreeOfUnallocated(_:)`` if this allocator
  ///   did not hand the frame out (a double free, or a buddy page).
  public mutating func free(_ mfn: MFN) throws(XenError) {
    guard isAllocated(mfn) else { throw .colouredFreeOfUnallocated(mfn) }
    push(Segment(low: mfn, count: 1), colour: colour(of: mfn))
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
  frame & ((SeededBug.colourMaskOffByOne.isActive ? colourCount >> 1 : colourCount) &- 1)
}
