/// Which IOMMU architecture a node is, from its compatible.
public enum IOMMUKind: String, Hashable, Sendable, Codable {
  /// `arm,smmu-v1`, `arm,mmu-400`, `arm,mmu-401` (iommu/arm,smmu.yaml);
  /// driven by Xen's `smmu.c` like v2.
  case smmuV1 = "smmu-v1"
  /// `arm,smmu-v2`, `arm,mmu-500`, `cavium,smmu-v2` (iommu/arm,smmu.yaml).
  case smmuV2 = "smmu-v2"
  /// `arm,smmu-v3` (iommu/arm,smmu-v3.yaml); Xen's `smmu-v3.c`.
  case smmuV3 = "smmu-v3"
  /// Any other node with `#iommu-cells` (iommu/iommu.txt): an IOMMU this
  /// tool does not model (Renesas IPMMU, vendor IOMMUs).
  case other

  static func of(_ compatibles: [String]) -> IOMMUKind? {
    for compatible in compatibles {
      switch compatible {
      case "arm,smmu-v1", "arm,mmu-400", "arm,mmu-401": return .smmuV1
      case "arm,smmu-v2", "arm,mmu-500", "cavium,smmu-v2": return .smmuV2
      case "arm,smmu-v3": return .smmuV3
      default: continue
      }
    }
    return nil
  }
}
