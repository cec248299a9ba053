import Spec

extension XenP2M {
  /// Clears the hardware valid bit of the leaf that maps `gfn`, keeping its
  /// type, and flushes the TLB: the state Set/Way tracking leaves a leaf in
  /// (`p2m_invalidate_table()`, fact sheet §1.2), for one leaf only.
  ///
  /// Differential harnesses need it to mirror the spec's
  /// `p2m <domain> map … hw-invalid`, which ``invalidateRoot()`` cannot do
  /// for a p2m shared with the IOMMU. Not a Xen operation. Returns whether
  /// a type-valid leaf was found.
  package mutating func clearHardwareValid(_ gfn: GFN) -> Bool {
    let g = gfn.rawValue
    guard g <= rawMaxMappedGFN, var index = rootEntryIndex(g) else { return false }
    var level = geometry.rootLevel
    while level < 3 {
      let pte = memory.storage[index]
      guard isTypeValid(pte) else { return false }
      if !XenDescriptor.tableBit(pte) { break }
      index = tableChild(of: pte, gfn: g, level: level + 1)
      level += 1
    }
    let pte = memory.storage[index]
    guard isTypeValid(pte) else { return false }
    if pte & 1 != 0 {
      writeEntry(index, pte & ~1)
      forceTLBFlush()
    }
    return true
  }
}
