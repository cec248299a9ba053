import Spec

/// How Xen was built and booted: what decides which IOMMUs it drives, and
/// which the device tree cannot say.
public struct XenConfig: Hashable, Sendable {
  /// Whether Xen was built with its SMMUv3 driver (`CONFIG_ARM_SMMU_V3`).
  /// Off by default: in `xen/drivers/passthrough/Kconfig` at
  /// RELEASE-4.15.0 … RELEASE-4.21.0 the option is
  /// `bool "…(SMMUv3) Support" if EXPERT`, `depends on ARM_64 && (!ACPI ||
  /// BROKEN)`, with no `default`, so a build without `CONFIG_EXPERT` lacks
  /// it. The SMMUv1/v2 driver (`ARM_SMMU`) is `default y`.
  public var smmuV3Driver: Bool
  /// Xen's `iommu=` boot option (`iommu_enable`, default 1 in
  /// `xen/drivers/passthrough/iommu.c`, RELEASE-4.15.0). Off, `iommu_setup()`
  /// probes no IOMMU and `iommu_enabled` stays false.
  public var iommu: Bool
  /// Whether Xen was built with its Renesas IPMMU-VMSA driver
  /// (`CONFIG_IPMMU_VMSA`): `bool … depends on ARM_64` with no `default`
  /// in `xen/drivers/passthrough/Kconfig` (RELEASE-4.15.0, RELEASE-4.21.0),
  /// so off unless chosen.
  public var ipmmuDriver: Bool

  public init(smmuV3Driver: Bool = false, iommu: Bool = true, ipmmuDriver: Bool = false) {
    self.smmuV3Driver = smmuV3Driver
    self.iommu = iommu
    self.ipmmuDriver = ipmmuDriver
  }

  /// `smmuv3=on,iommu=off` as `--xen-config` spells it (`ipmmu=on` only
  /// when set).
  public var description: String {
    "smmuv3=\(smmuV3Driver ? "on" : "off"),iommu=\(iommu ? "on" : "off")" + (ipmmuDriver ? ",ipmmu=on" : "")
  }
}
