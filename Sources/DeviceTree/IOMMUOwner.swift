import Spec

/// Who drives an IOMMU of the board for a given Xen build and boot.
public enum IOMMUOwner: Hashable, Sendable {
  /// One of Xen's drivers probes it (`iommu_hardware_setup()`,
  /// `xen/drivers/passthrough/arm/iommu.c`): Xen hides it from dom0 and
  /// attaches the masters it can read to dom0's context.
  case xen
  /// Xen drives it with its Renesas IPMMU-VMSA driver
  /// (`xen/drivers/passthrough/arm/ipmmu-vmsa.c`, from 4.13): like
  /// smmu.c it points each context at the domain's p2m root
  /// (`ipmmu_domain_init_context()`: TTBR0 = `p2m.root`, the whole
  /// `p2m_ipa_bits` space), reads the generic `iommus` binding
  /// (`.dt_xlate`, `.add_device`; the specifier is a micro-TLB) and
  /// flushes its TLB after p2m changes (`.iotlb_flush`). What a master
  /// behind it reads is dom0's p2m, as behind an SMMU context: the
  /// scenario models it so (``Platform/scenario(_:)``).
  case xenIPMMU
  /// Xen does not drive it (the reason says why). Nothing of Xen's
  /// translates its masters' DMA: no stream of theirs is attached to dom0's
  /// p2m. Whether dom0 Linux then drives the IOMMU itself (Xen passes a
  /// node that no Xen driver claims to dom0: `handle_node()` skips only
  /// `DEVICE_IOMMU` nodes, `xen/arch/arm/domain_build.c`, RELEASE-4.15.0)
  /// or leaves it in bypass, its output addresses are dom0's guest-physical
  /// ones taken as machine addresses [derived]: the matrix's
  /// not-behind-smmu class.
  case notXen(reason: String)
}
