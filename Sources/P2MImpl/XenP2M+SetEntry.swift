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
  /// ``setChunk(gfn:order:mfn:type:)``.
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
    var gfn = gfn.rawValue
    var mfn = mfn?.rawValue
    var remaining = count
    var done: UInt64 = 0
    while remaining > 0 {
      let removalMask: UInt64 = mutants.contains(.removalOrderFromInvalidMFN) ? .max : 0
      let mask = (mfn ?? removalMask) | gfn | remaining
      let order = mask & (1 << 18 - 1) == 0 ? 18 : mask & (1 << 9 - 1) == 0 ? 9 : 0
      do throws(ChunkFailure) {
        try setChunk(gfn: gfn, order: order, mfn: mfn, type: type)
      } catch {
        switch error {
        case .outOfRange: throw .gfnOutOfRange(GFN(gfn), ipaBits: geometry.ipaBits, completedPages: done)
        case .tableAllocation: throw .tableAllocationFailed(GFN(gfn), completedPages: done)
        case .splitAllocation: throw .splitAllocationFailed(GFN(gfn), completedPages: done)
        }
      }
      let pages: UInt64 = 1 << UInt64(order)
      gfn &+= pages
      mfn = mfn.map { $0 + pages }
      remaining -= pages
      done += pages
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

  enum ChunkFailure: Error {
    case outOfRange
    case tableAllocation
    case splitAllocation
  }

  /// `__p2m_set_entry(p2m, gfn, order, mfn, t, p2m_access_rwx)`: one 4K,
  /// 2M or 1G entry at level `3 − order/9`, in Xen's order:
  ///
  /// 1. Root pointer, or −EINVAL beyond the roots (XSA-301).
  /// 2. Walk down with `p2m_next_level()`, creating missing tables from
  ///    the pool, except on removal, where a missing table means there is
  ///    nothing to remove. A superpage above the target level stops the
  ///    walk.
  /// 3. Split that superpage in a copy (``splitSuperpage(_:level:target:gfn:)``),
  ///    then break-before-make on its slot: write 0, flush the CPU TLB,
  ///    write the new table. On allocation failure the partial copy is
  ///    freed and the superpage stays.
  /// 4. At the target: zero the old entry if it is hardware-valid or this
  ///    is a removal (the second clause is XSA-393's fix, `a428b913a0`). A
  ///    removal defers the TLB flush to unlock; an insertion over a
  ///    hardware-valid entry flushes before writing the new one (BBM),
  ///    then updates `max_mapped_gfn`/`lowest_mapped_gfn`.
  /// 5. `iommu_iotlb_flush()` if the old or new entry is hardware-valid
  ///    (`9ed527dc95`), flags `modified`/`added`.
  /// 6. Only then free the old entry if it was type-valid and its base
  ///    differs (`6718787797`): subtables are freed after a TLB flush,
  ///    foreign pages put (``freeEntry(_:level:)``).
  mutating func setChunk(gfn: UInt64, order: Int, mfn: UInt64?, type: P2MType) throws(ChunkFailure) {
    let target = 3 - order / 9
    let removing = mfn == nil
    guard var index = rootEntryIndex(gfn) else { throw .outOfRange }
    var level = geometry.rootLevel

    while level < target {
      let pte = memory.storage[index]
      if !Self.isTypeValid(pte) {
        if removing { return }
        guard let slot = allocateTable() else { throw .tableAllocation }
        writeEntry(index, tableTemplate | memory.frame(ofSlot: slot).address)
      } else if !XenDescriptor.tableBit(pte) {
        break
      }
      index = tableChild(of: memory.storage[index], gfn: gfn, level: level + 1)
      level += 1
    }

    if level < target {
      let original = memory.storage[index]
      let split = splitSuperpage(original, level: level, target: target, gfn: gfn)
      guard let split, split.complete else {
        // Xen re-counts the superpage, then frees `split_pte`: the partial
        // copy, or the superpage itself when the first allocation failed.
        counters.mappings[level] += 1
        freeEntry(split?.table ?? original, level: level)
        throw .splitAllocation
      }
      writeEntry(index, 0)
      forceTLBFlush()
      writeEntry(index, split.table)
      while level < target {
        index = tableChild(of: memory.storage[index], gfn: gfn, level: level + 1)
        level += 1
      }
    }

    let original = memory.storage[index]
    let wasHardwareValid = original & 1 != 0
    let zeroOnRemoval = removing && !mutants.contains(.removalKeepsHardwareInvalid)
    if wasHardwareValid || zeroOnRemoval { writeEntry(index, 0) }

    if removing {
      needFlush = needFlush || wasHardwareValid
    } else if let mfn {
      var pte = leafTemplates[Int(type.rawValue)] | mfn << 12
      if level < 3 { pte &= ~2 }
      if wasHardwareValid {
        forceTLBFlush()
      } else if !Self.isTypeValid(original) {
        counters.mappings[level] += 1
      }
      writeEntry(index, pte)
      rawMaxMappedGFN = max(rawMaxMappedGFN, gfn + (1 << UInt64(order)) - 1)
      rawLowestMappedGFN = min(rawLowestMappedGFN, gfn)
    }

    let current = memory.storage[index]
    let releases = Self.isTypeValid(original) && XenDescriptor.outputBase(current) != XenDescriptor.outputBase(original)
    if releases && mutants.contains(.freeBeforeIOTLBFlush) { freeEntry(original, level: level) }
    if iommuEnabled && (wasHardwareValid || current & 1 != 0) {
      flushIOTLB(IOTLBFlush(gfn: GFN(gfn), pageCount: 1 << UInt64(order), modified: wasHardwareValid, added: current & 1 != 0))
    }
    if releases && !mutants.contains(.freeBeforeIOTLBFlush) { freeEntry(original, level: level) }
  }

  /// `p2m_split_superpage()`: a new table whose 512 entries copy the
  /// superpage `parent` at `level` — type, permissions and attributes
  /// included (`97323702bf`) — with bases `mfn + i << child order` and the
  /// table bit set only at L3; then, if the children are still above
  /// `target`, the child on `gfn`'s path is split the same way, recursively.
  ///
  /// Returns nil when no page could be had for the new table (`parent` is
  /// untouched); otherwise the table descriptor to install and whether the
  /// whole path was split. An incomplete split is still returned so the
  /// caller can free it: "Even if we failed, we should install the newly
  /// allocated LPAE entry. The caller will be in charge to free the
  /// sub-tree."
  mutating func splitSuperpage(_ parent: UInt64, level: Int, target: Int, gfn: UInt64) -> (table: UInt64, complete: Bool)? {
    guard let slot = allocateTable() else { return nil }
    let next = level + 1
    let childBytes = Self.pages(level: next) << 12
    let base = XenDescriptor.outputBase(parent)
    let inherited = mutants.contains(.splitWithoutInheritance)
      ? leafTemplates[Int(P2MType.ramRW.rawValue)] : parent & ~bitMask(high: 47, low: 12)
    let tableBit: UInt64 = next == 3 ? 2 : 0
    for child in 0..<TablePool.entriesPerTable {
      let pte = (inherited & ~2) | tableBit | (base + UInt64(child) * childBytes)
      writeEntry(slot << 9 | child, pte)
    }
    counters.shattered[level] += 1
    counters.mappings[level] -= 1
    counters.mappings[next] += TablePool.entriesPerTable

    var complete = true
    if next != target {
      let childIndex = slot << 9 | Int(truncatingIfNeeded: gfn >> UInt64(Self.order(level: next)) & 511)
      if let deeper = splitSuperpage(memory.storage[childIndex], level: next, target: target, gfn: gfn) {
        writeEntry(childIndex, deeper.table)
        complete = deeper.complete
      } else {
        complete = false
      }
    }
    return (tableTemplate | memory.frame(ofSlot: slot).address, complete)
  }

  /// `p2m_free_entry()`: releases what a removed or replaced entry held. A
  /// leaf or superpage drops its references (`p2m_put_page()`: foreign
  /// pages at L3 and, since `3e2121ce47`, L2; nothing at L1); a table is
  /// freed depth-first, each page after `p2m_tlb_flush_sync()` so no CPU
  /// TLB can still walk it.
  mutating func freeEntry(_ pte: UInt64, level: Int) {
    guard Self.isTypeValid(pte) else { return }
    if level == 3 || !XenDescriptor.tableBit(pte) {
      counters.mappings[level] -= 1
      let type = P2MType(rawValue: UInt8(truncatingIfNeeded: pte >> 55 & 0xF))
      if type?.isForeign == true && level >= 2 {
        record(.foreignPagesPut(MFN(XenDescriptor.outputBase(pte) >> 12), count: Int(Self.pages(level: level))))
      }
      return
    }
    guard let slot = memory.slot(of: MFN(XenDescriptor.outputBase(pte) >> 12)), memory.isPoolSlot(slot) else {
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
    guard let index = childIndex(table: pte, gfn: gfn, level: level) else {
      preconditionFailure("a table entry \(hex(pte)) points outside the p2m's table region")
    }
    return index
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
  mutating func forceTLBFlush() {
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
