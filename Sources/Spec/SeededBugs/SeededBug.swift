/// A bug put back on purpose, to show that a proof or an oracle sees it
/// (DESIGN.md §4: every theorem has a mutant that makes it fail).
///
/// Each is encoded once, as a hook at the very line where the bug would
/// be (`if SeededBug.x.isActive`), in the code that runs and is proved; no
/// function takes a bug as a parameter. The hooks are live only in builds
/// with the `DMAVERIFY_MUTANTS` condition (debug builds, so `swift test`;
/// and the mutation and time-to-detect builds, which pass
/// `-Xswiftc -DDMAVERIFY_MUTANTS`). Elsewhere ``isActive`` is the constant
/// `false` and the optimizer removes every hook, as swift-system compiles
/// its syscall mocking only under `ENABLE_MOCKING`.
///
/// The raw value is the name tests, `scripts/mutation-score` and
/// `scripts/fuzz-detect` select a bug by (`DMAVERIFY_SEEDED_BUGS`,
/// ``SeededBug+Selection.swift``). Each case's first line says which Xen
/// or Linux bug, or which class of mistake, it re-creates (the mutation
/// report's "real bug" column is read from it).
@usableFromInline
package enum SeededBug: String, CaseIterable, Sendable {
  // MARK: Xen, grant table (Sources/Spec/Xen)

  /// Re-creates: Xen 04085ec1ac (gnttab_need_iommu_mapping).
  /// `gnttab_need_iommu_mapping()` answers as if the p2m were shared with
  /// the IOMMU (`need_iommu_pt_sync()` is false then): no 1:1 entry for a
  /// grant, so a direct-mapped dom0's device cannot reach it. Xen
  /// `04085ec1ac` made the answer `is_iommu_enabled()`.
  case grantNoOneToOneEntry = "grant-no-one-to-one-entry"
  /// Re-creates: class: mapkind() upgrade missed (common/grant_table.c).
  /// `mapkind()` is asked only whether any map exists, so a writable map
  /// after a read-only one leaves the 1:1 entry read-only.
  case grantRWAfterRONotUpgraded = "grant-rw-after-ro-not-upgraded"
  /// Re-creates: class: mapkind() asked before the maptrack release.
  /// The unmap asks `mapkind()` before releasing the maptrack entry, so the
  /// map being removed still counts and the 1:1 entry stays.
  case unmapCountsRemovedMap = "unmap-counts-removed-map"
  /// Re-creates: class: 1:1 entry at the wrong frame number.
  /// The 1:1 entry is made at the granter's GFN instead of the MFN.
  case oneToOneAtGFN = "one-to-one-at-gfn"
  /// Re-creates: class: colour mask off by one (as in cba8a584de, dc28f531e6).
  /// `llc_colour()` masks with half the colour count, so frames of two
  /// colours are taken as one.
  case colourMaskOffByOne = "colour-mask-off-by-one"

  // MARK: Linux, swiotlb-xen and the grant tree (Sources/Spec/Linux, DMA)

  /// Re-creates: Linux 36bf1dfb8b26 / XSA-361 (rbtree insert failure ignored).
  /// `__set_phys_to_machine()` failed (an allocation) and the error was
  /// dropped: the grant tree never learns a granted page's bus address, so
  /// the page is DMAed at its dom0 pfn instead of its machine frame.
  case grantTreeInsertIgnored = "grant-tree-insert-ignored"
  /// Re-creates: class: pfn_to_bfn() miss answered wrongly.
  /// `pfn_to_bfn()` answers 0 on a grant-tree miss instead of the pfn.
  case treeMissReturnsZero = "tree-miss-returns-zero"
  /// Re-creates: class of Linux 91ffe4ad534a (a wrong phys-to-bus translation).
  /// `xen_phys_to_bus()` drops the offset within the page.
  case physToBusDropsPageOffset = "phys-to-bus-drops-page-offset"
  /// Re-creates: class: straddle check of the first boundary only.
  /// `range_straddles_page_boundary()` compares page 1 with page 0 only,
  /// so a buffer of three or more pages whose later pages are not
  /// machine-contiguous is mapped directly.
  case straddleFirstBoundaryOnly = "straddle-first-boundary-only"
  /// Re-creates: class: the straddle check left out of the direct-map decision.
  /// `xen_swiotlb_map_page()` decides the direct map from the address and
  /// the mask alone, never asking `range_straddles_page_boundary()`, so a
  /// buffer over two machine-discontiguous pages (a grant next to dom0's
  /// own page) is mapped directly.
  case straddleNeverChecked = "straddle-never-checked"
  /// Re-creates: class: bounce slot address off by a page.
  /// The device is given the bus address of the page after the bounce
  /// slot, while the copies use the slot itself.
  case bounceSlotOnePageOff = "bounce-slot-one-page-off"

  // MARK: The stage-2 walk (Sources/Spec/Walk)

  /// Re-creates: class of Xen 14c57887f3 (concatenated root, in the walk).
  /// The walk indexes a concatenated root as if it were one page (9 index
  /// bits), so GFNs beyond the first root page alias into it.
  case walkConcatenatedRootOnePage = "walk-concatenated-root-one-page"

  // MARK: Xen's p2m (Sources/P2MImpl)

  /// Re-creates: Xen 9ed527dc95 (IOTLB never flushed).
  /// Before `9ed527dc95` (Jan 2019): `__p2m_set_entry()` decided whether
  /// to flush the IOMMU with `need_iommu_pt_sync()`, false for a shared
  /// p2m, so the SMMU's TLB was never flushed after a p2m change.
  case iotlbNeverFlushed = "iotlb-never-flushed"
  /// Re-creates: Xen 6718787797 (free before IOTLB flush).
  /// Before `6718787797` (Aug 2019): old tables and foreign pages are
  /// released before the IOTLB flush, so a freed page could be reused
  /// while the SMMU's TLB still pointed at it.
  case freeBeforeIOTLBFlush = "free-before-iotlb-flush"
  /// Re-creates: XSA-393 / a428b913a0.
  /// Before XSA-393 (`a428b913a0`): a removal zeroes an entry only if it is
  /// hardware-valid. Xen 4.16.0 and earlier really do this; the
  /// implementation runs it for those releases whether or not the bug is
  /// seeded (``XenVersion/zeroesRemovedHardwareInvalidEntries``).
  case removalKeepsHWInvalidEntry = "removal-keeps-hw-invalid-entry"
  /// Re-creates: XSA-301 (a) (GFN top bits aliased).
  /// Before XSA-301 (a) (`88aaf40eef`, Oct 2019):
  /// `p2m_get_root_pointer()` ignores the GFN's bits above the root tables,
  /// so an out-of-range GFN wraps onto a low root entry and updates the
  /// aliased GFN instead of failing with -EINVAL.
  case gfnTopBitsAliased = "gfn-top-bits-aliased"
  /// Re-creates: Xen 3fafdc28eb (removal shatters superpages).
  /// Before `3fafdc28eb`: the chunk order of a removal includes
  /// `INVALID_MFN` (all ones), so every removal is 4K and shatters blocks.
  case removalShattersSuperpages = "removal-shatters-superpages"
  /// Re-creates: Xen 97323702bf (split children lose permissions).
  /// A split whose children are rebuilt as `p2m_ram_rw` with default
  /// permissions instead of copying the parent (the class of `97323702bf`).
  case splitChildrenLosePermissions = "split-children-lose-permissions"
  /// Re-creates: class: a wrong table bit in a 1 GiB split's children.
  /// `p2m_split_superpage()` sets the table bit on every child instead of
  /// only at level 3, so a 1 GiB block split for a later update becomes
  /// 512 "tables" whose addresses are the 2 MiB blocks' frames. Added
  /// after the fuzzer first reached 1 GiB blocks, as a bug it was never
  /// shown.
  case gigabyteSplitChildrenAreTables = "gigabyte-split-children-are-tables"
  /// Re-creates: class: an error path that keeps what it allocated.
  /// A split that fails part-way (a 1 GiB block split down to 4K, the pool
  /// empty at the second table) does not free the table it did make:
  /// `__p2m_set_entry()` frees `split_pte` either way (RELEASE-4.21.0
  /// xen/arch/arm/mmu/p2m.c), the mutant only on success, so the pool
  /// loses a page at every such failure. Reached only with a pool that
  /// runs dry; added with the fuzzer's tight pools, never shown to it.
  case failedSplitKeepsItsTable = "failed-split-keeps-its-table"
  /// Re-creates: Xen 14c57887f3 (p2m_invalidate_root).
  /// Before `14c57887f3`: `p2m_invalidate_root()` loops to
  /// `P2M_ROOT_LEVEL` instead of `P2M_ROOT_PAGES`: with a level-1 root of
  /// two or more concatenated pages only the first is invalidated (with a
  /// level-0 root, none).
  case setWayRootPartlyInvalidated = "setway-root-partly-invalidated"
  /// Re-creates: Xen before 3e2121ce47 (no p2m_put_l2_superpage()).
  /// A foreign 2 MiB superpage is removed without dropping the references
  /// its 512 pages hold, as before RELEASE-4.19.0, where `p2m_put_page()`
  /// put level-3 pages only: the pages are never freed.
  case foreignSuperpageReferencesKept = "foreign-superpage-references-kept"
  /// Re-creates: class: chunk order without the pages left.
  /// A chunk order chosen from the GFN and MFN alone, without the pages
  /// left: a 1 GiB chunk for a 4-page request at an aligned GFN maps (or
  /// removes) pages the caller never named.
  case chunkOrderIgnoresCount = "chunk-order-ignores-count"

  // MARK: Xen's SMMU drivers (Sources/SMMUImpl)

  /// Re-creates: class of Xen 9ed527dc95 (the flush lost in the driver).
  /// The driver's IOTLB flush (`arm_smmu_iotlb_flush_all()`) does nothing,
  /// though the p2m asks for it.
  case iotlbFlushIgnored = "iotlb-flush-ignored"
  /// Re-creates: class of 9ed527dc95 / XSA-346 (flush misses an SMMU).
  /// `arm_smmu_iotlb_flush_all()` invalidates only the first entry of
  /// `smmu_domain->contexts` (one per SMMU the domain has a master behind)
  /// instead of walking the list: a master behind a second SMMU keeps
  /// stale translations.
  case iotlbFlushFirstSMMUOnly = "iotlb-flush-first-smmu-only"
  /// Re-creates: class of the SMMUv3 finding (smmu.coherence[v3,detach]).
  /// `arm_smmu_destroy_domain_context()` without its TLB nuke: a context
  /// bank given back with its domain's last device keeps its VMID's
  /// entries for the bank's next owner — what smmu-v3.c's
  /// `arm_smmu_domain_free()` really does with an S2VMID
  /// (``XenSMMUDriver/invalidatesReleasedVMID``).
  case vmidFreedWithoutTLBNuke = "smmuv2-bank-freed-without-tlb-nuke"
  /// Re-creates: class: TLB tag compare without the VMID.
  /// The IOTLB's lookup and slot choice ignore the VMID tag, so one
  /// context hits another's entries.
  case iotlbIgnoresVMID = "iotlb-ignores-vmid"
  /// Re-creates: class: packed-key compare of the page bits only.
  /// The fast path's IOTLB probe compares the page bits of the key only:
  /// another VMID's entry in the probed slot answers, which only a slot
  /// shared by two VMIDs shows.
  case fastPathIgnoresVMID = "fast-path-ignores-vmid"
  /// Re-creates: class: offset taken at the wrong level.
  /// The fast path takes the offset at a level-2 block's width (21 bits)
  /// for every entry: IPA bits 20:12 are ORed into a cached 4K page's
  /// address.
  case fastPathBlockOffset = "fast-path-block-offset"
}

extension SeededBug {
  /// What a process says on standard error as it starts, so that a run
  /// with seeded bugs is never mistaken for one without: the bugs
  /// `DMAVERIFY_SEEDED_BUGS` seeds, nil when it seeds none or in a build
  /// without the hooks. The first call validates the variable (an unknown
  /// name ends the process with exit 64 and the list of names).
  package static var processAnnouncement: String? {
    #if DMAVERIFY_MUTANTS
      let selection = SeededBugs.processSelection
      return selection.bugs.isEmpty ? nil : "seeded bugs active (\(SeededBugs.environmentVariable)): \(selection)"
    #else
      return nil
    #endif
  }

  /// Whether this bug is seeded in the running code: in a build without
  /// `DMAVERIFY_MUTANTS`, never.
  @inlinable @inline(__always)
  package var isActive: Bool {
    #if DMAVERIFY_MUTANTS
      if HookReach.isRecording { HookReach.note(self) }
      return SeededBugs.active.contains(self)
    #else
      false
    #endif
  }
}
