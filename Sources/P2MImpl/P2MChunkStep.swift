import Spec

/// How one `__p2m_set_entry()` ended: success when no flag holds.
package struct ChunkStatus<C: WordBool> {
  /// −EINVAL: the GFN is beyond the root pages (XSA-301).
  package var outOfRange: C
  /// −ENOMEM from `p2m_next_level()`: no pool page for a missing table.
  package var tableAllocation: C
  /// −ENOMEM from `p2m_split_superpage()`.
  package var splitAllocation: C

  package var failed: C { outOfRange || tableAllocation || splitAllocation }
}

/// `__p2m_set_entry(p2m, gfn, order, mfn, t, p2m_access_rwx)`
/// (xen/arch/arm/mmu/p2m.c, 4.17 … HEAD; xen/arch/arm/p2m.c before 4.18):
/// one 4K, 2M or 1G entry at level `3 − order/9`, in Xen's order, written
/// once over ``P2MTables`` so that the program and `p2m.step` run the same
/// code.
///
/// 1. Root pointer, or −EINVAL beyond the roots (XSA-301).
/// 2. Walk down with `p2m_next_level()`, creating missing tables from the
///    pool, except on removal, where a missing table means there is
///    nothing to remove. A superpage above the target level stops the walk.
/// 3. Split that superpage in a copy (``splitSuperpage(_:_:level:target:gfn:when:)``),
///    then break-before-make on its slot: write 0, flush the CPU TLB,
///    write the new table. On allocation failure the partial copy (or,
///    when the first page could not be had, the superpage itself — Xen
///    frees `split_pte` either way) is released and −ENOMEM returned.
/// 4. At the target: zero the old entry if it is hardware-valid or this is
///    a removal (the second clause is XSA-393's fix, `a428b913a0`). A
///    removal defers the TLB flush to unlock (`need_flush`); an insertion
///    over a hardware-valid entry flushes before writing the new one
///    (break-before-make), then updates `max_mapped_gfn` and
///    `lowest_mapped_gfn`.
/// 5. `iommu_iotlb_flush()` if the old or new entry is hardware-valid
///    (`9ed527dc95`).
/// 6. Only then release the old entry if it was type-valid and its base
///    differs (`6718787797`).
///
/// `gfn` and `mfn` must be aligned to the order (``XenP2M/setEntry(_:count:mfn:type:)``
/// chooses the order so); `mfn` nil is a removal and `type` then 0.
/// Decisions on words go through ``P2MTables/when(_:_:)`` and
/// ``branch(_:then:else:)``; concretely the path not taken is never run.
package func setEntryChunk<T: P2MTables>(
  _ tables: inout T, gfn: T.W, order: Int, mfn: T.W?, type: T.W
) -> ChunkStatus<T.Condition> {
  typealias W = T.W
  let target = 3 - order / 9
  let removing = mfn == nil
  let zero = tables.zeroWord
  let no = zero.condition(false)
  let root = tables.rootEntry(gfn: gfn)
  var status = ChunkStatus(outOfRange: !root.inRange, tableAllocation: no, splitAllocation: no)
  var walking = root.inRange
  var index = root.index
  var superpages: [(level: Int, found: T.Condition, index: W)] = []

  for level in tables.geometry.rootLevel..<target {
    if walking.knownValue == false { break }
    let missing = walking && !isTypeValid(tables.load(index))
    if removing {
      walking = walking && !missing
    } else {
      var slot = zero
      var allocated = no
      tables.when(missing) { t in (slot, allocated) = t.allocateTable(level: level + 1, gfn: gfn) }
      let failed = missing && !allocated
      status.tableAllocation = status.tableAllocation || failed
      walking = walking && !failed
      let entryIndex = index
      tables.when(missing && allocated) { t in t.write(entryIndex, t.frameAddress(ofSlot: slot) | t.tableTemplate) }
    }
    if walking.knownValue == false { break }
    let entry = tables.load(index)
    let superpage = walking && !XenDescriptor.tableBit(entry)
    if superpage.knownValue != false { superpages.append((level, superpage, index)) }
    walking = walking && !superpage
    if walking.knownValue == false { break }
    let current = index
    index = branch(walking) { tables.childIndex(of: entry, gfn: gfn, level: level + 1) } else: { current }
  }

  var atTarget = walking
  var leafIndex = index
  for superpage in superpages {
    let original = tables.load(superpage.index)
    let split = splitSuperpage(&tables, original, level: superpage.level, target: target, gfn: gfn, when: superpage.found)
    let done = superpage.found && split.complete
    let failed = superpage.found && !split.complete
    // Xen re-counts the superpage, then frees `split_pte`.
    tables.when(failed) { t in
      t.countMapping(level: superpage.level, 1)
      let released = W.select(split.allocated, split.table, original)
      if SeededBug.failedSplitKeepsItsTable.isActive {
        // The seeded bug releases only a superpage the split never replaced.
        t.when(!split.allocated) { t in t.releaseEntry(released, level: superpage.level) }
      } else {
        t.releaseEntry(released, level: superpage.level)
      }
    }
    status.splitAllocation = status.splitAllocation || failed
    tables.when(done) { t in
      t.write(superpage.index, t.zeroWord)
      t.forceTLBFlush()
      t.write(superpage.index, split.table)
    }
    if done.knownValue == false { continue }
    var descended = superpage.index
    for level in superpage.level..<target {
      let from = descended
      descended = branch(done) { tables.childIndex(of: tables.load(from), gfn: gfn, level: level + 1) } else: { from }
    }
    leafIndex = W.select(done, descended, leafIndex)
    atTarget = atTarget || done
  }
  if atTarget.knownValue == false { return status }

  let at = leafIndex
  let original = tables.load(at)
  let wasHardwareValid = XenDescriptor.isValid(original)
  let zeroOnRemoval = removing && tables.zeroesRemovedHardwareInvalidEntries && !SeededBug.removalKeepsHWInvalidEntry.isActive
  tables.when(atTarget && (wasHardwareValid || zero.condition(zeroOnRemoval))) { t in t.write(at, t.zeroWord) }

  if removing {
    tables.flushOwed = tables.flushOwed || (atTarget && wasHardwareValid)
  } else if let mfn {
    var pte = tables.leafTemplate(type: type) | (mfn << pageShift)
    if target < 3 { pte = pte & ~UInt64(2) }
    let leaf = pte
    tables.when(atTarget && wasHardwareValid) { t in t.forceTLBFlush() }
    tables.when(atTarget && !wasHardwareValid && !isTypeValid(original)) { t in t.countMapping(level: target, 1) }
    let last = gfn &+ ((UInt64(1) << UInt64(order)) - 1)
    tables.when(atTarget) { t in
      t.write(at, leaf)
      t.highestMapped = W.select(last > t.highestMapped, last, t.highestMapped)
      t.lowestMapped = W.select(gfn < t.lowestMapped, gfn, t.lowestMapped)
    }
  }

  let current = tables.load(at)
  let releases = atTarget && isTypeValid(original)
    && (XenDescriptor.outputBase(current) != XenDescriptor.outputBase(original))
  let releaseFirst = SeededBug.freeBeforeIOTLBFlush.isActive
  if releaseFirst { tables.when(releases) { t in t.releaseEntry(original, level: target) } }
  if tables.iommuEnabled && !SeededBug.iotlbNeverFlushed.isActive {
    let added = XenDescriptor.isValid(current)
    tables.when(atTarget && (wasHardwareValid || added)) { t in
      t.flushIOTLB(gfn: gfn, order: order, modified: wasHardwareValid, added: added)
    }
  }
  if !releaseFirst { tables.when(releases) { t in t.releaseEntry(original, level: target) } }
  return status
}

/// `p2m_split_superpage()`, when `condition` holds: a new table whose 512
/// entries copy the superpage `parent` at `level` — type, permissions and
/// attributes included (`97323702bf`) — with bases `mfn + i << child
/// order` and the table bit set only at L3; then, if the children are
/// still above `target`, the child on `gfn`'s path is split the same way.
///
/// `allocated` says whether the first page could be had (`parent` is then
/// untouched otherwise); `table` is the descriptor to install and
/// `complete` whether the whole path was split. An incomplete split is
/// still returned so the caller can free it: "Even if we failed, we should
/// install the newly allocated LPAE entry. The caller will be in charge to
/// free the sub-tree."
package func splitSuperpage<T: P2MTables>(
  _ tables: inout T, _ parent: T.W, level: Int, target: Int, gfn: T.W, when condition: T.Condition
) -> (table: T.W, allocated: T.Condition, complete: T.Condition) {
  let zero = tables.zeroWord
  var slot = zero
  var allocated = zero.condition(false)
  tables.when(condition) { t in (slot, allocated) = t.allocateTable(level: level + 1, gfn: gfn) }
  let got = condition && allocated
  let next = level + 1
  let childBytes = UInt64(1) << UInt64(9 * (3 - next) + pageShift)
  let base = XenDescriptor.outputBase(parent)
  let inherited = SeededBug.splitChildrenLosePermissions.isActive
    ? tables.leafTemplate(type: zero.constant(UInt64(P2MType.ramRW.rawValue)))
    : parent & ~bitMask(high: 47, low: 12)
  let tableBit: UInt64 = next == 3 || SeededBug.gigabyteSplitChildrenAreTables.isActive ? 2 : 0
  let page = slot
  tables.when(got) { t in
    t.fillTable(slot: page) { child in ((inherited & ~UInt64(2)) | tableBit) | (base &+ (child &* childBytes)) }
    t.countShattered(level: level)
  }
  var complete = got
  if next != target && got.knownValue != false {
    let childIndex = (page << 9) | ((gfn >> (9 * (3 - next))) & 511)
    let deeper = splitSuperpage(&tables, tables.load(childIndex), level: next, target: target, gfn: gfn, when: got)
    tables.when(got && deeper.allocated) { t in t.write(childIndex, deeper.table) }
    complete = got && deeper.complete
  }
  return (tables.frameAddress(ofSlot: page) | tables.tableTemplate, got, complete)
}
