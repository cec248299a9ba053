/// How long an SMMUv2 stream map entry (SMR and S2CR) stays a device's in
/// Xen's smmu.c: the one thing about assignment that three runs of
/// releases do differently, and what decides whether a device given back
/// and given again still translates.
public enum StreamMapEntryLifetime: String, Hashable, Sendable, CaseIterable {
  /// Up to RELEASE-4.15.0: each attach allocates the device's SMRs and
  /// each detach frees them. `arm_smmu_domain_add_master()` →
  /// `arm_smmu_master_configure_smrs()` takes, per stream, the first free
  /// index of `smr_map` (`__arm_smmu_alloc_bitmap()`) and writes
  /// `{id, mask 0}` ("We don't currently share SMRs": two devices with one
  /// stream ID get two matching SMRs); `arm_smmu_domain_remove_master()`
  /// writes S2CR = FAULT, then `arm_smmu_master_free_smrs()` writes each
  /// SMR invalid and frees its index.
  case perAttach = "per-attach"
  /// RELEASE-4.16.0 (`0435784cc75d`, "xen/arm: smmuv1: Intelligent SMR
  /// allocation", up to `fc151829ba`): the entries are allocated once,
  /// when the device first gets an IOMMU group (`arm_smmu_add_device()` →
  /// `arm_smmu_master_alloc_smes()`), but `arm_smmu_detach_dev()` frees
  /// them (`arm_smmu_master_free_smes()`: a count reaching 0 resets the
  /// S2CR to FAULT and invalidates the SMR) and sets every `smendx[i]` to
  /// `INVALID_SMENDX` (−1). The group survives, so the next
  /// `arm_smmu_assign_dev()` skips the allocation and
  /// `arm_smmu_domain_add_master()` writes `s2crs[-1]` — Xen memory before
  /// the array — and the S2CR register of index −1, GR0 offset 0xBFC,
  /// which is no S2CR. The device's streams then match no SMR and fault
  /// (USFCFG = 1): the global faults `fc151829ba`'s message reports. Not
  /// backported to 4.16.x (RELEASE-4.16.7 has no change to smmu.c).
  case freedOnDetach = "freed-on-detach"
  /// From RELEASE-4.17.0 (`fc151829ba`, "xen/arm: smmu: Set s2cr to type
  /// fault when the devices are deassigned"): allocated once, never
  /// freed; `arm_smmu_domain_remove_master()` resets each S2CR to
  /// `s2cr_init_val` (FAULT, count 0) and keeps the SMR.
  case keptOnDetach = "kept-on-detach"
}
