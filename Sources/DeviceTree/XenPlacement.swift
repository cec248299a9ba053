import Spec

/// Where one of dom0's DMA masters sits from Xen's point of view.
public enum XenPlacement: Hashable, Sendable {
  /// Streams read and attached to dom0's context on this SMMU.
  case attached(iommu: String)
  /// Behind this SMMU of Xen's, but Xen does not read the binding that
  /// lists its streams: they are never attached and fault (§6.4).
  case undescribed(iommu: String)
  /// Streams only on IOMMUs Xen does not drive: untranslated by Xen.
  case iommuNotXens(iommu: String)
  /// Not behind any IOMMU (or only behind a disabled one): untranslated.
  case untranslated

  /// The class as `check` and `platform` print it.
  public var label: String {
    switch self {
    case .attached: "attached"
    case .undescribed: "undescribed"
    case .iommuNotXens: "iommu-not-xens"
    case .untranslated: "not-behind-smmu"
    }
  }
}
