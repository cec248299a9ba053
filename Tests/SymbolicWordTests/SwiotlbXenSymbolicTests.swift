import Solver
import Spec
import SymbolicWord
import Testing

/// The grant tree of the concrete swiotlb-xen tests: pfns 0x20_0000 and
/// 0x20_0001 machine-contiguous at 0xC1_2345, pfn 0x20_0003 at 0x90_0000.
func symbolicTestTree() throws -> GrantTree {
  var tree = GrantTree()
  try tree.setForeignP2MMapping(hostAddress: 0x2_0000_0000, devBusAddress: 0xC_1234_5000)
  try tree.setForeignP2MMapping(hostAddress: 0x2_0000_1000, devBusAddress: 0xC_1234_6000)
  try tree.setForeignP2MMapping(hostAddress: 0x2_0000_3000, devBusAddress: 0x9_0000_0000)
  return tree
}

/// `XEN_PFN_UP(offset_in_page(p) + size)`, for picking the exact unrolling.
func spannedPages(_ phys: UInt64, _ size: UInt64) -> Int {
  let end: UInt64 = (phys & 0xFFF).addingReportingOverflow(size).partialValue.addingReportingOverflow(0xFFF).partialValue
  return Int(end / 4096)
}

@Suite("swiotlb-xen, symbolically (fact sheet §3.1, §3.4, §3.5)")
struct SwiotlbXenSymbolicTests {
  let context = Context()
  static let maximumPages = 4

  /// Physical addresses and sizes around the tree's pfns, plus random ones.
  static func samples(seed: UInt64, count: Int) -> [(UInt64, UInt64)] {
    var random = SplitMix64(seed: seed)
    var result: [(UInt64, UInt64)] = [
      (0x2_0000_0ff0, 0x20), (0x2_0000_1ff0, 0x20), (0x1_ffff_fff0, 0x20), (0x2_0000_3000, 0x1000),
      (0x8000_0000, 0x100),
    ]
    while result.count < count {
      let phys = random.next() % 3 == 0 ? random.next() : 0x1_ffff_e000 + random.next() % 0x6000
      result.append((phys, 1 + random.next() % 0x2800))
    }
    return result
  }

  /// `dma-ranges` through the same generic code: the translation both
  /// ways, the bus limit in `dma_capable()` and the whole direct-mapping
  /// decision, as terms, evaluate to the concrete answers.
  @Test("dma-ranges (phys_to_dma, dma_to_phys, dma_capable with the bus limit) on SymbolicWord equal the concrete results")
  func dmaRangesSymbolicEqualsConcrete() throws {
    let tree = try symbolicTestTree()
    let regions = [
      DMARegion(cpuStart: 0x1_ffff_e000, dmaStart: 0x1000, size: 0x3000),
      DMARegion(cpuStart: 0x2_0000_1000, dmaStart: 0x8000_0000, size: 0x4000),
      DMARegion(cpuStart: 0xC_1234_5000, dmaStart: 0xC_1234_5000, size: 0x1000),
    ]
    let phys = try SymbolicWord.variable("phys", in: context)
    let size = try SymbolicWord.variable("size", in: context)
    let toDMA = physToDMA(phys, regions: regions)
    let back = dmaToPhys(toDMA, regions: regions)
    let capable = dmaCapable(toDMA, size: size, mask: phys.constant(0xF_FFFF_FFFF), busLimit: busDMALimit(regions))
    let direct = swiotlbXenMapsDirectly(
      phys: phys, size: size, mask: phys.constant(0xF_FFFF_FFFF), regions: regions, maximumPages: Self.maximumPages,
      hypercallCacheFlush: phys.condition(false), coherent: phys.condition(false), forceBounce: phys.condition(false),
      pfnToBfn: { tree.pfnToBfn($0) })
    let solver = try Solver(context: context)
    for (p, s) in Self.samples(seed: 0xD4A, count: 60) {
      try solver.withScope {
        try solver.assert(phys.term == p)
        try solver.assert(size.term == s)
        let model = try #require(try solver.check().model)
        let concrete = physToDMA(p, regions: regions)
        #expect(try model.value(of: toDMA.term) == concrete, "phys_to_dma(\(hex(p)))")
        #expect(try model.value(of: back.term) == dmaToPhys(concrete, regions: regions), "dma_to_phys(phys_to_dma(\(hex(p))))")
        #expect(
          try model.bool(of: capable.term) == dmaCapable(concrete, size: s, mask: 0xF_FFFF_FFFF, busLimit: busDMALimit(regions)),
          "dma_capable(\(hex(p)), \(hex(s)))")
        if spannedPages(p, s) <= Self.maximumPages {
          let concreteDirect = swiotlbXenMapsDirectly(
            phys: p, size: s, mask: 0xF_FFFF_FFFF, regions: regions, maximumPages: spannedPages(p, s), hypercallCacheFlush: false,
            coherent: false, forceBounce: false, pfnToBfn: { tree.pfnToBfn($0) })
          #expect(try model.bool(of: direct.term) == concreteDirect, "direct(\(hex(p)), \(hex(s)))")
        }
      }
    }
  }

  @Test("the swiotlb-xen decision, run on SymbolicWord, evaluates to the concrete result (seed 0x5EB1)")
  func symbolicEqualsConcrete() throws {
    let tree = try symbolicTestTree()
    let symbolicLookup: (SymbolicWord) -> SymbolicWord = { tree.pfnToBfn($0) }
    let concreteLookup: (UInt64) -> UInt64 = { tree.pfnToBfn($0) }
    let phys = try SymbolicWord.variable("phys", in: context)
    let size = try SymbolicWord.variable("size", in: context)
    let busTerm = xenPhysToBus(phys, pfnToBfn: symbolicLookup)
    let straddleTerm = rangeStraddlesPageBoundary(
      phys, size: size, maximumPages: Self.maximumPages, pfnToBfn: symbolicLookup)
    let directTerm = swiotlbXenMapsDirectly(
      phys: phys, size: size, mask: phys.constant(0xF_FFFF_FFFF), maximumPages: Self.maximumPages,
      hypercallCacheFlush: phys.condition(false), coherent: phys.condition(false), forceBounce: phys.condition(false),
      pfnToBfn: symbolicLookup)
    #expect(busTerm.knownValue == nil && directTerm.knownValue == nil, "the generic code built terms")
    let solver = try Solver(context: context)
    for (p, s) in Self.samples(seed: 0x5EB1, count: 60) {
      let pages = spannedPages(p, s)
      let concreteBus = xenPhysToBus(p, pfnToBfn: concreteLookup)
      let concreteStraddle = rangeStraddlesPageBoundary(p, size: s, maximumPages: pages, pfnToBfn: concreteLookup)
      let concreteDirect = swiotlbXenMapsDirectly(
        phys: p, size: s, mask: 0xF_FFFF_FFFF, maximumPages: pages, hypercallCacheFlush: false, coherent: false,
        forceBounce: false, pfnToBfn: concreteLookup)
      try solver.withScope {
        try solver.assert(phys.term == p)
        try solver.assert(size.term == s)
        let model = try #require(try solver.check().model)
        #expect(try model.value(of: busTerm.term) == concreteBus, "xen_phys_to_bus(\(hex(p)))")
        // The unrolled loop is exact when nr_pages fits the unrolling.
        if pages <= Self.maximumPages {
          #expect(try model.bool(of: straddleTerm.term) == concreteStraddle, "straddles(\(hex(p)), \(hex(s)))")
          #expect(try model.bool(of: directTerm.term) == concreteDirect, "direct(\(hex(p)), \(hex(s)))")
        }
      }
    }
  }

  @Test("proved: xen_phys_to_bus keeps the page offset, and is the identity off the tree")
  func physToBusProofs() throws {
    let tree = try symbolicTestTree()
    let phys = try SymbolicWord.variable("phys", in: context)
    let bus = xenPhysToBus(phys, pfnToBfn: { tree.pfnToBfn($0) })
    let solver = try Solver(context: context, timeout: .seconds(30), randomSeed: 1)
    let offsetKept = try solver.prove((bus & 0xFFF).term == (phys & 0xFFF).term)
    #expect(offsetKept.isProved, "\(offsetKept)")
    let offTree = [UInt64(0x20_0000), 0x20_0001, 0x20_0003].map { ((phys >> 12) != phys.constant($0)).term }
    let identity = try solver.prove(bus.term == phys.term, assuming: offTree)
    #expect(identity.isProved, "\(identity)")
  }

  @Test("refuted: 'a grant page maps directly for a non-coherent device without cache flush'; the counterexample replays")
  func needSwiotlbRefuted() throws {
    let tree = try symbolicTestTree()
    let concreteLookup: (UInt64) -> UInt64 = { tree.pfnToBfn($0) }
    let phys = try SymbolicWord.variable("phys", in: context)
    let size = try SymbolicWord.variable("size", in: context)
    let direct = swiotlbXenMapsDirectly(
      phys: phys, size: size, mask: phys.constant(.max), maximumPages: Self.maximumPages,
      hypercallCacheFlush: phys.condition(false), coherent: phys.condition(false), forceBounce: phys.condition(false),
      pfnToBfn: { tree.pfnToBfn($0) })
    let solver = try Solver(context: context, timeout: .seconds(30), randomSeed: 1)
    let onGrant = ((phys >> 12) == phys.constant(0x20_0000)).term
    let small = (size.ule(size.constant(0x100)) && size.ugt(size.constant(0))).term
    let model = try #require(try solver.prove(direct.term, assuming: [onGrant, small]).counterexample)
    let p = try model.value(of: phys.term)
    let s = try model.value(of: size.term)
    let replayed = swiotlbXenMapsDirectly(
      phys: p, size: s, mask: .max, maximumPages: spannedPages(p, s), hypercallCacheFlush: false, coherent: false,
      forceBounce: false, pfnToBfn: concreteLookup)
    #expect(!replayed, "phys \(hex(p)) size \(hex(s))")
  }
}
