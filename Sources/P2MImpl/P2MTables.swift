import Spec

/// Everything `__p2m_set_entry()` reads and changes, generic over the word:
/// the p2m's descriptor memory, its page pool, the CPU TLB and IOTLB flush
/// hooks and the `max_mapped_gfn`/`lowest_mapped_gfn` bookkeeping.
///
/// ``XenP2M`` is the concrete instance (a flat table array, a FIFO pool,
/// `UInt64` words); the proofs' instance holds Z3 arrays, so that
/// ``setEntryChunk(_:gfn:order:mfn:type:)`` — the one chunk step the program
/// runs — is also the step `p2m.step` proves for every state (DESIGN.md §3,
/// "One source, two semantics"; §4, refinement is inductive).
///
/// Storage indices are `slot << 9 | entry`, slot 0… the root pages, then
/// the pool, as ``TablePool`` lays them out.
package protocol P2MTables: Mergeable where Condition == W.Condition {
  associatedtype W: Word

  var geometry: StageTwoGeometry { get }
  /// `P2M_ROOT_PAGES`.
  var rootPageCount: Int { get }
  /// `is_iommu_enabled(d)`: IOTLB flushes are issued only then.
  var iommuEnabled: Bool { get }
  /// Whether a removal zeroes an entry that is not hardware-valid (a
  /// Set/Way-invalidated one): from XSA-393 (`a428b913a0`, first in
  /// RELEASE-4.17.0; ``XenVersion/zeroesRemovedHardwareInvalidEntries``),
  /// before which `__p2m_set_entry()` zeroed only valid entries.
  var zeroesRemovedHardwareInvalidEntries: Bool { get }
  /// `page_to_p2m_table()` for frame 0.
  var tableTemplate: UInt64 { get }
  /// A word in this world's context (concretely, 0).
  var zeroWord: W { get }

  /// The descriptor at storage `index`.
  func load(_ index: W) -> W
  /// `write_pte()` / `p2m_write_pte()`.
  mutating func write(_ index: W, _ descriptor: W)
  /// Writes all 512 entries of `slot`, entry `i` being `entry(i)`: the
  /// split's copy of a superpage, before it is hooked in.
  mutating func fillTable(slot: W, with entry: @escaping (W) -> W)
  /// The slot a table descriptor points to (`lpae_get_mfn()` minus the
  /// region's base).
  func slot(ofTable descriptor: W) -> W
  /// `page_to_maddr()` of a slot.
  func frameAddress(ofSlot slot: W) -> W
  /// `p2m_alloc_page()` + `clear_page()`: a zeroed page for a table at
  /// `level` on `gfn`'s path, or `allocated` false when the pool is empty.
  mutating func allocateTable(level: Int, gfn: W) -> (slot: W, allocated: Condition)
  /// `p2m_free_entry()`: releases what a removed or replaced entry at
  /// `level` held (foreign references, subtables).
  mutating func releaseEntry(_ descriptor: W, level: Int)
  /// `p2m_force_tlb_flush_sync()`.
  mutating func forceTLBFlush()
  /// `p2m->need_flush`: a CPU TLB flush owed at unlock.
  var flushOwed: Condition { get set }
  /// `iommu_iotlb_flush(d, gfn, 1 << order, flags)`.
  mutating func flushIOTLB(gfn: W, order: Int, modified: Condition, added: Condition)
  /// `p2m->max_mapped_gfn`.
  var highestMapped: W { get set }
  /// `p2m->lowest_mapped_gfn`.
  var lowestMapped: W { get set }
  /// `mfn_to_p2m_entry(_mfn(0), t, p2m_access_rwx)` at L3 for the raw type `type`.
  func leafTemplate(type: W) -> W
  /// `p2m->stats.mappings[level] += delta` (statistics only).
  mutating func countMapping(level: Int, _ delta: Int)
  /// `p2m->stats.shattered[level]++` and the mappings it moves (statistics only).
  mutating func countShattered(level: Int)
  /// Runs `body` when `condition` holds: every effect of the step on a
  /// word's value goes through here. The default runs in place when the
  /// condition is known and merges both outcomes otherwise; a world may
  /// instead follow one side per run (symbolic execution by paths).
  mutating func when(_ condition: Condition, _ body: (inout Self) -> Void)
}

extension P2MTables {
  package mutating func when(_ condition: Condition, _ body: (inout Self) -> Void) { merging(condition, body) }

  /// The storage index of `gfn`'s entry at `level` in the table `descriptor` points to.
  package func childIndex(of descriptor: W, gfn: W, level: Int) -> W {
    (slot(ofTable: descriptor) << 9) | ((gfn >> (9 * (3 - level))) & 511)
  }

  /// The storage index of `gfn`'s root entry, and whether
  /// `p2m_get_root_pointer()` finds a root page for it (XSA-301: beyond
  /// `P2M_ROOT_PAGES` it returns NULL and the update is −EINVAL).
  package func rootEntry(gfn: W) -> (index: W, inRange: Condition) {
    let index = gfn >> (9 * (3 - geometry.rootLevel))
    let entries = UInt64(rootPageCount) << 9
    if SeededBug.gfnTopBitsAliased.isActive { return (index & (entries - 1), index.condition(true)) }
    return (index, index < entries)
  }
}

/// `p2m_is_valid()`: the type is not `p2m_invalid`.
package func isTypeValid<W: Word>(_ descriptor: W) -> W.Condition {
  XenDescriptor.softwareType(descriptor) != 0
}
