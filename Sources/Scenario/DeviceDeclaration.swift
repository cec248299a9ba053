import Spec

package struct DeviceDeclaration: Hashable, Sendable {
  package enum Placement: Hashable, Sendable {
    /// Not behind any SMMU: addresses reach memory untranslated.
    case untranslated
    /// Behind `smmu` with these stream IDs; `described` is whether Xen
    /// knows it (an `iommus` / `mmu-masters` entry).
    case smmu(name: String, streams: [UInt32], described: Bool)
  }
  package var name: String
  package var placement: Placement
  package var coherent: Bool
  package var dmaMaskBits: Int
  /// The SMR mask of each stream of an `.smmu` placement, by position
  /// (`streams 0x10/0xf,0x20`); empty, or shorter than the streams, means
  /// mask 0. A mask comes from a second `iommus` cell or the SMMU's
  /// `stream-match-mask` (``Device/streamMatchMasks``).
  package var streamMasks: [UInt32]
  /// `passthrough`: the device tree marks it `xen,passthrough`, so Xen
  /// does not assign it to dom0 at boot (``Device/passthrough``).
  package var passthrough: Bool
  /// `dma-ranges <cpu>:<dma>:<size>,…`: the device's bus's `dma-ranges`
  /// as Linux reads them (``Device/dmaRegions``).
  package var dmaRegions: [DMARegion]

  package init(
    name: String, placement: Placement, coherent: Bool = true, dmaMaskBits: Int = 64, streamMasks: [UInt32] = [], passthrough: Bool = false,
    dmaRegions: [DMARegion] = []
  ) {
    self.dmaRegions = dmaRegions
    self.name = name
    self.placement = placement
    self.coherent = coherent
    self.dmaMaskBits = dmaMaskBits
    self.streamMasks = streamMasks
    self.passthrough = passthrough
  }
}
