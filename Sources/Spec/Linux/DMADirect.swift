/// `phys_to_dma(dev, paddr)` for dma-direct (include/linux/dma-direct.h):
/// the device address of a dom0 physical address, through the device's
/// `dma-ranges` (``physToDMA(_:regions:)``). The device is given the
/// GFN-based address, and only an SMMU attached to dom0's context can turn
/// it into the MFN (§3.6 last row).
public func dmaDirectAddress<W: Word>(_ phys: W, regions: [DMARegion] = []) -> W {
  physToDMA(phys, regions: regions)
}

/// Why `dma_capable()` refused `address`, the DMA address of `phys` (a
/// bounce slot's when `bounce`): in no `dma-ranges` region, beyond the
/// mask, or beyond the bus limit.
func dmaCapableRefusal(address: UInt64, of phys: UInt64, device: Device, bounce: Bool) -> String {
  let what = bounce ? "bounce slot \(hex(phys))" : hex(phys)
  if address == dmaMappingError { return "\(what) is in no dma-ranges region" }
  let limit = busDMALimit(device.dmaRegions)
  let subject = bounce ? "bounce address \(hex(address))" : hex(address)
  if limit != 0 && device.dmaMask > limit { return "\(subject) is beyond the bus limit \(hex(limit)) (dma-ranges)" }
  return "\(subject) is beyond the \(device.dmaMaskBits)-bit mask"
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
/// A zero-length mapping is mapped like any other (`dma_capable()` of
/// `size` 0 checks the byte before `addr`, as Linux's `end` does).
///
/// - Throws: ``DMARequestError/sizeOutOfRange(phys:size:)``.
public func mapPageDirect(_ phys: UInt64, size: UInt64, device: Device) throws(DMARequestError) -> DMADirectMapping {
  try validateDMARange(phys, size: size)
  let address = dmaDirectAddress(phys, regions: device.dmaRegions)
  guard dmaCapable(address, size: size, mask: device.dmaMask, busLimit: busDMALimit(device.dmaRegions)) else {
    return .mappingError(dmaCapableRefusal(address: address, of: phys, device: device, bounce: false))
  }
  return .mapped(DMAAddress(address))
}
