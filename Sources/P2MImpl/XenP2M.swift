import Spec

/// One domain's p2m as Xen/ARM implements it: LPAE stage-2 tables in a
/// ``TablePool``, 1G/2M blocks, splits, break-before-make, and a
/// VMID-tagged software TLB in front of the walk (DESIGN.md §3,
/// `P2MImpl`). It is checked against the spec's ``ReferenceP2M``.
///
/// Updates follow `p2m_set_entry()`/`__p2m_set_entry()` in
/// xen/arch/arm/mmu/p2m.c (fact sheet §1.5) step for step, including
/// their corner cases; lookups are either `p2m_get_entry()` (the p2m's own
/// reading of its tables, type-valid semantics, §1.4) or the architectural
/// walk, which is the spec's generic ``stageTwoWalk(memory:geometry:rootAddress:inputAddress:access:)``
/// over ``memory``, so the proofs and the program walk with the same code.
///
/// Not modelled: mem_access (every entry is `p2m_access_rwx`, so chunks
/// are never forced to 4K and no permission-only deferral happens), the
/// dcache cleans of `clean_pte` (there is no cache here), the ioreq
/// mapcache invalidation, and locking: each public mutation is one
/// write-locked section, ending with `p2m_write_unlock()`'s deferred TLB
/// flush.
///
/// ## A small geometry for bounded proofs
///
/// The walk indexes 9 bits per level (4K granule) as the architecture and
/// ``StageTwoGeometry`` fix it, so fewer bits per level would mean a
/// second walk. Bounded symbolic checks therefore use the same code with
/// the smallest parameters instead: a 32-bit IPA (root at L1, one root
/// page of which 4 entries are reachable) and a pool of a few pages.
public struct XenP2M {
  public let geometry: StageTwoGeometry
  /// The domain's VMID (never 0, `INVALID_VMID`).
  public let vmid: UInt16
  /// `VTTBR_EL2`: root address | VMID << 48 (`generate_vttbr()`).
  public let vttbr: UInt64
  /// The tables, as the walk and the SMMU read them.
  public internal(set) var memory: TablePool
  /// `is_iommu_enabled(d)`: IOTLB flushes are issued only then, and the
  /// p2m is then shared with the SMMU (forced on Arm, §1.6).
  public let iommuEnabled: Bool
  /// Set once the domain is dying: every update fails (XSA-410).
  public var isDying = false
  /// The CPU TLB model for this VMID, flushed where Xen flushes.
  public var tlb: TranslationCache
  /// Whether ``events`` records what updates do (off for speed).
  public var recordsEvents = false
  public internal(set) var events: [P2MEvent] = []
  /// The references this p2m dropped on foreign pages since the caller
  /// last took the list (`put_page()` in `p2m_put_l3_page()` and, from
  /// `3e2121ce47`, `p2m_put_l2_superpage()`, RELEASE-4.21.0
  /// xen/arch/arm/mmu/p2m.c): first frame and pages. Page counts live in
  /// the frame table, which is the hypervisor's, not the p2m's, so the p2m
  /// hands its puts over instead of counting them
  /// (`ImplementationState.foreignReferences`).
  package var foreignReferencesPut: [(mfn: MFN, pages: Int)] = []
  /// Called at each `iommu_iotlb_flush()`: the SMMU model's hook.
  public var iotlbFlushHandler: ((IOTLBFlush) -> Void)?
  public internal(set) var counters = P2MCounters()

  /// `p2m->max_mapped_gfn`: 0 at `p2m_init()`, the highest GFN ever
  /// mapped since XSA-301 (`6e8e163b46`); removals never lower it.
  var rawMaxMappedGFN: UInt64 = 0
  /// `p2m->lowest_mapped_gfn`: `ULONG_MAX` at `p2m_init()`.
  var rawLowestMappedGFN: UInt64 = .max
  /// `p2m->need_flush`: a CPU TLB flush owed at unlock.
  var needFlush = false
  /// Whether a removal zeroes a hardware-invalid entry (from XSA-393,
  /// RELEASE-4.17.0): set from the Xen release the p2m belongs to
  /// (``XenVersion/zeroesRemovedHardwareInvalidEntries``).
  package var zeroesRemovedHardwareInvalidEntries = true

  /// `mfn_to_p2m_entry(_mfn(0), t, p2m_access_rwx)` at L3 per raw type:
  /// a leaf is its template | MFN << 12 (table bit cleared above L3).
  let leafTemplates: [UInt64]
  /// `page_to_p2m_table()` for frame 0.
  package let tableTemplate: UInt64
  /// GFN bits below the root index: `XEN_PT_LEVEL_ORDER(root) + 0`.
  let rootShift: UInt64

  /// A p2m with empty roots at `tableBase` and `poolPages` pool pages after
  /// them (`p2m_init()` → `p2m_alloc_table()`, then `p2m_set_allocation()`).
  public init(
    ipaBits: Int, vmid: UInt16, tableBase: MFN, poolPages: Int,
    iommuEnabled: Bool = true, tlbCapacity: Int = 4096
  ) throws(XenP2MError) {
    let geometry = try Self.refusing { () throws(StageTwoError) in try StageTwoGeometry(ipaBits: ipaBits) }
    self.geometry = geometry
    memory = try TablePool(baseFrame: tableBase, geometry: geometry, poolPages: poolPages)
    vttbr = try Self.refusing { () throws(StageTwoError) in try geometry.vttbr(rootAddress: tableBase.address, vmid: vmid) }
    var templates = [UInt64](repeating: 0, count: 16)
    for type in P2MType.allCases where type.isValid {
      templates[Int(type.rawValue)] = try Self.refusing { () throws(StageTwoError) in
        try XenDescriptor.leaf(for: P2MEntry(mfn: MFN(0), type: type), level: 3)
      }
    }
    leafTemplates = templates
    tableTemplate = try Self.refusing { () throws(StageTwoError) in try XenDescriptor.table(next: MFN(0)) }
    self.vmid = vmid
    self.iommuEnabled = iommuEnabled
    tlb = TranslationCache(capacity: tlbCapacity)
    rootShift = UInt64(9 * (3 - geometry.rootLevel))
  }

  static func refusing<T>(_ body: () throws(StageTwoError) -> T) throws(XenP2MError) -> T {
    do { return try body() } catch { throw .geometry(error) }
  }

  /// The root tables' machine address (`page_to_maddr(p2m->root)`).
  public var rootAddress: UInt64 { memory.baseFrame.address }

  /// The highest GFN mapped so far, nil before the first mapping.
  public var maxMappedGFN: GFN? { rawLowestMappedGFN == .max ? nil : GFN(rawMaxMappedGFN) }
  /// The lowest GFN mapped so far, nil before the first mapping.
  public var lowestMappedGFN: GFN? { rawLowestMappedGFN == .max ? nil : GFN(rawLowestMappedGFN) }

  /// GFNs the root tables cover: `P2M_ROOT_PAGES × 512` root entries.
  /// Equal to the IPA size for 40, 42 and 48 bits; larger for 32, 36 and
  /// 44 bits, where Xen's `p2m_get_root_pointer()` accepts GFNs the
  /// hardware can never reach (they sit in root entries beyond T0SZ)
  /// [derived from the code: the check uses `P2M_ROOT_PAGES` only].
  public var rootGFNLimit: UInt64 { (UInt64(memory.rootPages) << 9) << rootShift }

  /// Drops the recorded events and returns them.
  public mutating func takeEvents() -> [P2MEvent] {
    defer { events = [] }
    return events
  }

  /// Drops the recorded events, keeping their storage for the next ones
  /// (the fuzzer's p2m oracle records every update's events).
  public mutating func removeAllEvents() {
    events.removeAll(keepingCapacity: true)
  }

  // MARK: Lookup

  /// `p2m_get_entry()`: the entry at `gfn` if its type is valid (hardware
  /// valid or not), and the order of the mapping or of the hole found.
  /// Above `max_mapped_gfn` it answers from the bookkeeping alone.
  public func entry(at gfn: GFN) -> (entry: P2MEntry?, order: Int) {
    let g = gfn.rawValue
    if g > rawMaxMappedGFN {
      var level = geometry.rootLevel
      while level < 3, g & ~(Self.pages(level: level) - 1) <= rawMaxMappedGFN { level += 1 }
      return (nil, Self.order(level: level))
    }
    guard var index = rootEntryIndex(g) else { return (nil, Self.order(level: geometry.rootLevel)) }
    var level = geometry.rootLevel
    while level < 3 {
      let pte = memory.storage[index]
      guard isTypeValid(pte) else { return (nil, Self.order(level: level)) }
      if !XenDescriptor.tableBit(pte) { break }
      guard let next = childIndex(table: pte, gfn: g, level: level + 1) else { return (nil, Self.order(level: level)) }
      index = next
      level += 1
    }
    let pte = memory.storage[index]
    guard isTypeValid(pte), let type = P2MType(rawValue: UInt8(truncatingIfNeeded: pte >> 55 & 0xF)) else {
      return (nil, Self.order(level: level))
    }
    let base = XenDescriptor.outputBase(pte) >> pageShift
    return (P2MEntry(mfn: MFN(base + (g & (Self.pages(level: level) - 1))), type: type, hardwareValid: pte & 1 != 0),
            Self.order(level: level))
  }

  /// `p2m_lookup()`: the type-valid entry at `gfn`, as ``ReferenceP2M/lookup(_:)``.
  public func lookup(_ gfn: GFN) -> P2MEntry? { entry(at: gfn).entry }

  /// The architectural walk of `ipa` through the tables, with no TLB: the
  /// spec's generic walk over ``memory``.
  public func walk(_ ipa: UInt64, access: Access) -> WalkResult {
    stageTwoWalk(memory: memory, geometry: geometry, rootAddress: vttbr, inputAddress: ipa, access: access).result
  }

  /// What the CPU sees for `ipa`: a TLB hit, else the walk, whose
  /// successful translation is then cached (§7.3).
  @inlinable
  public mutating func translate(_ ipa: UInt64, access: Access) -> WalkResult {
    if ipa >> 48 == 0, let hit = tlb.lookup(vmid: vmid, ipa: ipa) { return hit.result(ipa: ipa, access: access) }
    return walkAndFill(ipa, access: access)
  }

  @usableFromInline
  mutating func walkAndFill(_ ipa: UInt64, access: Access) -> WalkResult {
    let outcome = stageTwoWalk(memory: memory, geometry: geometry, rootAddress: vttbr, inputAddress: ipa, access: access)
    tlb.fill(vmid: vmid, ipa: ipa, outcome: outcome)
    return outcome.result
  }

  // MARK: Table arithmetic

  /// 4K pages under one entry at `level`.
  static func pages(level: Int) -> UInt64 { 1 << UInt64(9 * (3 - level)) }
  /// `XEN_PT_LEVEL_ORDER(level)`.
  static func order(level: Int) -> Int { 9 * (3 - level) }
  /// The storage index of the root entry for `gfn`, or nil when
  /// `p2m_get_root_pointer()` would return NULL (XSA-301).
  func rootEntryIndex(_ gfn: UInt64) -> Int? {
    let root = rootEntry(gfn: gfn)
    return root.inRange ? Int(root.index) : nil
  }

  /// The storage index of the entry for `gfn` at `level` in the table that
  /// `pte` points to; nil if it points outside the region.
  func childIndex(table pte: UInt64, gfn: UInt64, level: Int) -> Int? {
    guard let slot = memory.slot(of: MFN(XenDescriptor.outputBase(pte) >> pageShift)) else { return nil }
    return slot << 9 | Int(truncatingIfNeeded: gfn >> UInt64(Self.order(level: level)) & 511)
  }

  /// The machine address of storage entry `index`.
  func address(ofEntry index: Int) -> UInt64 {
    memory.frame(ofSlot: index >> 9).address | UInt64(index & 511) << 3
  }
}
