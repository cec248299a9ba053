import Spec

/// Something `__p2m_set_entry()` does that another agent (a CPU TLB, the
/// SMMU, the page allocator) can observe, in the order Xen does it. Tests
/// assert break-before-make and the flush-before-free order on these.
public enum P2MEvent: Hashable, Sendable, CustomStringConvertible {
  /// A descriptor store (`write_pte()` / `p2m_write_pte()`), including the
  /// 512 stores that fill a split's new table before it is hooked in.
  case descriptorWrite(address: UInt64, old: UInt64, new: UInt64)
  /// A pool page handed out for a table (`p2m_alloc_page()`).
  case tableAllocated(MFN)
  /// `p2m_force_tlb_flush_sync()`: `tlbi vmalls12e1is` for the VMID. The
  /// SMMU does not observe it (Xen uses private TLB maintenance, §6).
  case tlbFlush(vmid: UInt16)
  /// `iommu_iotlb_flush()` after the entry is written (`9ed527dc95`).
  case iotlbFlush(IOTLBFlush)
  /// A table page returned to the pool (`p2m_free_page()`).
  case tableFreed(MFN)
  /// References on foreign pages dropped (`p2m_put_l3_page()`: one page;
  /// `p2m_put_l2_superpage()`: 512, since `3e2121ce47`).
  case foreignPagesPut(MFN, count: Int)

  public var description: String {
    switch self {
    case .descriptorWrite(let address, let old, let new): "write \(hex(address)): \(hex(old)) → \(hex(new))"
    case .tableAllocated(let mfn): "allocate table \(mfn)"
    case .tlbFlush(let vmid): "TLB flush vmid \(vmid)"
    case .iotlbFlush(let flush): flush.description
    case .tableFreed(let mfn): "free table \(mfn)"
    case .foreignPagesPut(let mfn, let count): "put foreign \(mfn)" + (count > 1 ? " ×\(count)" : "")
    }
  }
}

/// The arguments of `iommu_iotlb_flush(d, dfn, page_count, flags)` as
/// `__p2m_set_entry()` makes the call: issued when the old or the new
/// entry is hardware-valid. The Arm SMMU drivers ignore the range and
/// flush the whole VMID (fact sheet §1.6, §6.5).
public struct IOTLBFlush: Hashable, Sendable, CustomStringConvertible {
  public var gfn: GFN
  public var pageCount: UInt64
  /// `IOMMU_FLUSHF_modified`: the old entry was hardware-valid.
  public var modified: Bool
  /// `IOMMU_FLUSHF_added`: the new entry is hardware-valid.
  public var added: Bool

  public init(gfn: GFN, pageCount: UInt64, modified: Bool, added: Bool) {
    self.gfn = gfn
    self.pageCount = pageCount
    self.modified = modified
    self.added = added
  }

  public var description: String {
    "IOTLB flush \(gfn)+\(pageCount)" + (modified ? " modified" : "") + (added ? " added" : "")
  }
}

/// Running totals of what the p2m has done: the benchmarks report
/// descriptors written per operation from these. `mappings` and
/// `shattered` are Xen's `p2m->stats` (shown by `p2m_dump_info()`).
public struct P2MCounters: Hashable, Sendable {
  public var descriptorWrites = 0
  public var tlbFlushes = 0
  public var iotlbFlushes = 0
  public var tablesAllocated = 0
  public var tablesFreed = 0
  /// Leaf mappings per level (`stats.mappings[level]`), index 0–3, kept
  /// exactly as Xen keeps them: `__p2m_set_entry()` counts a new entry only
  /// when the old one was type-invalid, while `p2m_free_entry()` uncounts
  /// the old leaf of every replacement with a different base, so
  /// replacements (and tables replaced by blocks) drive the count down,
  /// even below zero [derived from the code; the stats are only printed by
  /// `p2m_dump_info()`].
  public var mappings = [0, 0, 0, 0]
  /// Superpages split per level (`stats.shattered[level]`), index 0–3.
  public var shattered = [0, 0, 0, 0]

  public init() {}
}

extension P2MEvent {
  /// The first release — a table freed, foreign pages put — made while an
  /// IOTLB flush is owed: after a descriptor write that replaced a
  /// hardware-valid descriptor, and before the `iommu_iotlb_flush()` that
  /// follows it. Xen `6718787797` moved `p2m_free_entry()` after the flush
  /// in `__p2m_set_entry()`: before it, a freed page could be reused while
  /// the SMMU's TLB still pointed at it. Only a replaced valid descriptor
  /// can have left such a translation (the SMMU caches valid entries only):
  /// writing a valid descriptor over an invalid one — hooking a split's
  /// table in where a hardware-invalid block was — owes nothing, and Xen
  /// then releases a hardware-invalid foreign leaf with no flush at all
  /// (`lpae_is_valid()` of neither the old nor the new entry).
  ///
  /// Meaningful for a p2m the IOMMU shares (`iommuEnabled`); nil when
  /// every release waited for its flush.
  public static func releaseBeforeIOTLBFlush(in events: [P2MEvent]) -> P2MEvent? {
    var flushOwed = false
    for event in events {
      switch event {
      case .descriptorWrite(_, let old, _) where old & 1 != 0: flushOwed = true
      case .iotlbFlush: flushOwed = false
      case .tableFreed, .foreignPagesPut: if flushOwed { return event }
      default: break
      }
    }
    return nil
  }
}
