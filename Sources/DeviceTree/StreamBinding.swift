/// Which binding gave a device its stream IDs.
public enum StreamBinding: String, Hashable, Sendable, Codable {
  /// Generic `iommus = <&smmu id …>` (iommu/iommu.txt). Xen's SMMUv3
  /// driver reads it from its import (`813b3fb5fe`, 4.15); its SMMUv1/v2
  /// driver only from `2278d2cbb0` (Xen 4.16, fact sheet §6.1).
  case iommus
  /// Legacy `mmu-masters = <&master id …>` in the SMMU node, with the
  /// master's `#stream-id-cells` (iommu/arm,smmu.yaml, deprecated). The only
  /// binding Xen 4.15's SMMUv1/v2 driver reads (§6.1).
  case mmuMasters = "mmu-masters"
  /// PCI `iommu-map = <rid-base &iommu iommu-base length>` on a host bridge
  /// (pci/pci-iommu.txt): requester ID r in [rid-base, rid-base + length)
  /// emits stream iommu-base + (r − rid-base).
  case iommuMap = "iommu-map"
  /// `iommu-map` on NXP's fsl-mc bus (`fsl,qoriq-mc`, misc/fsl,qoriq-mc.yaml):
  /// the IDs are ICIDs of DPAA2 objects the Management Complex creates at
  /// run time, not PCI requester IDs. No Xen release has fsl-mc support
  /// (nothing under xen/ names it, RELEASE-4.21.0); Xen only strips the
  /// property from dom0's tree (`write_properties()`, domain_build.c), so
  /// those streams are never attached: undescribed.
  case fslMCMap = "fsl-mc iommu-map"
}
