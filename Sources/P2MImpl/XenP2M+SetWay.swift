import Spec

extension XenP2M {
  /// `p2m_invalidate_root()`: clears the hardware valid bit of every root
  /// entry, keeping its type, so the next access to any GFN faults and
  /// `p2m_resolve_translation_fault()` can note it (Set/Way emulation,
  /// fact sheet §1.2). Xen asserts the p2m is not shared with the IOMMU,
  /// since in-flight DMA would fault (`2b45ff6030`); that is refused here.
  public mutating func invalidateRoot() throws(XenP2MError) {
    guard !iommuEnabled else { throw .setWayWithSharedIOMMU }
    defer { flushTLBIfNeeded() }
    let pages = SeededBug.setWayRootPartlyInvalidated.isActive ? min(memory.rootPages, geometry.rootLevel) : memory.rootPages
    for slot in 0..<pages { invalidateTable(slot: slot) }
  }

  /// `p2m_resolve_translation_fault()`: walks `gfn` down to the first
  /// entry whose valid bit is clear; if it is type-valid, sets the bit
  /// ("No need to flush": an invalid entry is never cached, §7.3), first
  /// invalidating the table it points to so the bit propagates one level
  /// per fault. Returns whether the fault was resolved.
  public mutating func resolveTranslationFault(_ gfn: GFN) -> Bool {
    defer { flushTLBIfNeeded() }
    let g = gfn.rawValue
    guard g <= rawMaxMappedGFN, var index = rootEntryIndex(g) else { return false }
    var level = geometry.rootLevel
    while level < 3 {
      let pte = memory.storage[index]
      if pte & 1 == 0 { break }
      guard isTypeValid(pte) else { return false }
      if !XenDescriptor.tableBit(pte) { break }
      index = tableChild(of: pte, gfn: g, level: level + 1)
      level += 1
    }
    let pte = memory.storage[index]
    if pte & 1 != 0 { return true }
    guard isTypeValid(pte) else { return false }
    if level < 3 && XenDescriptor.tableBit(pte) {
      invalidateTable(slot: tableChild(of: pte, gfn: 0, level: level + 1) >> 9)
    }
    writeEntry(index, pte | 1)
    return true
  }

  /// `p2m_invalidate_table()`: clears the valid bit of each entry that has
  /// it, and owes a TLB flush.
  mutating func invalidateTable(slot: Int) {
    for index in slot << 9..<(slot + 1) << 9 where memory.storage[index] & 1 != 0 {
      writeEntry(index, memory.storage[index] & ~1)
    }
    needFlush = true
  }
}
