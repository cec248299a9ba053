import SMMUImpl
import Solver
import Spec
import SymbolicWord

/// One SMMU's IOTLB as Z3 words: every slot and every VMID's generation
/// is unconstrained until the coherence invariant says otherwise, so a
/// claim over it holds for every IOTLB state (Hyperkernel's and Serval's
/// inductive form, DESIGN.md §4). The world the generic maintenance
/// (``iotlbFill(_:vmid:ipa:outputAddress:read:write:level:)``,
/// ``iotlbInvalidate(_:vmid:)``, ``iotlbFlushDomain(_:domain:contexts:)``,
/// the VMID claim and release) runs in for `smmu.coherence`.
///
/// The capacity is symbolic too (any power of two up to 2^24, through the
/// slot mask), and so is the number of VMIDs the IOTLB can tag.
struct SymbolicIOTLB: IOTLBWords, Mergeable {
  typealias W = SymbolicWord

  var keys: (SymbolicWord) -> SymbolicWord
  var values: (SymbolicWord) -> SymbolicWord
  var stamps: (SymbolicWord) -> SymbolicWord
  var generations: (SymbolicWord) -> SymbolicWord
  let vmidLimitWord: SymbolicWord
  let mask: SymbolicWord

  init(prefix: String, session: ProofSession) throws {
    keys = try session.wordArray("\(prefix).key")
    values = try session.wordArray("\(prefix).value")
    stamps = try session.wordArray("\(prefix).stamp")
    generations = try session.wordArray("\(prefix).generation")
    vmidLimitWord = try session.word("\(prefix).vmids")
    mask = try session.word("\(prefix).mask")
  }

  /// The IOTLB `arm_smmu_device_reset()` leaves (STLBIALL): every slot
  /// empty, as ``IOTLB/init(capacity:vmidBits:)`` builds it.
  mutating func reset() {
    let empty = vmidLimitWord.constant(.max)
    keys = { _ in empty }
    let zero = vmidLimitWord.constant(0)
    generations = { _ in zero }
  }

  /// The IOTLB's own bounds: a capacity that is a power of two up to 2^24,
  /// 2^8 or 2^16 VMIDs (``IOTLB/init(capacity:vmidBits:)``).
  var shape: [SymbolicBool] {
    [(mask & (mask &+ 1)) == 0, mask < 1 << 24, vmidLimitWord == 1 << 8 || vmidLimitWord == 1 << 16]
  }

  func slotIndex(vmid: SymbolicWord, page: SymbolicWord) -> SymbolicWord {
    iotlbSlotIndex(vmid: vmid, page: page, mask: mask)
  }

  func slotWords(at index: SymbolicWord) -> IOTLBSlot<SymbolicWord> {
    IOTLBSlot(key: keys(index), value: values(index), stamp: stamps(index))
  }

  mutating func storeSlot(at index: SymbolicWord, _ words: IOTLBSlot<SymbolicWord>) {
    let (oldKeys, oldValues, oldStamps) = (keys, values, stamps)
    keys = { at in .select(at == index, words.key, oldKeys(at)) }
    values = { at in .select(at == index, words.value, oldValues(at)) }
    stamps = { at in .select(at == index, words.stamp, oldStamps(at)) }
  }

  func generationWord(of vmid: SymbolicWord) -> SymbolicWord { generations(vmid) }

  mutating func storeGeneration(_ generation: SymbolicWord, of vmid: SymbolicWord) {
    let old = generations
    generations = { at in .select(at == vmid, generation, old(at)) }
  }

  mutating func clearSlots(taggedWith vmid: SymbolicWord) {
    let old = keys
    keys = { at in
      let key = old(at)
      return .select(key != UInt64.max && (key >> 48) == vmid, key.constant(.max), key)
    }
  }

  mutating func when(_ condition: SymbolicBool, _ body: (inout SymbolicIOTLB) -> Void) { merging(condition, body) }

  static func select(_ condition: SymbolicBool, _ whenTrue: SymbolicIOTLB, _ whenFalse: SymbolicIOTLB) -> SymbolicIOTLB {
    var merged = whenFalse
    merged.keys = { at in .select(condition, whenTrue.keys(at), whenFalse.keys(at)) }
    merged.values = { at in .select(condition, whenTrue.values(at), whenFalse.values(at)) }
    merged.stamps = { at in .select(condition, whenTrue.stamps(at), whenFalse.stamps(at)) }
    merged.generations = { at in .select(condition, whenTrue.generations(at), whenFalse.generations(at)) }
    return merged
  }
}

/// The translation every domain's p2m gives each page, as one Z3 array
/// indexed `domain << 36 | page` (domains below 2^16, pages below 2^36):
/// bit 63 set when the walk translates, then the fields an IOTLB entry
/// caches — output page (bits 47:12), S2AP read and write (bits 6, 7),
/// the leaf's level (bits 61:60). Unconstrained: the coherence claims hold
/// for whatever the tables say; that a p2m update changes only its own
/// domain's tables, and flushes whenever it changes a translation, is
/// `p2m.step`'s IOTLB part.
struct SymbolicTranslations {
  var lookup: (SymbolicWord) -> SymbolicWord

  init(_ name: String, session: ProofSession) throws {
    lookup = try session.wordArray(name)
  }

  func of(domain: SymbolicWord, page: SymbolicWord) -> SymbolicWord { lookup(domain << 36 | page) }

  /// `domain`'s translations replaced by `other`'s, every other domain's kept.
  func replacing(domain: SymbolicWord, with other: SymbolicTranslations) -> SymbolicTranslations {
    var result = self
    let (mine, theirs) = (lookup, other.lookup)
    result.lookup = { index in .select((index >> 36) == domain, theirs(index), mine(index)) }
    return result
  }

  /// What a coherent entry holds, in the array's encoding.
  static func encoding(_ entry: IOTLBEntryWords<SymbolicWord>) -> SymbolicWord {
    let zero = entry.page.constant(0)
    return entry.outputPage | .select(entry.read, zero.constant(1 << 6), zero) | .select(entry.write, zero.constant(1 << 7), zero)
      | (entry.level << 60) | zero.constant(1 << 63)
  }
}

/// One SMMU: its IOTLB and a bounded table of translation contexts (an
/// SMMUv2's context banks, whose VMID is `cbndx + 1`; an SMMUv3's S2
/// configurations, whose S2VMID comes from the SMMU's bitmap).
struct SymbolicSMMU {
  typealias Version = XenSMMUDriver

  var iotlb: SymbolicIOTLB
  var contexts: [ContextWords<SymbolicWord>]
  let version: Version

  /// Contexts per SMMU in the claims: enough for two domains and a free
  /// one, so allocation, reuse and release all occur.
  static let contextCount = 3

  init(prefix: String, version: Version, session: ProofSession) throws {
    iotlb = try SymbolicIOTLB(prefix: prefix, session: session)
    self.version = version
    contexts = try (0..<Self.contextCount).map { index in
      ContextWords(
        live: try SymbolicBool.variable("\(prefix).context\(index).live", in: session.context),
        domain: try session.word("\(prefix).context\(index).domain"),
        vmid: version == .v2
          ? session.constant(UInt64(SMMUv2Registers.vmid(ofContextBank: index)))
          : try session.word("\(prefix).context\(index).vmid"))
    }
  }

  /// The contexts' invariant: live contexts' domains below 2^16, their VMIDs taggable
  /// (at least 1, below the IOTLB's limit — an SMMUv3's S2VMID 0 is never
  /// handed out) and distinct; every generation Xen can reach is 32-bit.
  var contextInvariant: [SymbolicBool] {
    var facts: [SymbolicBool] = []
    for (index, context) in contexts.enumerated() {
      facts.append(context.live.implies(context.domain >> 16 == 0 && context.vmid >= 1 && context.vmid < iotlb.vmidLimitWord))
      facts.append(iotlb.generations(context.vmid) >> 32 == 0)
      for other in contexts[(index + 1)...] {
        facts.append((context.live && other.live).implies(context.vmid != other.vmid))
      }
    }
    return facts
  }

  /// The live entry in slot `slot`, decoded as the full path decodes it.
  func entry(at slot: SymbolicWord) -> (key: SymbolicWord, stamp: SymbolicWord, live: SymbolicBool, entry: IOTLBEntryWords<SymbolicWord>) {
    let words = iotlb.slotWords(at: slot)
    let (live, entry) = words.entry(generationOfItsVMID: iotlb.generations(words.key >> 48))
    return (words.key, words.stamp, live, entry)
  }

  /// Coherence at `slot` (asserted at a fresh slot, so for all slots): a
  /// non-empty key names a page below 2^36 and a taggable VMID, its stamp
  /// is not ahead of its VMID's generation (a later invalidation then
  /// kills it), that generation is 32-bit, and a live entry's VMID belongs
  /// to a live context whose domain's tables translate the page exactly
  /// as cached — output page, S2AP and level.
  func coherent(at slot: SymbolicWord, translations: SymbolicTranslations) -> SymbolicBool {
    let (key, stamp, live, entry) = self.entry(at: slot)
    let generation = iotlb.generations(key >> 48)
    let filled = key != UInt64.max
    let shape = filled.implies((key >> 36) & 0xFFF == 0 && (key >> 48) < iotlb.vmidLimitWord && stamp <= generation && generation >> 32 == 0)
    var owned = live.constant(false)
    for context in contexts {
      owned = owned || (context.live && context.vmid == entry.vmid
        && translations.of(domain: context.domain, page: entry.page) == SymbolicTranslations.encoding(entry))
    }
    return shape && live.implies(owned)
  }
}
