import Spec

/// Why an operation on a ``XenP2M`` was refused or stopped.
///
/// `p2m_set_entry()` (xen/arch/arm/mmu/p2m.c) works chunk by chunk and
/// stops at the first chunk that fails, leaving the chunks before it
/// applied; the cases that can stop a request part-way say how many pages
/// were already done, so a caller (or a differential test) knows exactly
/// what Xen left behind.
public enum XenP2MError: Error, Hashable, Sendable, CustomStringConvertible {
  /// The IPA size, root address or VMID cannot make a stage-2 context.
  case geometry(StageTwoError)
  /// The table region does not fit in the PA size (or the 36-bit base
  /// field), is not aligned for the concatenated roots, or is empty.
  case badTableRegion(MFN, pages: Int, ipaBits: Int)
  /// `p2m_get_root_pointer()` returned NULL: the GFN is beyond the root
  /// tables (XSA-301, `88aaf40eef`), so `__p2m_set_entry()` returns
  /// −EINVAL. `completedPages` pages before `gfn` were already changed.
  case gfnOutOfRange(GFN, ipaBits: Int, completedPages: UInt64)
  /// `p2m_set_entry()` on a dying domain returns −ENOMEM before doing
  /// anything (XSA-410, `3ebe773293`).
  case domainDying
  /// The pool had no page for a missing intermediate table at `gfn`.
  /// `p2m_next_level()` reports this as `GUEST_TABLE_MAP_FAILED`, which
  /// `__p2m_set_entry()` turns into −ENOENT (not −ENOMEM). Tables created
  /// for the same chunk before the failure stay hooked in, empty.
  case tableAllocationFailed(GFN, completedPages: UInt64)
  /// The pool ran out while splitting a superpage for `gfn`:
  /// `p2m_split_superpage()` failed, the partial subtree was freed and the
  /// superpage is untouched; `__p2m_set_entry()` returns −ENOMEM.
  case splitAllocationFailed(GFN, completedPages: UInt64)
  /// The MFN range does not fit in the descriptor's 36-bit base field
  /// (Xen `ASSERT`s this in `mfn_to_p2m_entry()`); checked before any change.
  case frameOutOfRange(MFN)
  /// A mapping must name an MFN and a type other than `p2m_invalid`, and a
  /// removal neither (`__p2m_set_entry()` removes when the MFN is
  /// `INVALID_MFN`, whatever the type).
  case inconsistentRequest(mfn: MFN?, type: P2MType)
  /// `p2m_invalidate_root()` asserts `!iommu_use_hap_pt(d)`: clearing valid
  /// bits of a p2m shared with the SMMU makes in-flight DMA fault
  /// (`2b45ff6030`).
  case setWayWithSharedIOMMU

  /// The errno Xen returns for this case, where Xen has one.
  public var xenErrno: Int32? {
    switch self {
    case .gfnOutOfRange: -22  // -EINVAL
    case .domainDying, .splitAllocationFailed: -12  // -ENOMEM
    case .tableAllocationFailed: -2  // -ENOENT
    default: nil
    }
  }

  /// Pages of the request applied before the failure.
  /// Whether the update failed for want of a pool page (a table or a
  /// split's subtable), not for what it asked.
  public var exhaustsPool: Bool {
    switch self {
    case .tableAllocationFailed, .splitAllocationFailed: true
    default: false
    }
  }

  public var completedPages: UInt64 {
    switch self {
    case .gfnOutOfRange(_, _, let done), .tableAllocationFailed(_, let done), .splitAllocationFailed(_, let done): done
    default: 0
    }
  }

  public var description: String {
    switch self {
    case .geometry(let error): error.description
    case .badTableRegion(let base, let pages, let bits):
      "table region \(base)+\(pages) pages is misaligned or outside a \(bits)-bit PA"
    case .gfnOutOfRange(let gfn, let bits, let done):
      "\(gfn) is beyond the root tables of a \(bits)-bit p2m (after \(done) pages)"
    case .domainDying: "the domain is dying"
    case .tableAllocationFailed(let gfn, let done): "p2m pool exhausted creating a table for \(gfn) (after \(done) pages)"
    case .splitAllocationFailed(let gfn, let done): "p2m pool exhausted splitting the superpage over \(gfn) (after \(done) pages)"
    case .frameOutOfRange(let mfn): "\(mfn) does not fit in a descriptor's base field"
    case .inconsistentRequest(let mfn, let type):
      "mfn \(mfn.map(\.description) ?? "INVALID_MFN") with type \(type): a mapping needs both, a removal neither"
    case .setWayWithSharedIOMMU: "the p2m is shared with the IOMMU; Set/Way invalidation is refused"
    }
  }
}
