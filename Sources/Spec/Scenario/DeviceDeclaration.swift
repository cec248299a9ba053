public struct DeviceDeclaration: Hashable, Sendable {
  public enum Placement: Hashable, Sendable {
    /// Not behind any SMMU: addresses reach memory untranslated.
    case untranslated
    /// Behind `smmu` with these stream IDs; `described` is whether Xen
    /// knows it (an `iommus` / `mmu-masters` entry).
    case smmu(name: String, streams: [UInt32], described: Bool)
  }
  public var name: String
  public var placement: Placement
  public var coherent: Bool
  public var dmaMaskBits: Int

  public init(name: String, placement: Placement, coherent: Bool = true, dmaMaskBits: Int = 64) {
    self.name = name
    self.placement = placement
    self.coherent = coherent
    self.dmaMaskBits = dmaMaskBits
  }
}
