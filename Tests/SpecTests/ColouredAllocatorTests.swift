import Testing

@testable import Spec

/// Fact sheet §5, "The coloured allocator" (xen/common/page_alloc.c, Xen 4.20).
@Suite("Coloured allocator")
struct ColouredAllocatorTests {
  static func region(_ start: UInt64, _ pages: UInt64) -> MemoryBank { MemoryBank(start: MFN(start), pages: pages) }
  static func mfns(_ values: [UInt64]) -> [MFN] { values.map(MFN.init) }

  @Test("§5: colour = mfn & (N − 1)")
  func colourOfFrame() throws {
    let allocator = try ColouredAllocator(colourCount: 16, regions: [])
    #expect(allocator.colour(of: MFN(0x12345)) == 5)
    #expect(allocator.colour(of: MFN(0x12340)) == 0)
    #expect(allocator.colour(of: MFN(0x1234F)) == 15)
  }

  @Test("§5: on a fresh heap allocations go round-robin c0…ck, MFNs descending by N within a colour")
  func roundRobinOnFreshHeap() throws {
    var allocator = try ColouredAllocator(colourCount: 4, regions: [Self.region(0x100, 16)])
    #expect(allocator.freeList(colour: 0) == Self.mfns([0x10C, 0x108, 0x104, 0x100]))
    let got = try (0..<8).map { _ in try allocator.allocate(colours: [0, 1, 2, 3]) }
    #expect(got == Self.mfns([0x10C, 0x10D, 0x10E, 0x10F, 0x108, 0x109, 0x10A, 0x10B]))
  }

  @Test("§5: regions are walked last to first, so the lowest region's pages head each list")
  func lowestRegionFirst() throws {
    var allocator = try ColouredAllocator(colourCount: 4, regions: [Self.region(0x100, 8), Self.region(0x200, 8)])
    #expect(allocator.freeList(colour: 0) == Self.mfns([0x104, 0x100, 0x204, 0x200]))
    let got = try (0..<4).map { _ in try allocator.allocate(colours: [0]) }
    #expect(got == Self.mfns([0x104, 0x100, 0x204, 0x200]))
  }

  @Test("§5: equal free lists go to the first colour in the domain's list")
  func tiesToFirstColour() throws {
    var allocator = try ColouredAllocator(colourCount: 4, regions: [Self.region(0x100, 16)])
    let got = try (0..<4).map { _ in try allocator.allocate(colours: [2, 1]) }
    // 2 (4 vs 4, first), 1 (3 < 4), 2 (3 vs 3, first), 1.
    #expect(got == Self.mfns([0x10E, 0x10D, 0x10A, 0x109]))
  }

  @Test("§5: only a strictly longer list displaces an earlier colour")
  func strictlyLongerWins() throws {
    var allocator = try ColouredAllocator(colourCount: 4, regions: [Self.region(0x100, 16)])
    _ = try allocator.allocate(colours: [0])
    _ = try allocator.allocate(colours: [0])
    #expect(try allocator.allocate(colours: [0, 1]) == MFN(0x10D))
  }

  @Test("§5: frees go to the head of their colour (LIFO)")
  func lifoFree() throws {
    var allocator = try ColouredAllocator(colourCount: 4, regions: [Self.region(0x100, 16)])
    let a = try allocator.allocate(colours: [0])
    let b = try allocator.allocate(colours: [0])
    try allocator.free(a)
    try allocator.free(b)
    #expect(allocator.freeList(colour: 0) == Self.mfns([0x108, 0x10C, 0x104, 0x100]))
    #expect(try allocator.allocate(colours: [0]) == b)
    #expect(try allocator.allocate(colours: [0]) == a)
  }

  @Test("§5: order > 0 fails with no buddy fallback and changes nothing")
  func higherOrderFails() throws {
    var allocator = try ColouredAllocator(colourCount: 4, regions: [Self.region(0x100, 16)])
    let before = allocator
    #expect(throws: XenError.colouredOrderNotZero(1)) { try allocator.allocate(colours: [0], order: 1) }
    #expect(allocator == before)
  }

  @Test("exhausting a domain's colours is a thrown error; other colours keep their pages")
  func exhaustion() throws {
    var allocator = try ColouredAllocator(colourCount: 4, regions: [Self.region(0x100, 8)])
    #expect(try allocator.allocate(colours: [1]) == MFN(0x105))
    #expect(try allocator.allocate(colours: [1]) == MFN(0x101))
    #expect(throws: XenError.colouredHeapExhausted(colours: [1])) { try allocator.allocate(colours: [1]) }
    #expect(allocator.freePages(colour: 0) == 2)
  }

  @Test("§5: a colour count that is not a power of two ≥ 2 is refused", arguments: [-4, 0, 1, 3, 6, 12])
  func badColourCount(count: Int) {
    #expect(throws: XenError.colourCountNotPowerOfTwo(count)) {
      try ColouredAllocator(colourCount: count, regions: [Self.region(0x100, 16)])
    }
  }

  @Test("colours that do not exist, or none, are refused")
  func badColours() throws {
    var allocator = try ColouredAllocator(colourCount: 4, regions: [Self.region(0x100, 16)])
    #expect(throws: XenError.self) { try allocator.allocate(colours: [4]) }
    #expect(throws: XenError.self) { try allocator.allocate(colours: [-1]) }
    #expect(throws: XenError.self) { try allocator.allocate(colours: []) }
  }

  @Test("freeing a frame that was not handed out is refused (double free, never-allocated)")
  func badFree() throws {
    var allocator = try ColouredAllocator(colourCount: 4, regions: [Self.region(0x100, 16)])
    #expect(throws: XenError.colouredFreeOfUnallocated(MFN(0x100))) { try allocator.free(MFN(0x100)) }
    let page = try allocator.allocate(colours: [3])
    try allocator.free(page)
    #expect(throws: XenError.colouredFreeOfUnallocated(page)) { try allocator.free(page) }
  }

  @Test("§5: the buddy-alloc-size budget is taken from each region's start, last region first, until spent")
  func buddyReserve() throws {
    let allocator = try ColouredAllocator(
      colourCount: 4, regions: [Self.region(0x100, 8), Self.region(0x200, 8)], buddyReservePages: 10)
    #expect(allocator.buddyRanges == [Self.region(0x200, 8), Self.region(0x100, 2)])
    #expect(allocator.freeList(colour: 0) == Self.mfns([0x104]))
    #expect(allocator.freeList(colour: 1) == Self.mfns([0x105]))
    #expect(allocator.freeList(colour: 2) == Self.mfns([0x106, 0x102]))
    #expect(allocator.freeList(colour: 3) == Self.mfns([0x107, 0x103]))
  }

  @Test("overlapping heap regions are refused")
  func overlappingRegions() {
    #expect(throws: XenError.self) {
      try ColouredAllocator(colourCount: 4, regions: [Self.region(0x100, 8), Self.region(0x104, 8)])
    }
  }

  /// Random allocations and frees by three domains with disjoint colours:
  /// every page has one of its domain's colours and is the head of the
  /// first longest list, no frame is held twice, and exhaustion is reported
  /// exactly when all the domain's lists are empty (§5, DESIGN.md §4
  /// theorem 5).
  @Test("property: allowed colours, distinct frames, disjoint colours never share a frame")
  func randomAllocations() throws {
    var rng = SplitMix64(seed: 0x5EED_C010)
    let regions = [Self.region(0x1000, 64), Self.region(0x2000, 37), Self.region(0x3005, 50)]
    var allocator = try ColouredAllocator(colourCount: 8, regions: regions)
    let colours = [[0, 1, 2], [3, 5], [7, 4, 6]]
    var held: [[MFN]] = [[], [], []]
    var exhaustions = 0
    for _ in 0..<600 {
      let domain = Int.random(in: 0..<3, using: &rng)
      if Int.random(in: 0..<4, using: &rng) > 0 || held[domain].isEmpty {
        let lengths = colours[domain].map { allocator.freePages(colour: $0) }
        let longest = lengths.max() ?? 0
        if longest == 0 {
          #expect(throws: XenError.colouredHeapExhausted(colours: colours[domain])) {
            try allocator.allocate(colours: colours[domain])
          }
          exhaustions += 1
          continue
        }
        let expectedColour = colours[domain][lengths.firstIndex(of: longest) ?? 0]
        let expected = allocator.freeList(colour: expectedColour).first
        let page = try allocator.allocate(colours: colours[domain])
        #expect(page == expected)
        #expect(colours[domain].contains(allocator.colour(of: page)))
        #expect(regions.contains { $0.contains(page.rawValue) })
        held[domain].append(page)
      } else {
        let index = Int.random(in: 0..<held[domain].count, using: &rng)
        try allocator.free(held[domain].remove(at: index))
      }
      let all = held.flatMap { $0 }
      #expect(Set(all).count == all.count)
    }
    #expect(exhaustions > 0, "the sequence should reach exhaustion at least once")
  }
}
