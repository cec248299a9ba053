/// A node's DMA role.
public enum DMAClassification: Hashable, Sendable {
  /// Stream IDs on an available SMMU: Xen can attach it to dom0's context
  /// (`iommu_add_dt_device()` → `iommu_assign_dt_device()`, fact sheet §6.3).
  case protected
  /// Evidence that it masters the bus, and no stream IDs on an SMMU Xen
  /// drives: its addresses reach memory untranslated (§6.4).
  case unprotected
  /// No evidence either way: unsafe unless assumed DMA-free.
  case unknown
  /// Not a DMA master of dom0's; the reason says why.
  case notAMaster(reason: String)

  public var label: String {
    switch self {
    case .protected: "protected"
    case .unprotected: "unprotected DMA master"
    case .unknown: "unknown"
    case .notAMaster: "not a DMA master"
    }
  }
}
