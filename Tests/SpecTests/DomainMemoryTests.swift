import Testing

@testable import Spec

/// Building domains' RAM (fact sheet §2.3, §5 "Coloured dom0 memory").
@Suite("Domain memory")
struct DomainMemoryTests {
  static let lowRAM = MemoryBank(start: MFN(0x80000), pages: 64)
  static let highRAM = MemoryBank(start: MFN(0x90000), pages: 32)
  static let d1 = DomainID(1)

  static func host(_ version: XenVersion = .v4_15, colours: Int? = nil) throws -> XenState {
    try XenState(
      version: version, ipaBits: 40, ram: [lowRAM, highRAM],
      colouring: colours.map { LLCColouring(colourCount: $0) })
  }

  @Test("§9 invariant 1: a direct-mapped dom0 has GFN = MFN, ram_rw, for all its RAM")
  func directMappedDom0() throws {
    var xen = try Self.host()
    try xen.createDomain(.dom0, memory: .directMapped(banks: [Self.lowRAM]), iommuEnabled: true)
    let dom0 = try xen.domain(.dom0)
    #expect(dom0.isDirectMapped)
    #expect(dom0.p2m.entries.count == 64)
    for page in 0..<UInt64(64) {
      let gfn = GFN(0x80000 + page)
      #expect(dom0.p2m.lookup(gfn) == P2MEntry(mfn: MFN(gfn.rawValue), type: .ramRW))
      #expect(xen.host.owner(of: MFN(gfn.rawValue)) == .domain(.dom0))
    }
    #expect(xen.host.owner(of: MFN(0x90000)) == .free)
    #expect(dom0.ram == [GuestBank(start: GFN(0x80000), pages: 64)])
  }

  /// Memory follows the runs, not the pages: a board-sized dom0 is one run
  /// in its p2m and one in the frame owners.
  @Test("a 256 GiB direct-mapped dom0 is one p2m run with GFN = MFN from first to last page")
  func boardSizedDirectMappedDom0() throws {
    let ram = MemoryBank(start: MFN(0x80000), pages: 256 << 18)
    var xen = try XenState(version: .v4_15, ipaBits: 44, ram: [ram])
    try xen.createDomain(.dom0, memory: .directMapped(banks: [ram]), iommuEnabled: true)
    let dom0 = try xen.domain(.dom0)
    #expect(dom0.p2m.mappings.runs.count == 1)
    #expect(dom0.p2m.mappings.count == 256 << 18)
    for gfn in [ram.start.rawValue, ram.start.rawValue + 0x12345, ram.end.rawValue - 1] {
      #expect(dom0.p2m.lookup(GFN(gfn)) == P2MEntry(mfn: MFN(gfn), type: .ramRW))
      #expect(xen.host.owner(of: MFN(gfn)) == .domain(.dom0))
    }
    #expect(dom0.p2m.lookup(GFN(ram.end.rawValue)) == nil)
    #expect(dom0.p2m.lookup(GFN(ram.start.rawValue - 1)) == nil)
  }

  /// Ranges are assigned at once; the refusal must still name the first
  /// frame that assigning page by page would have stopped at.
  @Test("a domU bank over another domain's frames is refused at the first such frame")
  func rangeAssignmentNamesFirstTakenFrame() throws {
    var xen = try Self.host()
    try xen.createDomain(Self.d1, memory: .fixed(MemoryBank(start: MFN(0x80010), pages: 4), base: GFN(0x1000)), iommuEnabled: true)
    #expect(throws: XenError.frameUnavailable(MFN(0x80010), owner: .domain(Self.d1))) {
      try xen.createDomain(DomainID(2), memory: .fixed(MemoryBank(start: MFN(0x80008), pages: 16), base: GFN(0x1000)), iommuEnabled: true)
    }
    #expect(xen.domains[DomainID(2)] == nil)
    #expect(xen.host.frames(of: Self.d1) == (0x80010..<0x80014).map(MFN.init))
  }

  /// N = 4, heap = both host banks, so the low bank's pages head the lists:
  /// colour 0 is 0x8003C, 0x80038, …; colour 1 is 0x8003D, 0x80039, ….
  @Test("§5: a coloured dom0 keeps the host layout; MFNs come round-robin from its colours")
  func colouredDom0Example() throws {
    var xen = try Self.host(.v4_20, colours: 4)
    try xen.createDomain(
      .dom0, memory: .colouredHostLayout(colours: [0, 1], banks: [MemoryBank(start: MFN(0x80000), pages: 8)]),
      iommuEnabled: true)
    let dom0 = try xen.domain(.dom0)
    #expect(!dom0.isDirectMapped)
    #expect(dom0.colours == [0, 1])
    let expected: [UInt64] = [0x8003C, 0x8003D, 0x80038, 0x80039, 0x80034, 0x80035, 0x80030, 0x80031]
    for (page, mfn) in expected.enumerated() {
      #expect(dom0.p2m.lookup(GFN(0x80000 + UInt64(page))) == P2MEntry(mfn: MFN(mfn), type: .ramRW))
      #expect(xen.host.owner(of: MFN(mfn)) == .domain(.dom0))
    }
    #expect(dom0.p2m.entries.count == 8)
  }

  @Test("§5: coloured dom0 GFNs are contiguous per bank, MFNs distinct and of its colours")
  func colouredDom0Banks() throws {
    var xen = try Self.host(.v4_20, colours: 4)
    let banks = [MemoryBank(start: MFN(0x80000), pages: 16), MemoryBank(start: MFN(0x90000), pages: 8)]
    try xen.createDomain(.dom0, memory: .colouredHostLayout(colours: [1, 3], banks: banks), iommuEnabled: true)
    let dom0 = try xen.domain(.dom0)
    let expectedGFNs = Set(banks.flatMap { bank in (0..<bank.pages).map { GFN(bank.start.rawValue + $0) } })
    #expect(Set(dom0.p2m.entries.keys) == expectedGFNs)
    let mfns = dom0.p2m.entries.values.map(\.mfn)
    #expect(Set(mfns).count == mfns.count)
    #expect(mfns.allSatisfy { [1, 3].contains(Int($0.rawValue & 3)) })
    #expect(Set(xen.host.frames(of: .dom0)) == Set(mfns))
  }

  /// Banks of 8 and 16 pages: the larger (higher) one is filled first, so
  /// its first page gets the first allocation (colour 1's head, 0x8003D) and
  /// the smaller bank starts at the 17th (colour 1, 8 pages further down).
  @Test("§5: in 4.20 a coloured dom0's banks are filled largest first (02975cc383)")
  func largestBankFirst() throws {
    var xen = try Self.host(.v4_20, colours: 4)
    let banks = [MemoryBank(start: MFN(0x80000), pages: 8), MemoryBank(start: MFN(0x90000), pages: 16)]
    try xen.createDomain(.dom0, memory: .colouredHostLayout(colours: [1, 3], banks: banks), iommuEnabled: true)
    let dom0 = try xen.domain(.dom0)
    #expect(dom0.p2m.lookup(GFN(0x90000))?.mfn == MFN(0x8003D))
    #expect(dom0.p2m.lookup(GFN(0x90001))?.mfn == MFN(0x8003F))
    #expect(dom0.p2m.lookup(GFN(0x80000))?.mfn == MFN(0x8001D))
  }

  @Test("§5: a coloured domU gets consecutive GFNs from its base and MFNs from its colours")
  func colouredDomU() throws {
    var xen = try Self.host(.v4_20, colours: 4)
    try xen.createDomain(Self.d1, memory: .coloured(colours: [2, 3], base: GFN(0x40000), pages: 4), iommuEnabled: false)
    let d1 = try xen.domain(Self.d1)
    let expected: [UInt64] = [0x8003E, 0x8003F, 0x8003A, 0x8003B]
    for (page, mfn) in expected.enumerated() {
      #expect(d1.p2m.lookup(GFN(0x40000 + UInt64(page))) == P2MEntry(mfn: MFN(mfn), type: .ramRW))
      #expect(xen.host.owner(of: MFN(mfn)) == .domain(Self.d1))
    }
    #expect(d1.ram == [GuestBank(start: GFN(0x40000), pages: 4)])
  }

  /// Xen 4.20/4.21 `parse_color_config()` keeps a list's order and
  /// repeats; `alloc_color_heap_page()` takes the colour with strictly the
  /// most free pages, so ties go to the first in the list.
  @Test("§5 errata: a colour list in any order, with repeats, is accepted; ties go to the first colour listed")
  func colourListOrder() throws {
    var xen = try Self.host(.v4_20, colours: 4)
    try xen.createDomain(Self.d1, memory: .coloured(colours: [3, 2, 3], base: GFN(0x40000), pages: 4), iommuEnabled: false)
    let d1 = try xen.domain(Self.d1)
    #expect(d1.colours == [3, 2, 3])
    // Colours 2 and 3 start equal: 3 first, then 2 (now longer), and so on.
    let expected: [UInt64] = [0x8003F, 0x8003E, 0x8003B, 0x8003A]
    for (page, mfn) in expected.enumerated() {
      #expect(d1.p2m.lookup(GFN(0x40000 + UInt64(page))) == P2MEntry(mfn: MFN(mfn), type: .ramRW))
    }
  }

  @Test("a fixed-range domU maps its host range from its base and is not direct-mapped")
  func fixedDomU() throws {
    var xen = try Self.host()
    try xen.createDomain(Self.d1, memory: .fixed(Self.highRAM, base: GFN(0x40000)), iommuEnabled: false)
    let d1 = try xen.domain(Self.d1)
    #expect(!d1.isDirectMapped)
    #expect(d1.p2m.lookup(GFN(0x40005)) == P2MEntry(mfn: MFN(0x90005), type: .ramRW))
    #expect(xen.host.frames(of: Self.d1).count == 32)
  }

  @Test("§5: with colouring, RAM outside the coloured heap and the buddy reserve belong to Xen")
  func xenOwnsWhatIsNotColoured() throws {
    let xen = try XenState(
      version: .v4_20, ipaBits: 40, ram: [Self.lowRAM, Self.highRAM],
      colouring: LLCColouring(colourCount: 4, heapRegions: [Self.lowRAM], buddyReservePages: 4))
    #expect(xen.host.owner(of: MFN(0x90000)) == .xen)
    #expect(xen.host.owner(of: MFN(0x80003)) == .xen)
    #expect(xen.host.owner(of: MFN(0x80004)) == .free)
    #expect(xen.host.owner(of: MFN(0xA0000)) == nil)
    #expect(xen.allocator?.freePages(colour: 0) == 15)
  }

  @Test("§5: colouring needs Xen 4.20")
  func colouringNeeds420() {
    #expect(throws: XenError.unsupported("LLC colouring", version: .v4_15)) { try Self.host(.v4_15, colours: 4) }
  }

  @Test("§2.3: direct-mapped domUs need 4.17; never with colouring")
  func directMappedDomU() throws {
    var old = try Self.host(XenVersion(name: "4.16")!)
    #expect(throws: XenError.self) {
      try old.createDomain(Self.d1, memory: .directMapped(banks: [Self.highRAM]), iommuEnabled: false)
    }
    var new = try Self.host(.v4_17)
    try new.createDomain(Self.d1, memory: .directMapped(banks: [Self.highRAM]), iommuEnabled: false)
    #expect(try new.domain(Self.d1).isDirectMapped)
    var coloured = try Self.host(.v4_20, colours: 4)
    #expect(throws: XenError.self) {
      try coloured.createDomain(.dom0, memory: .directMapped(banks: [Self.lowRAM]), iommuEnabled: true)
    }
  }

  @Test("refused domains change nothing", arguments: [
    // The domU's range overlaps dom0's RAM.
    (RAMPlacement.fixed(MemoryBank(start: MFN(0x8003F), pages: 2), base: GFN(0x40000)), DomainID(1)),
    // Outside host RAM.
    (.fixed(MemoryBank(start: MFN(0xA0000), pages: 2), base: GFN(0x40000)), DomainID(1)),
    // dom0 again.
    (.directMapped(banks: [MemoryBank(start: MFN(0x90000), pages: 1)]), DomainID.dom0),
    // Coloured placements without colouring.
    (.coloured(colours: [0], base: GFN(0x40000), pages: 1), DomainID(1)),
    // A domU's RAM beyond the 40-bit IPA space.
    (.fixed(MemoryBank(start: MFN(0x90000), pages: 2), base: GFN(1 << 28)), DomainID(1)),
  ])
  func refusedWithoutColouring(placement: RAMPlacement, id: DomainID) throws {
    var xen = try Self.host()
    try xen.createDomain(.dom0, memory: .directMapped(banks: [Self.lowRAM]), iommuEnabled: true)
    let before = xen
    #expect(throws: XenError.self) { try xen.createDomain(id, memory: placement, iommuEnabled: false) }
    #expect(xen == before)
  }

  @Test("refused coloured domains change nothing, the allocator included", arguments: [
    RAMPlacement.coloured(colours: [0], base: GFN(0x40000), pages: 100),  // colour 0 has 24 pages
    .coloured(colours: [1, 0, 1, 0, 1], base: GFN(0x40000), pages: 1),  // five entries for four colours
    .coloured(colours: [4], base: GFN(0x40000), pages: 1),  // no colour 4
    .coloured(colours: [], base: GFN(0x40000), pages: 1),
    .coloured(colours: [0], base: GFN(0x40000), pages: 0),
    .fixed(MemoryBank(start: MFN(0x90000), pages: 2), base: GFN(0x40000)),
    .colouredHostLayout(colours: [0], banks: [MemoryBank(start: MFN(0x90000), pages: 2)]),  // not dom0
  ])
  func refusedWithColouring(placement: RAMPlacement) throws {
    var xen = try Self.host(.v4_20, colours: 4)
    let before = xen
    #expect(throws: XenError.self) { try xen.createDomain(Self.d1, memory: placement, iommuEnabled: false) }
    #expect(xen == before)
  }

  @Test("a domain id is created once")
  func duplicateDomain() throws {
    var xen = try Self.host()
    try xen.createDomain(Self.d1, memory: .fixed(MemoryBank(start: MFN(0x90000), pages: 1), base: GFN(0x40000)), iommuEnabled: false)
    #expect(throws: XenError.domainExists(Self.d1)) {
      try xen.createDomain(Self.d1, memory: .fixed(MemoryBank(start: MFN(0x90001), pages: 1), base: GFN(0x40000)), iommuEnabled: false)
    }
  }

  @Test("bad platforms are refused: IPA size, overlapping or empty RAM")
  func badPlatforms() {
    #expect(throws: XenError.self) { try XenState(version: .v4_15, ipaBits: 39, ram: [Self.lowRAM]) }
    #expect(throws: XenError.self) { try XenState(version: .v4_15, ipaBits: 40, ram: []) }
    #expect(throws: XenError.self) {
      try XenState(version: .v4_15, ipaBits: 40, ram: [Self.lowRAM, MemoryBank(start: MFN(0x8003F), pages: 4)])
    }
    #expect(throws: XenError.self) {
      try XenState(version: .v4_20, ipaBits: 40, ram: [Self.lowRAM], colouring: LLCColouring(colourCount: 4, heapRegions: [Self.highRAM]))
    }
  }

  /// DESIGN.md §4 theorem 5 through domain creation: random coloured domUs
  /// with disjoint colour sets on random hosts.
  @Test("property: coloured domains get their colours, distinct frames, and disjoint colours share none")
  func randomColouredDomains() throws {
    var rng = SplitMix64(seed: 0xC0105ED)
    for _ in 0..<20 {
      let pages = UInt64.random(in: 64...96, using: &rng)
      var xen = try XenState(
        version: .v4_20, ipaBits: 40, ram: [MemoryBank(start: MFN(0x80000 + UInt64.random(in: 0..<16, using: &rng)), pages: pages)],
        colouring: LLCColouring(colourCount: 8))
      let colourSets = [[0, 1, 2], [3, 4], [5, 6, 7]]
      for (index, colours) in colourSets.enumerated() {
        let id = DomainID(UInt16(index + 1))
        let want = UInt64.random(in: 1...12, using: &rng)
        try xen.createDomain(id, memory: .coloured(colours: colours, base: GFN(0x40000), pages: want), iommuEnabled: false)
        let frames = xen.host.frames(of: id)
        #expect(UInt64(frames.count) == want)
        #expect(frames.allSatisfy { colours.contains(Int($0.rawValue & 7)) })
        #expect(Set(try xen.domain(id).p2m.entries.values.map(\.mfn)) == Set(frames))
      }
      let all = (1...3).flatMap { xen.host.frames(of: DomainID(UInt16($0))) }
      #expect(Set(all).count == all.count)
    }
  }
}
