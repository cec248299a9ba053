import Testing

@testable import Spec

/// A tree with two grant maps: pfn 0x20_0000 → 0xC1_2345 and pfn
/// 0x20_0001 → 0xC1_2346 (machine-contiguous), and pfn 0x20_0003 →
/// 0x90_0000 (not contiguous with anything).
func sampleGrantTree() throws -> GrantTree {
  var tree = GrantTree()
  try tree.setForeignP2MMapping(hostAddress: 0x2_0000_0000, devBusAddress: 0xC_1234_5000)
  try tree.setForeignP2MMapping(hostAddress: 0x2_0000_1000, devBusAddress: 0xC_1234_6000)
  try tree.setForeignP2MMapping(hostAddress: 0x2_0000_3000, devBusAddress: 0x9_0000_0000)
  return tree
}

/// `range_straddles_page_boundary` by its definition in words (§3.1): the
/// spanned Xen pages are not machine-contiguous.
func bruteForceStraddles(_ phys: UInt64, size: UInt64, tree: GrantTree) -> Bool {
  let first = phys >> 12
  let last = (phys + size - 1) >> 12
  let bfns = (first...last).map { tree.pfnToBfn($0) }
  return zip(bfns, bfns.dropFirst()).contains { $1 != $0 + 1 }
}

@Suite("swiotlb-xen (fact sheet §3.1, §3.4, §3.5)")
struct SwiotlbXenTests {
  @Test("§3.1 xen_phys_to_bus: the frame through pfn_to_bfn, the offset kept")
  func physToBus() throws {
    let tree = try sampleGrantTree()
    let pfnToBfn: (UInt64) -> UInt64 = { tree.pfnToBfn($0) }
    #expect(xenPhysToBus(UInt64(0x2_0000_0abc), pfnToBfn: pfnToBfn) == 0xC_1234_5abc)
    #expect(xenPhysToBus(UInt64(0x8012_3456), pfnToBfn: pfnToBfn) == 0x8012_3456)
  }

  @Test("§3.1 range_straddles_page_boundary, hand-computed")
  func straddles() throws {
    let tree = try sampleGrantTree()
    let pfnToBfn: (UInt64) -> UInt64 = { tree.pfnToBfn($0) }
    func straddles(_ p: UInt64, _ size: UInt64) -> Bool {
      rangeStraddlesPageBoundary(p, size: size, maximumPages: Int(pagesSpanned(p, size: size)), pfnToBfn: pfnToBfn)
    }
    #expect(!straddles(0x8000_0ff0, 0x20), "local pages are 1:1 by assumption")
    #expect(!straddles(0x2_0000_0ff0, 0x20), "two grant pages that are machine-contiguous")
    #expect(straddles(0x2_0000_1ff0, 0x20), "grant page then a pfn not in the tree")
    #expect(straddles(0x1_ffff_fff0, 0x20), "local pfn then a grant page")
    #expect(!straddles(0x2_0000_3000, 0x1000), "exactly one page never straddles")
    #expect(straddles(0x2_0000_3001, 0x1000), "one byte into the next page")
  }

  @Test("straddle loop bound: pages beyond nr_pages are not looked at")
  func straddleBound() throws {
    let tree = try sampleGrantTree()
    // 0x2_0000_0000 + 0x2000 covers the two contiguous grant pages only;
    // unrolling to 4 pages must not see the break at page 2.
    #expect(!rangeStraddlesPageBoundary(UInt64(0x2_0000_0000), size: 0x2000, maximumPages: 4, pfnToBfn: { tree.pfnToBfn($0) }))
    #expect(rangeStraddlesPageBoundary(UInt64(0x2_0000_0000), size: 0x2001, maximumPages: 4, pfnToBfn: { tree.pfnToBfn($0) }))
  }

  @Test("property: the straddle test agrees with its brute-force definition (seed 0x57AD)")
  func straddleProperty() throws {
    var random = SplitMix64(seed: 0x57AD)
    for _ in 0..<300 {
      var tree = GrantTree()
      for pfn in UInt64(0x100)..<0x108 where random.next() % 2 == 0 {
        let mfn = random.next() % 3 == 0 ? 0x5000 + (pfn - 0x100) : random.next() % 0x10000
        try tree.setForeignP2MMapping(hostAddress: pfn << 12, devBusAddress: mfn << 12)
      }
      let phys = (0xFF << 12) + random.next() % (10 << 12)
      let size = 1 + random.next() % (4 << 12)
      let generic = rangeStraddlesPageBoundary(
        phys, size: size, maximumPages: Int(pagesSpanned(phys, size: size)), pfnToBfn: { tree.pfnToBfn($0) })
      #expect(generic == bruteForceStraddles(phys, size: size, tree: tree), "phys \(hex(phys)) size \(hex(size)) tree \(tree.entries)")
    }
  }

  @Test("§3.5 xen_arch_need_swiotlb = !cflush ∧ foreign ∧ !coherent, each condition necessary")
  func needSwiotlb() {
    let foreign = (phys: UInt64(0x2_0000_0000), bus: UInt64(0xC_1234_5000))
    #expect(xenArchNeedSwiotlb(phys: foreign.phys, devAddr: foreign.bus, hypercallCacheFlush: false, coherent: false))
    #expect(!xenArchNeedSwiotlb(phys: foreign.phys, devAddr: foreign.bus, hypercallCacheFlush: true, coherent: false))
    #expect(!xenArchNeedSwiotlb(phys: foreign.phys, devAddr: foreign.bus, hypercallCacheFlush: false, coherent: true))
    #expect(!xenArchNeedSwiotlb(phys: foreign.phys, devAddr: foreign.phys | 0x123, hypercallCacheFlush: false, coherent: false))
  }

  @Test("§3.5 only the first page, and only 32 bits of each frame number, are compared")
  func needSwiotlbTruncation() {
    // Frames 0x1_0000_0005 and 0x5 agree in their low 32 bits: unsigned int.
    #expect(!xenArchNeedSwiotlb(phys: UInt64(0x5000), devAddr: 0x1_0000_0005 << 12, hypercallCacheFlush: false, coherent: false))
  }

  @Test("dma_capable: addr + size − 1 ≤ min_not_zero(mask, bus_dma_limit), and never DMA_MAPPING_ERROR")
  func dmaCapableRule() {
    #expect(dmaCapable(UInt64(0xFFFF_F000), size: 0x1000, mask: 0xFFFF_FFFF))
    #expect(!dmaCapable(UInt64(0xFFFF_F001), size: 0x1000, mask: 0xFFFF_FFFF))
    // `if (addr == DMA_MAPPING_ERROR) return false;` — even for a 64-bit mask.
    #expect(!dmaCapable(UInt64.max, size: 1, mask: .max))
    #expect(dmaCapable(UInt64.max - 1, size: 1, mask: .max))
    // The bus limit narrows a wider mask; a zero mask leaves the limit alone.
    #expect(!dmaCapable(UInt64(0x4000_0000), size: 0x1000, mask: .max, busLimit: 0x3FFF_FFFF))
    #expect(dmaCapable(UInt64(0x3FFF_F000), size: 0x1000, mask: .max, busLimit: 0x3FFF_FFFF))
    #expect(!dmaCapable(UInt64(0x3FFF_F000), size: 0x1000, mask: 0xFFFF_FFF, busLimit: 0x3FFF_FFFF))
    #expect(dmaCapable(UInt64(0x3FFF_F000), size: 0x1000, mask: 0, busLimit: 0x3FFF_FFFF))
  }

  @Test("§3.4 map_page: direct when capable, contiguous, no arch need and not forced")
  func mapDirect() throws {
    var pool = SwiotlbPool(start: GFN(0x8_0100), pages: 16)
    let device = Device(name: "eth", attachment: .notBehindSMMU)
    let mapping = try mapPageThroughSwiotlbXen(
      0x2_0000_0100, size: 0x100, device: device, grantTree: sampleGrantTree(), options: SwiotlbXenOptions(), pool: &pool)
    #expect(mapping == .direct(DMAAddress(0xC_1234_5100)))
    #expect(pool.allocations.isEmpty)
  }

  @Test("§3.4 map_page bounces for each reason, through the pool at its dom0 address")
  func mapBounce() throws {
    let tree = try sampleGrantTree()
    let coherent = Device(name: "eth", attachment: .notBehindSMMU)
    let nonCoherent = Device(name: "mmc", coherent: false, attachment: .notBehindSMMU)
    let narrow = Device(name: "dma32", dmaMaskBits: 32, attachment: .notBehindSMMU)
    let cases: [(String, UInt64, UInt64, Device, SwiotlbXenOptions)] = [
      ("straddles", 0x2_0000_1ff0, 0x20, coherent, SwiotlbXenOptions()),
      ("needs swiotlb", 0x2_0000_0000, 0x100, nonCoherent, SwiotlbXenOptions(hypercallCacheFlush: false)),
      ("beyond the mask", 0x2_0000_0000, 0x100, narrow, SwiotlbXenOptions()),
      ("forced", 0x8000_0000, 0x100, coherent, SwiotlbXenOptions(forceBounce: true)),
    ]
    for (why, phys, size, device, options) in cases {
      var pool = SwiotlbPool(start: GFN(0x8_0100), pages: 16)
      let mapping = try mapPageThroughSwiotlbXen(phys, size: size, device: device, grantTree: tree, options: options, pool: &pool)
      #expect(mapping == .bounce(DMAAddress(0x8010_0000), slot: 0x8010_0000), "\(why)")
    }
  }

  @Test("§3.4 a bounce address beyond the mask is DMA_MAPPING_ERROR and frees the slot")
  func bounceBeyondMask() throws {
    var pool = SwiotlbPool(start: GFN(0x10_0000), pages: 4)
    let narrow = Device(name: "dma32", dmaMaskBits: 32, attachment: .notBehindSMMU)
    let mapping = try mapPageThroughSwiotlbXen(
      0x2_0000_0000, size: 0x100, device: narrow, grantTree: GrantTree(), options: SwiotlbXenOptions(), pool: &pool)
    guard case .mappingError = mapping else {
      Issue.record("expected a mapping error, got \(mapping)")
      return
    }
    #expect(pool.allocations.isEmpty)
  }

  @Test("swiotlb slots: 2 KiB, page aligned from a page up, first fit; a full pool is a mapping error")
  func poolSlots() throws {
    var pool = SwiotlbPool(start: GFN(0x100), pages: 2)
    #expect(pool.mapSingle(size: 0x10) == 0x10_0000)
    #expect(pool.mapSingle(size: 0x1000) == 0x10_1000, "a page-sized mapping skips the half-used first page")
    #expect(pool.mapSingle(size: 0x800) == 0x10_0800)
    #expect(pool.mapSingle(size: 1) == nil)
    pool.unmapSingle(0x10_0800)
    #expect(pool.mapSingle(size: 0x801) == nil, "two slots do not fit in the one free slot")
    #expect(pool.mapSingle(size: SwiotlbPool.maximumMappingSize + 1) == nil)
    #expect(pool.mapSingle(size: 0x800) == 0x10_0800, "the freed slot is reused")
    let device = Device(name: "eth", attachment: .notBehindSMMU)
    let full = try mapPageThroughSwiotlbXen(
      0x8000_0000, size: 0x100, device: device, grantTree: GrantTree(), options: SwiotlbXenOptions(forceBounce: true), pool: &pool)
    guard case .mappingError = full else {
      Issue.record("expected a mapping error, got \(full)")
      return
    }
  }

  @Test("sizes outside the model are thrown errors")
  func badSizes() {
    var pool = SwiotlbPool(start: GFN(0x100), pages: 2)
    let device = Device(name: "eth", attachment: .notBehindSMMU)
    for (phys, size) in [(UInt64(0x1000), maximumDMASize + 1), (UInt64.max - 10, 0x100)] {
      #expect(throws: DMARequestError.sizeOutOfRange(phys: phys, size: size)) {
        try mapPageThroughSwiotlbXen(phys, size: size, device: device, grantTree: GrantTree(), options: SwiotlbXenOptions(), pool: &pool)
      }
      #expect(throws: DMARequestError.sizeOutOfRange(phys: phys, size: size)) {
        try mapPageDirect(phys, size: size, device: device)
      }
    }
  }

  @Test("dma-direct: the device address is the dom0 physical address; beyond the mask is a mapping error")
  func dmaDirect() throws {
    let device = Device(name: "dma32", dmaMaskBits: 32, attachment: .notBehindSMMU)
    #expect(try mapPageDirect(0x8012_3456, size: 0x10, device: device) == .mapped(DMAAddress(0x8012_3456)))
    guard case .mappingError = try mapPageDirect(0x1_0000_0000, size: 0x10, device: device) else {
      Issue.record("a 32-bit device cannot reach 4 GiB")
      return
    }
  }
}
