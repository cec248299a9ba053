/// What the device needs to know to be mapped for DMA: its DMA mask and
/// whether it snoops the CPU caches.
public struct DMADeviceModel<W: Word> {
  /// `dma_mask` (`DMA_BIT_MASK(n)`): the highest bus address it can reach.
  public var dmaMask: W
  /// `dev_is_dma_coherent(dev)`.
  public var coherent: W.Condition

  /// The device's `dma-ranges` (``DMARegion``), concrete: the platform's.
  /// The matrix's devices have none.
  public var dmaRegions: [DMARegion]

  public init(dmaMask: W, coherent: W.Condition, dmaRegions: [DMARegion] = []) {
    self.dmaMask = dmaMask
    self.coherent = coherent
    self.dmaRegions = dmaRegions
  }
}
