public struct PlatformIOMMU: Hashable, Sendable {
  public var path: String
  public var name: String
  public var compatible: [String]
  public var kind: IOMMUKind
  /// `#iommu-cells`: absent on an SMMU described only by `mmu-masters`.
  public var iommuCells: UInt32?
  /// Whether its status lets Xen probe it.
  public var available: Bool
}
