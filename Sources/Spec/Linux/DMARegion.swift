/// One region of a device's `dma_range_map` (`struct bus_dma_region`,
/// include/linux/dma-direct.h): CPU physical addresses
/// `[cpuStart, cpuStart + size)` are DMA addresses
/// `[dmaStart, dmaStart + size)`. Linux builds the map from the device
/// tree's `dma-ranges` of the device's bus (`of_dma_configure_id()` →
/// `of_dma_get_range()`, drivers/of/device.c and address.c, v5.10 on, where
/// it replaced `dma_pfn_offset`). A device without one has no map, and its
/// DMA addresses are its physical ones.
public struct DMARegion: Hashable, Sendable, Codable, CustomStringConvertible {
  public var cpuStart: UInt64
  public var dmaStart: UInt64
  public var size: UInt64

  public init(cpuStart: UInt64, dmaStart: UInt64, size: UInt64) {
    self.cpuStart = cpuStart
    self.dmaStart = dmaStart
    self.size = size
  }

  public var description: String { "\(hex(cpuStart)):\(hex(dmaStart)):\(hex(size))" }
}

/// `DMA_MAPPING_ERROR`, `~(dma_addr_t)0`: what `translate_phys_to_dma()`
/// returns for an address in no region, "to make sure dma_capable fails".
public let dmaMappingError: UInt64 = .max

/// `phys_to_dma(dev, paddr)` (include/linux/dma-direct.h, v5.10 …
/// current): with a range map, `translate_phys_to_dma()` — the first region
/// holding `paddr` gives `dma_start + (paddr - cpu_start)`, none gives
/// ``dmaMappingError`` — else the identity. Written over ``Word``; the
/// regions are the platform's, so a proof that quantifies over addresses
/// takes them as given (the matrix's devices have none).
public func physToDMA<W: Word>(_ phys: W, regions: [DMARegion]) -> W {
  translate(phys, through: regions, from: \.cpuStart, to: \.dmaStart, outside: dmaMappingError)
}

/// `dma_to_phys(dev, dma_addr)`: with a range map, `translate_dma_to_phys()`
/// — the first region holding the address gives `cpu_start + offset`, none
/// gives `(phys_addr_t)-1` — else the identity.
public func dmaToPhys<W: Word>(_ dma: W, regions: [DMARegion]) -> W {
  translate(dma, through: regions, from: \.dmaStart, to: \.cpuStart, outside: .max)
}

/// The loop both directions share: the first region whose `from` side
/// holds `address` gives its `to` side at the same offset, none gives
/// `outside`; no regions, the identity (no map).
func translate<W: Word>(
  _ address: W, through regions: [DMARegion], from: KeyPath<DMARegion, UInt64>, to: KeyPath<DMARegion, UInt64>, outside: UInt64
) -> W {
  guard !regions.isEmpty else { return address }
  var result = address.constant(outside)
  for region in regions.reversed() {
    let offset = address &- region[keyPath: from]
    result = W.select(address >= region[keyPath: from] && offset < region.size, address.constant(region[keyPath: to]) &+ offset, result)
  }
  return result
}

/// `dev->bus_dma_limit` as `of_dma_configure_id()` sets it from the map:
/// `dma_range_map_max()`, the highest DMA address of any region; 0 (no
/// limit) without a map.
public func busDMALimit(_ regions: [DMARegion]) -> UInt64 {
  regions.map { $0.dmaStart &+ $0.size &- 1 }.max() ?? 0
}
