import Spec

/// The words of one SMMU's IOTLB that its maintenance reads and writes —
/// the slots, the VMIDs' generations — generic over ``Word`` so that the
/// fill, the invalidations and Xen's flush callback the concrete
/// ``IOTLB`` runs are also what `smmu.coherence` proves for every IOTLB
/// state (DESIGN.md §3, "One source, two semantics").
///
/// ``IOTLB`` is the concrete instance (direct-mapped arrays, 32-bit
/// generations); the proof's instance holds Z3 arrays behind closures.
package protocol IOTLBWords {
  associatedtype W: Word

  /// VMIDs this IOTLB can tag (a larger one is never cached).
  var vmidLimitWord: W { get }
  /// The slot (`vmid`, `page`) is cached in.
  func slotIndex(vmid: W, page: W) -> W
  func slotWords(at index: W) -> IOTLBSlot<W>
  mutating func storeSlot(at index: W, _ words: IOTLBSlot<W>)
  /// The current generation of `vmid` (below ``vmidLimit``).
  func generationWord(of vmid: W) -> W
  mutating func storeGeneration(_ generation: W, of vmid: W)
  /// Empties every slot whose key names `vmid`.
  mutating func clearSlots(taggedWith vmid: W)
  /// Runs `body` when `condition` holds: concretely in place, on the
  /// proof's words merged with `ite` (``Mergeable/merging(_:_:)``).
  mutating func when(_ condition: W.Condition, _ body: (inout Self) -> Void)
}

/// Generations are 32-bit (``IOTLB``'s stamps): after 2^32 invalidations
/// an old stamp could match again.
package var generationMask: UInt64 { 0xFFFF_FFFF }

/// Drops every entry of `vmid`: TLBIVMID + TLBSYNC (SMMUv2) or
/// `CMDQ_OP_TLBI_S12_VMALL` + CMD_SYNC (SMMUv3), what
/// `arm_smmu_tlb_inv_context()` issues. O(1): the VMID's generation moves
/// on, so its entries stop being live; when the generation wraps, the
/// VMID's slots are cleared outright.
package func iotlbInvalidate<T: IOTLBWords>(_ iotlb: inout T, vmid: T.W) {
  iotlb.when(vmid < iotlb.vmidLimitWord) { iotlb in
    let next = (iotlb.generationWord(of: vmid) &+ 1) & generationMask
    iotlb.storeGeneration(next, of: vmid)
    iotlb.when(next == 0) { iotlb in iotlb.clearSlots(taggedWith: vmid) }
  }
}

/// Caches a translated walk of `ipa` under `vmid` (§7.3: only walks that
/// translated are cached). IPAs of 2^48 or more, VMIDs beyond the tag
/// width and levels outside 1…3 are never cached; they always walk.
package func iotlbFill<T: IOTLBWords>(
  _ iotlb: inout T, vmid: T.W, ipa: T.W, outputAddress: T.W, read: T.W.Condition, write: T.W.Condition, level: T.W
) {
  iotlb.when(vmid < iotlb.vmidLimitWord && ipa >> 48 == 0 && level >= 1 && level <= 3) { iotlb in
    let index = iotlb.slotIndex(vmid: vmid, page: ipa >> pageShift)
    iotlb.storeSlot(at: index, IOTLBSlot.fill(
      vmid: vmid, ipa: ipa, outputAddress: outputAddress, read: read, write: write, level: level,
      generation: iotlb.generationWord(of: vmid)))
  }
}

/// The slot (`vmid`, `page`) lives in: `(page ^ vmid·0x9E37) mod capacity`
/// (`mask` = capacity − 1).
@inlinable
package func iotlbSlotIndex<W: Word>(vmid: W, page: W, mask: W) -> W {
  let tag = SeededBug.iotlbIgnoresVMID.isActive ? vmid.constant(0) : vmid
  return (page ^ (tag &* 0x9E37)) & mask
}

/// One translation context of an SMMU as its IOTLB maintenance sees it:
/// whether it is in use, the domain whose p2m it walks, its SMMU-local
/// VMID (`cbndx + 1` on an SMMUv2, the S2VMID on an SMMUv3).
package struct ContextWords<W: Word> {
  package var live: W.Condition
  package var domain: W
  package var vmid: W

  package init(live: W.Condition, domain: W, vmid: W) {
    self.live = live
    self.domain = domain
    self.vmid = vmid
  }
}

/// `arm_smmu_iotlb_flush_all(d)` on one SMMU: TLBIVMID (v2) or
/// TLBI_S12_VMALL (v3) for each of the domain's contexts on it — the
/// range `iommu_iotlb_flush()` was given is ignored (smmu.c, smmu-v3.c,
/// Xen 4.12 … 4.21; fact sheet §6.1).
package func iotlbFlushDomain<T: IOTLBWords, S: Sequence>(_ iotlb: inout T, domain: T.W, contexts: S)
where S.Element == ContextWords<T.W> {
  for context in contexts {
    iotlb.when(context.live && context.domain == domain) { iotlb in iotlbInvalidate(&iotlb, vmid: context.vmid) }
  }
}

/// Which of a platform's SMMUs Xen's flush callback for a p2m change
/// reaches: `arm_smmu_iotlb_flush_all()` walks `smmu_domain->contexts`,
/// one per SMMU the domain has a master behind, so every one.
package func flushedSMMUs(count: Int) -> Range<Int> {
  if SeededBug.iotlbFlushIgnored.isActive { return 0..<0 }
  if SeededBug.iotlbFlushFirstSMMUOnly.isActive { return 0..<min(count, 1) }
  return 0..<count
}

/// Xen's two SMMU drivers, as far as a context's VMID changing hands is
/// concerned.
package enum XenSMMUDriver: String, CaseIterable, Sendable {
  /// `xen/drivers/passthrough/arm/smmu.c` (SMMUv1/v2, MMU-500).
  case v2
  /// `xen/drivers/passthrough/arm/smmu-v3.c` (Xen 4.15 and later).
  case v3

  /// Whether the driver invalidates a context's VMID when the context is
  /// given back with its domain's last master:
  ///
  /// - smmu.c `arm_smmu_destroy_domain_context()`: "Disable the context
  ///   bank and nuke the TLB before freeing it" — SCTLR 0, then
  ///   `arm_smmu_tlb_inv_context()` (Xen 4.12 … 4.21);
  /// - smmu-v3.c `arm_smmu_domain_free()`: only `arm_smmu_bitmap_free()`
  ///   of the S2VMID (Xen 4.15 … 4.21). The invalidation Linux's driver
  ///   gets from `free_io_pgtable_ops()` → `io_pgtable_tlb_flush_all()`
  ///   did not survive the port, which has no io-pgtable; in smmu-v3.c
  ///   `arm_smmu_tlb_inv_context()` is called from
  ///   `arm_smmu_iotlb_flush_all()` only, and `CMDQ_OP_TLBI_NSNH_ALL` at
  ///   `arm_smmu_device_reset()` only.
  ///
  /// Neither driver invalidates when it hands a VMID out
  /// (`arm_smmu_init_domain_context()`, `arm_smmu_domain_finalise_s2()`):
  /// on an SMMUv3 a recycled S2VMID still tags its previous owner's
  /// entries until the new owner's first p2m update flushes it
  /// (`smmu.coherence[v3,detach]`).
  package var invalidatesReleasedVMID: Bool { self == .v2 }
}

/// A context given back with its domain's last master: its VMID is
/// invalidated when `invalidates` — where the driver does so
/// (``XenSMMUDriver/invalidatesReleasedVMID``), or with the SMMUv3 fix
/// applied — so that no later owner of the bank or S2VMID can hit this
/// domain's entries.
package func iotlbReleaseVMID<T: IOTLBWords>(_ iotlb: inout T, vmid: T.W, lastDevice: T.W.Condition, invalidates: Bool) {
  if SeededBug.vmidFreedWithoutTLBNuke.isActive || !invalidates { return }
  iotlb.when(lastDevice) { iotlb in iotlbInvalidate(&iotlb, vmid: vmid) }
}
