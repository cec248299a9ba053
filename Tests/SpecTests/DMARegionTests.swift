import Testing

@testable import Spec

/// A device's `dma-ranges` as Linux applies them (include/linux/dma-direct.h:
/// `translate_phys_to_dma()`, `translate_dma_to_phys()`, `dma_range_map_max()`)
/// and what they do to a DMA through swiotlb-xen and dma-direct.
@Suite("dma-ranges: phys_to_dma, dma_to_phys, bus_dma_limit")
struct DMARegionTests {
  /// Low RAM seen at bus 0 (an offset of 0x4000_0000), then a window
  /// mapped at itself.
  static let regions = [
    DMARegion(cpuStart: 0x4000_0000, dmaStart: 0, size: 0x1000_0000),
    DMARegion(cpuStart: 0x8000_0000, dmaStart: 0x8000_0000, size: 0x1000_0000),
  ]

  @Test("the first region holding the address translates it; none gives DMA_MAPPING_ERROR / (phys_addr_t)-1")
  func translation() {
    #expect(physToDMA(UInt64(0x4000_1234), regions: Self.regions) == 0x1234)
    #expect(physToDMA(UInt64(0x8000_1234), regions: Self.regions) == 0x8000_1234)
    #expect(physToDMA(UInt64(0x5000_0000), regions: Self.regions) == dmaMappingError)
    #expect(physToDMA(UInt64(0x3FFF_FFFF), regions: Self.regions) == dmaMappingError)
    #expect(dmaToPhys(UInt64(0x1234), regions: Self.regions) == 0x4000_1234)
    #expect(dmaToPhys(UInt64(0x1000_0000), regions: Self.regions) == .max)
    // Without a map both are the identity.
    #expect(physToDMA(UInt64(0x5000_0000), regions: []) == 0x5000_0000)
    #expect(dmaToPhys(UInt64.max, regions: []) == .max)
    // Overlapping regions: the first listed wins, as the loop does.
    let overlapping = [DMARegion(cpuStart: 0, dmaStart: 0x1_0000, size: 0x1000), DMARegion(cpuStart: 0, dmaStart: 0x2_0000, size: 0x2000)]
    #expect(physToDMA(UInt64(0x800), regions: overlapping) == 0x1_0800)
    #expect(physToDMA(UInt64(0x1800), regions: overlapping) == 0x2_1800)
  }

  @Test("bus_dma_limit is the highest DMA address of any region, 0 without a map")
  func limit() {
    #expect(busDMALimit(Self.regions) == 0x8FFF_FFFF)
    #expect(busDMALimit([]) == 0)
  }

  @Test("inside a region, dma_to_phys undoes phys_to_dma (random addresses)", arguments: [UInt64(1), 2, 3])
  func roundTrip(seed: UInt64) {
    var random = SplitMix64(seed: seed)
    for _ in 0..<500 {
      let region = Self.regions[Int(random.next() % 2)]
      let phys = region.cpuStart + random.next() % region.size
      let dma = physToDMA(phys, regions: Self.regions)
      #expect(dma != dmaMappingError)
      #expect(dmaToPhys(dma, regions: Self.regions) == phys)
    }
  }

  @Test("swiotlb-xen: a buffer outside every region bounces, through a slot inside one, at the slot's DMA address")
  func swiotlbXenBounces() throws {
    let device = Device(name: "d", attachment: .notBehindSMMU, dmaRegions: Self.regions)
    var pool = SwiotlbPool(start: GFN(0x4_0100), pages: 16)
    let inside = try mapPageThroughSwiotlbXen(0x4000_2000, size: 0x100, device: device, grantTree: GrantTree(), options: SwiotlbXenOptions(), pool: &pool)
    #expect(inside == .direct(DMAAddress(0x2000)))
    let outside = try mapPageThroughSwiotlbXen(0x5000_2000, size: 0x100, device: device, grantTree: GrantTree(), options: SwiotlbXenOptions(), pool: &pool)
    #expect(outside == .bounce(DMAAddress(0x10_0000), slot: 0x4010_0000))
  }

  @Test("dma-direct: a buffer outside every region is DMA_MAPPING_ERROR (no swiotlb to fall back on)")
  func dmaDirectRefuses() throws {
    let device = Device(name: "d", attachment: .notBehindSMMU, dmaRegions: Self.regions)
    #expect(try mapPageDirect(0x4000_2000, size: 0x100, device: device) == .mapped(DMAAddress(0x2000)))
    guard case .mappingError(let why) = try mapPageDirect(0x5000_2000, size: 0x100, device: device) else {
      Issue.record("mapped outside every region")
      return
    }
    #expect(why.contains("no dma-ranges region"))
  }
}
