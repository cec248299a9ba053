/// `phys_to_dma(dev, paddr)` for dma-direct (include/linux/dma-direct.h):
/// the device address of a dom0 physical address. Without a DT
/// `dma-ranges` offset, which this model does not have, it is the
/// identity: the device is given the GFN-based address, and only an SMMU
/// attached to dom0's context can turn it into the MFN (§3.6 last row).
public func dmaDirectAddress<W: Word>(_ phys: W) -> W {
  phys
}

/// The result of `dma_direct_map_page()`.
public enum DMADirectMapping: Hashable, Sendable, CustomStringConvertible {
  case mapped(DMAAddress)
  case mappingError(String)

  public var description: String {
    switch self {
    case .mapped(let address): "dma-direct \(address)"
    case .mappingError(let why): "DMA_MAPPING_ERROR (\(why))"
    }
  }
}

/// `dma_direct_map_page(dev, page, offset, size, dir, attrs)`
/// (kernel/dma/direct.h): `phys_to_dma(phys)`, refused when not
/// `dma_capable`.
///
/// **[derived simplification]** Linux falls back to a plain swiotlb bounce
/// (`swiotlb_map`) when a swiotlb pool is active; this model has no plain
/// swiotlb, so an unreachable address is `DMA_MAPPING_ERROR`.
///
/// - Throws: ``DMARequestError/sizeOutOfRange(phys:size:)``.
public func mapPageDirect(_ phys: UInt64, size: UInt64, device: Device) throws(DMARequestError) -> DMADirectMapping {
  try validateDMARange(phys, size: size)
  let address = dmaDirectAddress(phys)
  guard dmaCapable(address, size: size, mask: device.dmaMask) else {
    return .mappingError("\(hex(address)) is beyond the \(device.dmaMaskBits)-bit mask")
  }
  return .mapped(DMAAddress(address))
}
