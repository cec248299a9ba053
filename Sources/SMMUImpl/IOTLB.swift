import Spec

/// One SMMU instance's TLB of stage-2 translations, tagged by the SMMU's
/// own VMIDs: `cbndx + 1` on an SMMUv2 (`ARM_SMMU_CB_VMID`), the S2VMID
/// from the SMMU's bitmap on an SMMUv3 — never the CPU's VMID (fact sheet
/// §6.1, §6.2). Xen sets private TLB maintenance (sCR0.PTM, SMMUv3
/// CR2.PTM), so broadcast CPU TLBIs do not reach it: only the explicit
/// invalidations below, issued by `arm_smmu_tlb_inv_context()` (TLBIVMID +
/// sync, or `CMDQ_OP_TLBI_S12_VMALL` + CMD_SYNC), do.
///
/// What is cached follows the architecture (§7.3): only walks that
/// translated fill an entry; translation, address-size and access-flag
/// faults are never cached. An entry keeps the leaf's S2AP, so a later
/// access the entry forbids is a permission fault at the cached level
/// without a walk — which the architecture allows (a permission fault may
/// come from a cached entry) and which equals what the walk would say as
/// long as the entry is coherent.
///
/// **Replacement policy: direct-mapped.** Each (VMID, IPA page) has one
/// slot, `(page ^ vmid·0x9E37) mod capacity`; a fill overwrites whatever
/// the slot holds. A hit is one probe. Real MMU-500 and SMMUv3 TLBs are
/// set-associative with IMPLEMENTATION DEFINED replacement; no outcome
/// depends on the choice while entries are coherent, which Xen's flush
/// discipline guarantees, so the cheapest policy is the right one here.
///
/// **Whole-VMID invalidation is O(1)**: each VMID has a generation, every
/// entry records the generation it was filled under, and invalidating a
/// VMID bumps its generation so all its entries stop matching. Xen
/// invalidates a whole VMID after every p2m chunk (§6.5), so this is the
/// operation that must be cheap. Invalidation by IPA clears the one slot
/// per page (the SMMUv2 has no such operation in Xen's driver — "ARM SMMU
/// v1 doesn't have flush by VMA and VMID" — but SMMUv3 TLBI_S2_IPA does).
public struct IOTLB: Sendable {
  /// `vmid << 48 | page` (page < 2^36), or `emptyKey`.
  @usableFromInline var keys: ContiguousArray<UInt64>
  /// The output page's address (bits 47:12), S2AP in bits 7:6, the leaf
  /// level in bits 61:60: Xen's descriptor layout where it has one (§1.2).
  @usableFromInline var values: ContiguousArray<UInt64>
  /// The VMID generation each entry was filled under.
  @usableFromInline var stamps: ContiguousArray<UInt32>
  /// The current generation of each VMID.
  @usableFromInline var generations: ContiguousArray<UInt32>
  @usableFromInline let mask: Int

  static let emptyKey = IOTLBSlot<UInt64>.emptyKey

  /// Lookups that hit, walks that filled, and invalidations, for tests and
  /// benchmarks.
  public var statistics: Statistics { counters }
  /// ``statistics``' storage, under its own name so that the inlinable
  /// ``hit(vmid:ipa:access:)`` can count.
  @usableFromInline var counters = Statistics()

  public struct Statistics: Hashable, Sendable {
    public var hits = 0
    public var misses = 0
    public var fills = 0
    public var vmidInvalidations = 0
  }

  /// - Parameters:
  ///   - capacity: entries, rounded up to a power of two (at least 1).
  ///   - vmidBits: width of the VMIDs this SMMU tags entries with (8 or
  ///     16; an SMMUv2's VMIDs are at most `contextBanks`, 8 bits).
  public init(capacity: Int = 1024, vmidBits: Int = 16) {
    var size = 1
    while size < capacity && size < 1 << 24 { size <<= 1 }
    keys = ContiguousArray(repeating: Self.emptyKey, count: size)
    values = ContiguousArray(repeating: 0, count: size)
    stamps = ContiguousArray(repeating: 0, count: size)
    generations = ContiguousArray(repeating: 0, count: 1 << min(max(vmidBits, 1), 16))
    mask = size - 1
  }

  public var capacity: Int { mask + 1 }

  /// VMIDs this IOTLB can tag; a larger one is never cached.
  public var vmidLimit: Int { generations.count }

  @inlinable
  func slot(vmid: Int, page: UInt64) -> Int {
    Int(truncatingIfNeeded: iotlbSlotIndex(vmid: UInt64(truncatingIfNeeded: vmid), page: page, mask: UInt64(mask)))
  }

  /// The three words of slot `index`.
  @inlinable @inline(__always)
  func words(_ index: Int) -> IOTLBSlot<UInt64> {
    IOTLBSlot(key: keys[index], value: values[index], stamp: UInt64(stamps[index]))
  }

  /// The live entry in the slot that (`vmid`, page of `ipa`) maps to,
  /// whatever its tag: the one candidate of the concrete lookup, which
  /// ``iotlbHit(candidates:vmid:ipa:access:)`` then compares.
  /// Stale generations are not live.
  package func candidate(vmid: Int, ipa: UInt64) -> IOTLBEntryWords<UInt64>? {
    guard ipa >> 48 == 0 else { return nil }
    let slot = words(slot(vmid: vmid, page: ipa >> pageShift))
    // An empty key names no VMID, so its generation is not read.
    guard slot.key != Self.emptyKey else { return nil }
    let (live, entry) = slot.entry(generationOfItsVMID: UInt64(generations[Int(truncatingIfNeeded: slot.key >> 48)]))
    return live ? entry : nil
  }

  /// The hot path's lookup: what a live entry tagged (`vmid`, page of
  /// `ipa`) answers for `access`, or nil when there is none (the caller
  /// then takes the full path, which walks and fills). The slot's
  /// ``IOTLBSlot/probe(vmid:ipa:access:generation:)`` — one compare
  /// of the packed key instead of a decode — which `smmu.fast-path` proves
  /// equal to ``candidate(vmid:ipa:)`` followed by
  /// ``iotlbHit(candidates:vmid:ipa:access:)``, the full
  /// path's lookup. Inlined into the caller, a hit is a handful of loads
  /// and compares. With ``SeededBug/iotlbIgnoresVMID`` seeded it always
  /// takes the full path, which is where that bug is.
  ///
  /// Always inlined, as are its callers up to ``XenSMMUPlatform/translateCompact(stream:on:address:access:)``:
  /// with the probe generic the optimizer's own choice varied from build to
  /// build, and a call on the way cost the hit up to 2× (BENCHMARKS.md, SMMU).
  @inlinable @inline(__always)
  package mutating func hit(vmid: Int, ipa: UInt64, access: Access) -> CompactTranslation? {
    guard !SeededBug.iotlbIgnoresVMID.isActive, vmid >= 0, vmid < generations.count, ipa >> 48 == 0 else { return nil }
    // The probe's two halves, the value read only on a hit.
    let index = slot(vmid: vmid, page: ipa >> pageShift)
    guard IOTLBSlot.probeTag(
      key: keys[index], stamp: UInt64(stamps[index]), vmid: UInt64(truncatingIfNeeded: vmid), ipa: ipa,
      generation: UInt64(generations[vmid])) else { return nil }
    counters.hits += 1
    return CompactTranslation(stageTwo: IOTLBSlot.probeAnswer(value: values[index], ipa: ipa, access: access))
  }

  /// The entry for the page of `ipa` under `vmid`, if one is live: the
  /// full path's ``candidate(vmid:ipa:)`` and the generic lookup's tag
  /// compare, so this inspection agrees with what a translation hits.
  public func lookup(vmid: Int, ipa: UInt64) -> CachedStageTwo? {
    guard vmid >= 0, vmid < generations.count, let entry = candidate(vmid: vmid, ipa: ipa) else { return nil }
    let (tagged, _) = iotlbHit(candidates: CollectionOfOne(entry), vmid: UInt64(vmid), ipa: ipa, access: .read)
    return tagged ? CachedStageTwo(entry) : nil
  }

  /// Caches a translated walk of `ipa` under `vmid`. Faulting walks are
  /// not cached (§7.3), nor are IPAs above 48 bits or VMIDs beyond the
  /// tag width, which always walk.
  public mutating func fill(vmid: Int, ipa: UInt64, outputAddress: UInt64, read: Bool, write: Bool, level: Int) {
    // The generic fill checks the same bounds; these keep the counter honest.
    guard vmid >= 0, vmid < generations.count, ipa >> 48 == 0, (1...3).contains(level) else { return }
    iotlbFill(&self, vmid: UInt64(vmid), ipa: ipa, outputAddress: outputAddress, read: read, write: write, level: UInt64(level))
    counters.fills += 1
  }

  /// Puts `words` in slot `index` as they are, for replaying a
  /// `smmu.fast-path` counterexample (any slot content, not only what
  /// ``fill(vmid:ipa:outputAddress:read:write:level:)`` writes).
  package mutating func load(slot index: Int, _ words: IOTLBSlot<UInt64>) {
    keys[index] = words.key
    values[index] = words.value
    stamps[index] = UInt32(truncatingIfNeeded: words.stamp)
  }

  /// Sets `vmid`'s current generation, for the same replays.
  package mutating func setGeneration(_ generation: UInt64, of vmid: Int) {
    generations[vmid] = UInt32(truncatingIfNeeded: generation)
  }

  /// Drops every entry of `vmid`: TLBIVMID (SMMUv2) or
  /// `CMDQ_OP_TLBI_S12_VMALL` (SMMUv3), what `arm_smmu_tlb_inv_context()`
  /// issues for each of a domain's contexts.
  public mutating func invalidate(vmid: Int) {
    guard vmid >= 0, vmid < generations.count else { return }
    counters.vmidInvalidations += 1
    iotlbInvalidate(&self, vmid: UInt64(vmid))
  }

  /// Drops the entries of `vmid` for the pages of `ipas` (SMMUv3
  /// `CMDQ_OP_TLBI_S2_IPA` over the range).
  public mutating func invalidate(vmid: Int, pages: Range<UInt64>) {
    guard vmid >= 0, vmid < generations.count else { return }
    if UInt64(pages.count) < UInt64(capacity) {
      for page in pages where page >> 36 == 0 {
        let slot = slot(vmid: vmid, page: page)
        if keys[slot] == UInt64(vmid) << 48 | page { keys[slot] = Self.emptyKey }
      }
      return
    }
    for slot in keys.indices where keys[slot] != Self.emptyKey && keys[slot] >> 48 == UInt64(vmid)
      && pages.contains(keys[slot] & bitMask(high: 35, low: 0)) {
      keys[slot] = Self.emptyKey
    }
  }

  /// Drops everything (STLBIALL / TLBIALLNSNH at `arm_smmu_device_reset()`).
  public mutating func invalidateAll() {
    for slot in keys.indices { keys[slot] = Self.emptyKey }
  }

  /// Every live entry, for coherence checks: an entry is coherent when the
  /// walk of its page under its VMID's context gives the same output page,
  /// permissions and level.
  public var entries: [(vmid: Int, page: UInt64, entry: CachedStageTwo)] {
    keys.indices.compactMap { slot in
      let key = keys[slot]
      guard key != Self.emptyKey else { return nil }
      let vmid = Int(key >> 48)
      guard stamps[slot] == generations[vmid] else { return nil }
      return (vmid, key & bitMask(high: 35, low: 0), CachedStageTwo(packed: values[slot]))
    }
  }
}

/// One cached stage-2 translation of a 4K page.
public struct CachedStageTwo: Hashable, Sendable, CustomStringConvertible {
  let packed: UInt64

  init(packed: UInt64) { self.packed = packed }

  /// An entry as the full path decodes it.
  init(_ entry: IOTLBEntryWords<UInt64>) {
    packed = entry.outputPage | (entry.read ? 1 << 6 : 0) | (entry.write ? 1 << 7 : 0) | entry.level << 60
  }

  /// The output page's machine address.
  public var outputPage: UInt64 { packed & bitMask(high: 47, low: 12) }
  public var read: Bool { packed & 1 << 6 != 0 }
  public var write: Bool { packed & 1 << 7 != 0 }
  /// The level of the leaf that translated (1, 2 or 3).
  public var level: Int { Int(truncatingIfNeeded: packed >> 60 & 3) }

  public var description: String {
    "\(hex(outputPage)) \(read ? "r" : "-")\(write ? "w" : "-") L\(level)"
  }
}
