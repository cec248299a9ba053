import Spec

extension XenP2M {
  /// `p2m_set_entry(p2m, gfn, nr, mfn, t, p2m_access_rwx)` under the write
  /// lock: maps `count` pages from `mfn` with `type`, or removes them when
  /// `mfn` is nil (`INVALID_MFN`) and `type` is `.invalid`.
  ///
  /// The request is cut into chunks whose order comes from `gfn | nr | mfn`
  /// (the MFN left out of a removal, `3fafdc28eb`): 1G when the low 18 bits
  /// are clear, else 2M when the low 9 are, else 4K. Because `nr` is in the
  /// mask, a count that is not a multiple of a block size maps the whole
  /// range with 4K pages, as Xen does ("XXX: Support superpage mappings if
  /// nr is not aligned"). Each chunk is one `__p2m_set_entry()`; see
  /// ``setEntryChunk(_:gfn:order:mfn:type:)``.
  ///
  /// On failure the chunks before the failing one stay applied (Xen's loop
  /// `break`s); the error says how many pages were done. The failing chunk
  /// leaves every translation unchanged. The CPU TLB flush deferred by
  /// removals happens before returning (`p2m_write_unlock()` →
  /// `p2m_tlb_flush_sync()`), so after any return the TLB is coherent.
  public mutating func setEntry(_ gfn: GFN, count: UInt64, mfn: MFN?, type: P2MType) throws(XenP2MError) {
    guard (mfn == nil) == (type == .invalid) else { throw .inconsistentRequest(mfn: mfn, type: type) }
    if isDying { throw .domainDying }
    if let mfn, count > 0 {
      let last = mfn.rawValue.addingReportingOverflow(count - 1)
      guard !last.overflow, last.partialValue >> 36 == 0 else { throw .frameOutOfRange(mfn) }
    }
    defer { flushTLBIfNeeded() }
    var cursor = P2MChunkCursor(gfn: gfn.rawValue, mfn: mfn?.rawValue, remaining: count)
    var done: UInt64 = 0
    while cursor.remaining > 0 {
      let order = cursor.order()
      let status = setEntryChunk(&self, gfn: cursor.gfn, order: Int(order), mfn: cursor.mfn, type: UInt64(type.rawValue))
      if status.outOfRange { throw .gfnOutOfRange(GFN(cursor.gfn), ipaBits: geometry.ipaBits, completedPages: done) }
      if status.tableAllocation { throw .tableAllocationFailed(GFN(cursor.gfn), completedPages: done) }
      if status.splitAllocation { throw .splitAllocationFailed(GFN(cursor.gfn), completedPages: done) }
      cursor = cursor.advanced(byOrder: order)
      done += 1 << order
    }
  }

  /// Maps `count` pages from `mfn` (`guest_physmap_add_entry()` →
  /// `p2m_insert_mapping()`), replacing what was there.
  public mutating func map(_ gfn: GFN, count: UInt64 = 1, to mfn: MFN, type: P2MType) throws(XenP2MError) {
    try setEntry(gfn, count: count, mfn: mfn, type: type)
  }

  /// Removes `count` pages (`p2m_set_entry(…, INVALID_MFN, p2m_invalid)`).
  public mutating func unmap(_ gfn: GFN, count: UInt64 = 1) throws(XenP2MError) {
    try setEntry(gfn, count: count, mfn: nil, type: .invalid)
  }

  /// `p2m_free_entry()`: releases what a removed or replaced entry held. A
  /// leaf or superpage drops its references (`p2m_put_page()`: foreign
  /// pages at L3 and, since `3e2121ce47`, L2; nothing at L1); a table is
  /// freed depth-first, each page after `p2m_tlb_flush_sync()` so no CPU
  /// TLB can still walk it.
  mutating func freeEntry(_ pte: UInt64, level: Int) {
    guard isTypeValid(pte) else { return }
    if level == 3 || !XenDescriptor.tableBit(pte) {
      counters.mappings[level] -= 1
      let type = P2MType(rawValue: UInt8(truncatingIfNeeded: pte >> 55 & 0xF))
      if type?.isForeign == true && (level == 3 || level == 2 && !SeededBug.foreignSuperpageReferencesKept.isActive) {
        let mfn = MFN(XenDescriptor.outputBase(pte) >> pageShift), pages = Int(Self.pages(level: level))
        foreignReferencesPut.append((mfn, pages))
        record(.foreignPagesPut(mfn, count: pages))
      }
      return
    }
    guard let slot = memory.slot(of: MFN(XenDescriptor.outputBase(pte) >> pageShift)), memory.isPoolSlot(slot) else {
      preconditionFailure("a table entry \(hex(pte)) points outside the p2m pool")
    }
    for child in 0..<TablePool.entriesPerTable {
      freeEntry(memory.storage[slot << 9 | child], level: level + 1)
    }
    flushTLBIfNeeded()
    memory.free(slot)
    counters.tablesFreed += 1
    record(.tableFreed(memory.frame(ofSlot: slot)))
  }

  // MARK: Effects

  /// The storage index of `gfn`'s entry at `level` under a table entry the
  /// p2m itself wrote; one pointing outside the region is corruption.
  func tableChild(of pte: UInt64, gfn: UInt64, level: Int) -> Int {
    Int(truncatingIfNeeded: childIndex(of: pte, gfn: gfn, level: level))
  }


  mutating func allocateTable() -> Int? {
    guard let slot = memory.allocate() else { return nil }
    counters.tablesAllocated += 1
    record(.tableAllocated(memory.frame(ofSlot: slot)))
    return slot
  }

  /// `write_pte()` / `p2m_write_pte()`.
  mutating func writeEntry(_ index: Int, _ descriptor: UInt64) {
    if recordsEvents {
      events.append(.descriptorWrite(address: address(ofEntry: index), old: memory.storage[index], new: descriptor))
    }
    memory.storage[index] = descriptor
    counters.descriptorWrites += 1
  }

  /// `p2m_force_tlb_flush_sync()`.
  package mutating func forceTLBFlush() {
    tlb.invalidate(vmid: vmid)
    counters.tlbFlushes += 1
    record(.tlbFlush(vmid: vmid))
    needFlush = false
  }

  /// `p2m_tlb_flush_sync()`.
  mutating func flushTLBIfNeeded() {
    if needFlush { forceTLBFlush() }
  }

  mutating func flushIOTLB(_ flush: IOTLBFlush) {
    counters.iotlbFlushes += 1
    record(.iotlbFlush(flush))
    iotlbFlushHandler?(flush)
  }

  mutating func record(_ event: P2MEvent) {
    if recordsEvents { events.append(event) }
  }
}
