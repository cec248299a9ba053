/// The feature flags Xen may advertise to dom0 (`XENVER_get_features`).
public struct XenFeatures: Hashable, Sendable, Codable {
  /// `XENFEAT_direct_mapped` (17), Xen ≥ 4.16 (`d66bf122c0`, §4).
  public var directMapped: Bool
  /// `XENFEAT_not_direct_mapped` (16), Xen ≥ 4.16.
  public var notDirectMapped: Bool
  /// `XENFEAT_ARM_dom0_iommu`, the RFC's flag (§0). Never merged; the RFC
  /// numbered it 16, the number `not_direct_mapped` took, so the model
  /// keeps it as a separate named flag.
  public var dom0IOMMU: Bool

  public init(directMapped: Bool = false, notDirectMapped: Bool = false, dom0IOMMU: Bool = false) {
    self.directMapped = directMapped
    self.notDirectMapped = notDirectMapped
    self.dom0IOMMU = dom0IOMMU
  }

  /// What a Xen carrying both the merged flags and the RFC patch tells
  /// dom0; each policy reads only the flags its Linux knows.
  ///
  /// - `do_xen_version(XENVER_get_features)` (xen/common/kernel.c, 4.16+):
  ///   `direct_mapped` if `is_domain_direct_mapped(d)` (on Arm, a
  ///   translated domain), else `not_direct_mapped`.
  /// - The RFC: `dom0_iommu` when `is_iommu_enabled(d)` for dom0.
  public init(dom0Layout: MemoryLayout, iommuEnabled: Bool) {
    self.init(
      directMapped: dom0Layout.isDirectMapped, notDirectMapped: !dom0Layout.isDirectMapped, dom0IOMMU: iommuEnabled)
  }

  /// What a given Xen release tells dom0: the merged flags exist from Xen
  /// 4.16 (`d66bf122c0`, §4); before that neither is set.
  public init(version: XenVersion, dom0DirectMapped: Bool, iommuEnabled: Bool) {
    let hasFlags = version >= XenVersion(name: "4.16")!
    self.init(
      directMapped: hasFlags && dom0DirectMapped, notDirectMapped: hasFlags && !dom0DirectMapped, dom0IOMMU: iommuEnabled)
  }
}

/// Which Linux DMA ops a device gets (§3.5 "Which devices get swiotlb-xen").
public enum DMAPath: String, Hashable, Sendable, CaseIterable, Codable {
  /// `xen_swiotlb_dma_ops`.
  case swiotlbXen = "swiotlb-xen"
  /// The default dma-direct ops.
  case dmaDirect = "dma-direct"
}

/// How dom0 Linux chooses between swiotlb-xen and dma-direct: the four
/// policies of DESIGN.md §1. Raw values are the scenario names.
public enum DMAPolicy: String, Hashable, Sendable, CaseIterable, Codable, CustomStringConvertible {
  /// Linux < 5.13: `xen_initial_domain()` decides, in `xen_mm_init()` and
  /// `arch_setup_dma_ops()`; dom0 always gets swiotlb-xen.
  case legacy = "legacy"
  /// Linux ≥ 5.13 with Xen ≥ 4.16: `xen_swiotlb_detect()` (`f5079a9a2a31`,
  /// include/xen/arm/swiotlb-xen.h, §4): swiotlb-xen iff
  /// `XENFEAT_direct_mapped`, or neither flag and the initial domain.
  case mergedFlags = "merged-flags"
  /// The RFC (§0): skip swiotlb-xen when Xen sets `XENFEAT_ARM_dom0_iommu`;
  /// without it, Linux behaves as `legacy` **[derived: the RFC was written
  /// against Linux before `xen_swiotlb_detect()`]**.
  case globalFlag = "global-flag"
  /// Julien's alternative (§0, 17 Feb 2021): Linux learns per device
  /// whether it is SMMU-protected and sets DMA ops per device; protected →
  /// dma-direct, otherwise swiotlb-xen. Nothing merged implements this
  /// (§4); "protected" here is the ground truth: the device's stream
  /// translates through dom0's context.
  case perDevice = "per-device"

  public var description: String { rawValue }

  /// `xen_swiotlb_detect()`.
  static func xenSwiotlbDetect(features: XenFeatures, isInitialDomain: Bool) -> Bool {
    if features.directMapped { return true }
    return !features.notDirectMapped && isInitialDomain
  }

  /// The DMA ops `device` gets in dom0 under this policy.
  /// - Throws: ``SMMUError`` when the device's SMMU is not on the platform.
  public func path(
    for device: Device, features: XenFeatures, platform: SMMUPlatform, isInitialDomain: Bool = true
  ) throws(SMMUError) -> DMAPath {
    let swiotlb: Bool
    switch self {
    case .legacy:
      swiotlb = isInitialDomain
    case .mergedFlags:
      swiotlb = Self.xenSwiotlbDetect(features: features, isInitialDomain: isInitialDomain)
    case .globalFlag:
      swiotlb = !features.dom0IOMMU && isInitialDomain
    case .perDevice:
      swiotlb = try !platform.isProtected(device, for: .dom0) && isInitialDomain
    }
    return swiotlb ? .swiotlbXen : .dmaDirect
  }
}
