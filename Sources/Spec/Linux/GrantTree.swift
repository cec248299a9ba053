/// Why Linux's `phys_to_mach` tree refused an insertion.
public enum GrantTreeError: Error, Hashable, Sendable, CustomStringConvertible {
  /// `xen_add_phys_to_mach_entry()` warns "already exists" and returns
  /// −EINVAL; since `36bf1dfb8b26` (XSA-361) `set_foreign_p2m_mapping()`
  /// reports it to the caller instead of DMAing to the wrong address.
  case alreadyMapped(pfn: UInt64, existing: MFN)

  public var description: String {
    switch self {
    case .alreadyMapped(let pfn, let existing): "pfn \(hex(pfn)) already maps \(existing)"
    }
  }
}

/// Dom0 Linux's record of grant-mapped pages: the `phys_to_mach` rbtree of
/// arch/arm/xen/p2m.c (fact sheet §3.3), pfn → MFN, one page per entry.
///
/// Only grant maps enter it. Foreign pages mapped with XENMEM_add_to_physmap
/// (privcmd, xlate_mmu) do not, so swiotlb-xen DMAs to them by pfn
/// **[derived: no other caller of `set_phys_to_machine` on Arm]**.
public struct GrantTree: Hashable, Sendable {
  /// pfn → MFN.
  public private(set) var entries: [UInt64: MFN] = [:]

  public init() {}

  /// `set_foreign_p2m_mapping()` for one successful grant map: record
  /// `host_addr >> 12 → dev_bus_addr >> 12`. Xen's `dev_bus_addr` is always
  /// the machine address of the granted page (§2.1 step 3).
  public mutating func setForeignP2MMapping(hostAddress: UInt64, devBusAddress: UInt64) throws(GrantTreeError) {
    let pfn = hostAddress >> UInt64(pageShift)
    if let existing = entries[pfn] { throw .alreadyMapped(pfn: pfn, existing: existing) }
    if SeededBug.grantTreeInsertIgnored.isActive { return }
    entries[pfn] = MFN(devBusAddress >> UInt64(pageShift))
  }

  /// `clear_foreign_p2m_mapping()`: `set_phys_to_machine(pfn,
  /// INVALID_P2M_ENTRY)` erases the entry covering the pfn; a pfn with no
  /// entry is left alone (`__set_phys_to_machine_multi` returns true).
  public mutating func clearForeignP2MMapping(hostAddress: UInt64) {
    entries[hostAddress >> UInt64(pageShift)] = nil
  }

  /// `__pfn_to_mfn()`: the entry's MFN, or nil for `INVALID_P2M_ENTRY`.
  public func mfn(of pfn: UInt64) -> MFN? { entries[pfn] }

  /// `pfn_to_bfn(pfn)` (include/xen/arm/page.h, §3.2): the tree's MFN for a
  /// grant-mapped pfn, else the pfn itself — the implicit assumption that
  /// dom0 is mapped 1:1.
  public func pfnToBfn<W: Word>(_ pfn: W) -> W {
    if let known = pfn.knownValue, !SeededBug.treeMissReturnsZero.isActive { return pfn.constant(entries[known]?.rawValue ?? known) }
    let sorted = entries.sorted { $0.key < $1.key }.map { (pfn: pfn.constant($0.key), mfn: pfn.constant($0.value.rawValue)) }
    return Self.pfnToBfn(pfn, entries: sorted)
  }

  /// `pfn_to_bfn` over a tree whose entries may be symbolic: the lookup is
  /// a chain of selects, the first matching entry winning (the tree never
  /// holds two entries for one pfn: ``setForeignP2MMapping(hostAddress:devBusAddress:)``
  /// refuses the second).
  public static func pfnToBfn<W: Word>(_ pfn: W, entries: [(pfn: W, mfn: W)]) -> W {
    var bfn = SeededBug.treeMissReturnsZero.isActive ? pfn.constant(0) : pfn
    for entry in entries.reversed() { bfn = W.select(pfn == entry.pfn, entry.mfn, bfn) }
    return bfn
  }
}
