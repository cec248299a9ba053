import Spec

/// A broken table invariant, found by ``XenP2M/checkInvariants()``.
public struct P2MInvariantViolation: Hashable, Sendable, CustomStringConvertible {
  public enum Kind: String, Hashable, Sendable {
    /// Two table entries point at the same table page.
    case tableReachedTwice
    /// A table entry points at a pool page on the free list.
    case freedTableReachable
    /// A table entry points outside the pool (or at a root page).
    case tableOutsidePool
    /// An entry is not what `mfn_to_p2m_entry()`/`page_to_p2m_table()`
    /// would write for its decoded type and frame (valid bit aside), is a
    /// non-zero entry of type `p2m_invalid`, a misaligned block, a block at
    /// L0, or `0b01` at L3.
    case badEncoding
    /// A pool page is in use but no table entry reaches it.
    case leakedTable
    /// A mapping lies outside [`lowest_mapped_gfn`, `max_mapped_gfn`], so
    /// `p2m_get_entry()`'s shortcut would hide it.
    case mappingOutsideBookkeeping
    /// The TLB holds a translation for this VMID that the tables no longer give.
    case staleTLBEntry
  }

  public var kind: Kind
  /// The descriptor's machine address, or the page's for a TLB entry.
  public var address: UInt64
  public var detail: String

  public var description: String { "\(kind.rawValue) at \(hex(address)): \(detail)" }
}

extension XenP2M {
  /// Whether ``checkInvariants()`` is compiled in (`P2M_INTERNAL_CHECKS`:
  /// debug builds, and fuzz builds that define it).
  public static var internalChecksEnabled: Bool {
    #if P2M_INTERNAL_CHECKS
      true
    #else
      false
    #endif
  }

  /// Every violation of the table invariants, walking all live tables from
  /// the roots: no table reachable twice, no freed page reachable, every
  /// table entry inside the pool, every entry encoded as Xen encodes its
  /// decoded type (so "type-valid" and the decoded entry agree), no pool
  /// page leaked, `max_mapped_gfn`/`lowest_mapped_gfn` covering every
  /// mapping, and the TLB coherent with the tables. Empty when the checks
  /// are compiled out (release builds).
  public func checkInvariants() -> [P2MInvariantViolation] {
    #if P2M_INTERNAL_CHECKS
      return collectViolations()
    #else
      return []
    #endif
  }

  /// The same violations in every build: for a caller that asks on a
  /// rare path about a small p2m (the fuzzer's oracle, after a sized pool
  /// ran dry), where a walk of every table costs little and a release
  /// build must not answer "none" by omission.
  public func invariantViolations() -> [P2MInvariantViolation] { collectViolations() }

  func collectViolations() -> [P2MInvariantViolation] {
    var violations: [P2MInvariantViolation] = []
    func violation(_ kind: P2MInvariantViolation.Kind, _ address: UInt64, _ detail: String) {
      violations.append(P2MInvariantViolation(kind: kind, address: address, detail: detail))
    }
    var reached = [Bool](repeating: false, count: memory.totalPages)
    var pending: [(slot: Int, level: Int, firstGFN: UInt64)] = (0..<memory.rootPages).map {
      ($0, geometry.rootLevel, (UInt64($0) << 9) << rootShift)
    }
    while let (slot, level, firstGFN) = pending.popLast() {
      for child in 0..<TablePool.entriesPerTable {
        let index = slot << 9 | child
        let pte = memory.storage[index]
        guard pte != 0 else { continue }
        let address = address(ofEntry: index)
        let gfn = firstGFN + UInt64(child) * Self.pages(level: level)
        let raw = Int(pte >> 55 & 0xF)
        guard raw != 0 else {
          violation(.badEncoding, address, "non-zero entry \(hex(pte)) of type p2m_invalid")
          continue
        }
        let base = XenDescriptor.outputBase(pte)
        if level < 3 && XenDescriptor.tableBit(pte) {
          if pte | 1 != tableTemplate | base {
            violation(.badEncoding, address, "table entry \(hex(pte)) is not page_to_p2m_table()")
          }
          guard let next = memory.slot(of: MFN(base >> pageShift)), memory.isPoolSlot(next) else {
            violation(.tableOutsidePool, address, "table entry \(hex(pte)) points outside the pool")
            continue
          }
          guard memory.isInUse(slot: next) else {
            violation(.freedTableReachable, address, "table entry \(hex(pte)) points at a free pool page")
            continue
          }
          guard !reached[next] else {
            violation(.tableReachedTwice, address, "table \(memory.frame(ofSlot: next)) is reached twice")
            continue
          }
          reached[next] = true
          pending.append((next, level + 1, gfn))
          continue
        }
        let pages = Self.pages(level: level)
        if level == 0 || (level == 3 && !XenDescriptor.tableBit(pte)) {
          violation(.badEncoding, address, "\(hex(pte)) is not a leaf Xen writes at L\(level)")
          continue
        }
        guard P2MType(rawValue: UInt8(raw)) != nil else {
          violation(.badEncoding, address, "software type \(raw) is not a p2m_type_t")
          continue
        }
        let expected = (leafTemplates[raw] | base) & (level < 3 ? ~UInt64(2) : ~UInt64(0))
        if pte | 1 != expected || (base >> pageShift) % pages != 0 {
          violation(.badEncoding, address, "leaf \(hex(pte)) at L\(level) is not mfn_to_p2m_entry() of its type and frame")
        }
        if gfn < rawLowestMappedGFN || gfn + pages - 1 > rawMaxMappedGFN {
          violation(.mappingOutsideBookkeeping, address,
                    "\(GFN(gfn))+\(pages) is outside [\(hex(rawLowestMappedGFN)), \(hex(rawMaxMappedGFN))]")
        }
      }
    }
    for slot in memory.rootPages..<memory.totalPages where memory.isInUse(slot: slot) && !reached[slot] {
      violation(.leakedTable, memory.frame(ofSlot: slot).address, "pool page in use but unreachable")
    }
    for (cachedVMID, page, translation) in tlb.entries where cachedVMID == vmid {
      let ipa = page << pageShift
      let cached = translation.result(ipa: ipa, access: .read)
      let walked = walk(ipa, access: .read)
      if cached != walked {
        violation(.staleTLBEntry, ipa, "TLB gives \(cached), the tables \(walked)")
      }
    }
    return violations
  }

  /// Overwrites a descriptor behind the p2m's back, for tests of the
  /// invariant checker and of the walk on corrupted tables.
  package mutating func corruptDescriptor(table frame: MFN, index: Int, with descriptor: UInt64) {
    guard let slot = memory.slot(of: frame), (0..<TablePool.entriesPerTable).contains(index) else { return }
    memory.storage[slot << 9 | index] = descriptor
  }
}
