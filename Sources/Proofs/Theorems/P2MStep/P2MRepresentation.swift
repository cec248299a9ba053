import P2MImpl
import Spec
import SymbolicWord

/// P2MImpl's representation invariant and abstraction function, stated on
/// the symbolic world (``SymbolicP2MTables``) one GFN at a time.
///
/// The invariant is a for-all over GFNs (and pool slots). A proof assumes
/// it at the GFNs it needs — the probe GFN and the updated one — and proves
/// it again at a fresh probe GFN, which Z3 leaves free: that is the
/// for-all. Assuming fewer instances than all is weaker, so a proof with
/// these hypotheses holds for every state that satisfies the whole
/// invariant. It is what ``XenP2M/checkInvariants()`` checks concretely,
/// phrased per path:
///
/// - every type-invalid entry on the path is 0 (no stale bits);
/// - every table entry on the path is `page_to_p2m_table()` of its page
///   (valid bit aside: Set/Way clears it), points into the pool, at a page
///   that is not free and whose ghost owner is this level and this GFN
///   prefix — so two paths that share a page share the prefix: the tables
///   form a tree (no table reached twice);
/// - the leaf is `mfn_to_p2m_entry()` of its type and frame at its level
///   (table bit only at L3, none at L0, a valid `p2m_type_t`, a base
///   aligned to the block), and lies inside
///   [`lowest_mapped_gfn`, `max_mapped_gfn`] (`p2m_get_entry()`'s shortcut
///   would hide it otherwise);
/// - free slots are pool slots.
///
/// Not in it (checked concretely, by `checkInvariants()` and the fuzzer):
/// that no pool page is leaked, and the p2m statistics.
enum P2MRepresentation {
  typealias W = SymbolicWord
  typealias C = SymbolicBool

  /// The GFN prefix a table at `tableLevel` serves: the index, counted
  /// over the whole IPA space, of the entry one level up that points to it.
  static func prefix(of gfn: W, tableLevel: Int) -> W { gfn >> (9 * (4 - tableLevel)) }

  /// What the p2m maps at one GFN, read as `p2m_get_entry()` reads it
  /// (type-valid, whatever the valid bit): the spec's map entry.
  struct Entry {
    var present: C
    var mfn: W
    var type: W
    /// The leaf's own valid bit (Set/Way clears it).
    var leafValid: C
    /// Every entry on the path, tables and leaf, has its valid bit.
    var pathValid: C
    /// The leaf's output address fits the PA size (else the walk gives an
    /// address-size fault: Xen's `p2m_set_entry()` checks only that the
    /// MFN fits the descriptor's 36 bits).
    var outputFits: C

    func same(as other: Entry) -> C {
      present.isEqual(to: other.present)
        && present.implies(mfn == other.mfn && type == other.type && leafValid.isEqual(to: other.leafValid))
    }
  }

  /// The invariant's instance at `gfn`, and the abstraction's value there.
  static func path(_ tables: SymbolicP2MTables, gfn: W) -> (invariant: C, entry: Entry) {
    let root = tables.rootEntry(gfn: gfn)
    let no = root.inRange.constant(false)
    var invariant = root.inRange.constant(true)
    var entry = Entry(present: no, mfn: tables.zeroWord, type: tables.zeroWord, leafValid: no, pathValid: no, outputFits: no)
    let ipaBits = tables.geometry.ipaBits
    var reaching = root.inRange
    var index = root.index
    var valid = root.inRange.constant(true)
    for level in tables.geometry.rootLevel...3 {
      let pte = tables.load(index)
      let typeValid = isTypeValid(pte)
      invariant = invariant && (reaching && !typeValid).implies(pte == 0)
      let table = level < 3 ? reaching && typeValid && XenDescriptor.tableBit(pte) : no
      let leaf = reaching && typeValid && !table
      valid = valid && XenDescriptor.isValid(pte)
      if level < 3 {
        let slot = tables.slot(ofTable: pte)
        let owner = tables.owner(slot)
        invariant = invariant && table.implies(
          (pte | 1) == (XenDescriptor.outputBase(pte) | tables.tableTemplate)
            && tables.isPoolSlot(slot) && !tables.isFree(slot)
            && owner.level == UInt64(level + 1) && owner.prefix == prefix(of: gfn, tableLevel: level + 1))
      }
      let pages = UInt64(1) << UInt64(9 * (3 - level))
      let type = XenDescriptor.softwareType(pte)
      let template = tables.leafTemplate(type: type)
      let base = XenDescriptor.outputBase(pte)
      let keep: UInt64 = level < 3 ? ~UInt64(2) : ~UInt64(0)
      let expected: W = (template | base) & keep
      let hasType: C = template != 0
      let sameBits: C = (pte | 1) == expected
      let alignedBase: C = ((base >> pageShift) & (pages - 1)) == 0
      let encoded = level == 0 ? no : hasType && sameBits && alignedBase
      let first = gfn & ~(pages - 1)
      let last: W = first &+ (pages - 1)
      let booked: C = tables.lowestMapped.ule(first) && last.ule(tables.highestMapped)
      invariant = invariant && leaf.implies(encoded && booked)
      entry.present = entry.present || leaf
      entry.mfn = .select(leaf, (base >> pageShift) &+ (gfn & (pages - 1)), entry.mfn)
      entry.type = .select(leaf, type, entry.type)
      entry.leafValid = .select(leaf, XenDescriptor.isValid(pte), entry.leafValid)
      entry.pathValid = .select(leaf, valid, entry.pathValid)
      entry.outputFits = .select(leaf, ipaBits >= 48 ? no.constant(true) : (base & bitMask(high: 47, low: ipaBits)) == 0, entry.outputFits)
      reaching = table
      if level < 3 { index = tables.childIndex(of: pte, gfn: gfn, level: level + 1) }
    }
    return (invariant, entry)
  }

  /// The invariant's facts that are not about a path, at the probe `slot`:
  /// the region (roots, then at most 2^20 pool pages, as ``TablePool``
  /// allows) fits the PA size, and free slots are pool slots.
  static func global(_ tables: SymbolicP2MTables, slot: W) -> C {
    let frames = UInt64(1) << UInt64(min(tables.geometry.ipaBits, 48) - pageShift)
    return tables.slotLimit > UInt64(tables.rootPageCount) && tables.slotLimit <= UInt64(tables.rootPageCount + (1 << 20))
      && (tables.slotLimit &+ tables.baseFrame) <= frames
      && tables.isFree(slot).implies(tables.isPoolSlot(slot))
  }

  /// The walk of an address on `gfn`'s page agrees with `entry`: a
  /// present entry whose path is hardware-valid, whose frame fits the PA
  /// size and whose GFN the IPA size reaches translates to its frame at the
  /// address's offset with its type's permissions and software type;
  /// anything else faults.
  static func agrees(_ entry: Entry, gfn: W, offset: W, ipaBits: Int, outcome: WalkOutcome<W>) -> C {
    var permissions = offset.condition(true)
    for type in P2MType.allCases where type.isValid {
      let allowed = type.permissions
      permissions = permissions && (entry.type == UInt64(type.rawValue)).implies(
        outcome.read && outcome.write.isEqual(to: offset.condition(allowed.write))
          && outcome.executeNever.isEqual(to: offset.condition(!allowed.execute)))
    }
    let translates = entry.present && entry.pathValid && entry.outputFits && (gfn >> (ipaBits - pageShift)) == 0
    return translates.implies(
      !outcome.faulted && outcome.outputAddress == ((entry.mfn << pageShift) | offset) && outcome.softwareType == entry.type
        && permissions)
      && (!translates).implies(outcome.faulted)
  }
}
