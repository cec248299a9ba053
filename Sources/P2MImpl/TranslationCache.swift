import Spec

/// A software TLB for stage-2 translations, tagged by VMID: the concrete
/// fast path in front of the walk.
///
/// It follows the architectural rules of fact sheet §7.3: only walks that
/// translated are cached (translation, address-size and access-flag faults
/// are never cached; permission faults could be, but are not filled here),
/// and an entry stays until invalidated by VMID (`tlbi vmalls12e1is`, what
/// Xen's `flush_guest_tlb()` issues) or by IPA range (`tlbi ipas2e1is`). A
/// hit that the cached permissions forbid is a permission fault at the
/// cached level, as a TLB holding that entry would report.
///
/// Entries are per 4K page, direct-mapped: slot = (page ^ vmid·k) mod
/// capacity, so a hit is one load and one compare. A superpage fills one
/// entry per page looked up; the hardware's block entries are an
/// optimisation this model does not need.
public struct TranslationCache: Sendable {
  /// `vmid << 48 | page`, or `emptyTag`. Pages are below 2^36.
  @usableFromInline var tags: ContiguousArray<UInt64>
  /// The leaf descriptor with its base replaced by the page's output frame
  /// and the leaf level in bits 61:60 (RES0/sbz in Xen's layout, §1.2).
  @usableFromInline var values: ContiguousArray<UInt64>
  @usableFromInline let mask: Int

  @usableFromInline static let emptyTag = UInt64.max

  /// - Parameter capacity: entries, rounded up to a power of two (at least 1).
  public init(capacity: Int = 4096) {
    var size = 1
    while size < capacity { size <<= 1 }
    tags = ContiguousArray(repeating: Self.emptyTag, count: size)
    values = ContiguousArray(repeating: 0, count: size)
    mask = size - 1
  }

  public var capacity: Int { mask + 1 }

  @inlinable
  static func tag(vmid: UInt16, page: UInt64) -> UInt64 { UInt64(vmid) << 48 | page }

  @inlinable
  func slot(vmid: UInt16, page: UInt64) -> Int {
    Int(truncatingIfNeeded: page ^ (UInt64(vmid) &* 0x9E37)) & mask
  }

  /// The cached translation of the page containing `ipa` for `vmid`.
  @inlinable
  public func lookup(vmid: UInt16, ipa: UInt64) -> CachedTranslation? {
    let page = ipa >> pageShift
    let slot = slot(vmid: vmid, page: page)
    guard tags[slot] == Self.tag(vmid: vmid, page: page) else { return nil }
    return CachedTranslation(packed: values[slot])
  }

  /// Caches a walk's successful translation of `ipa`; anything else is not
  /// cached (§7.3).
  public mutating func fill(vmid: UInt16, ipa: UInt64, outcome: WalkOutcome<UInt64>) {
    guard !outcome.faulted, ipa >> 48 == 0 else { return }
    let page = ipa >> pageShift
    let slot = slot(vmid: vmid, page: page)
    tags[slot] = Self.tag(vmid: vmid, page: page)
    var packed = outcome.outputAddress & bitMask(high: 47, low: 12)
    packed |= outcome.read ? 1 << 6 : 0
    packed |= outcome.write ? 1 << 7 : 0
    packed |= outcome.executeNever ? 1 << 54 : 0
    packed |= (outcome.softwareType & 0xF) << 55
    packed |= (outcome.level & 3) << 60
    values[slot] = packed
  }

  /// Drops every entry of `vmid` (`tlbi vmalls12e1is`).
  public mutating func invalidate(vmid: UInt16) {
    for slot in tags.indices where tags[slot] != Self.emptyTag && tags[slot] >> 48 == UInt64(vmid) {
      tags[slot] = Self.emptyTag
    }
  }

  /// Drops the entries of `vmid` for the pages in `gfns` (`tlbi ipas2e1is`
  /// over the range).
  public mutating func invalidate(vmid: UInt16, gfns: Range<UInt64>) {
    if UInt64(gfns.count) < UInt64(capacity) {
      for page in gfns {
        let slot = slot(vmid: vmid, page: page)
        if tags[slot] == Self.tag(vmid: vmid, page: page) { tags[slot] = Self.emptyTag }
      }
      return
    }
    for slot in tags.indices where tags[slot] != Self.emptyTag && tags[slot] >> 48 == UInt64(vmid)
      && gfns.contains(tags[slot] & bitMask(high: 47, low: 0)) {
      tags[slot] = Self.emptyTag
    }
  }

  /// Drops everything (`tlbi alle1is`).
  public mutating func invalidateAll() {
    for slot in tags.indices { tags[slot] = Self.emptyTag }
  }

  /// Every valid entry as (vmid, page, translation), for coherence checks.
  public var entries: [(vmid: UInt16, page: UInt64, translation: CachedTranslation)] {
    tags.indices.compactMap { slot in
      tags[slot] == Self.emptyTag ? nil
        : (UInt16(tags[slot] >> 48), tags[slot] & bitMask(high: 47, low: 0), CachedTranslation(packed: values[slot]))
    }
  }
}

/// One cached stage-2 translation of a 4K page.
public struct CachedTranslation: Hashable, Sendable {
  @usableFromInline let packed: UInt64

  @inlinable init(packed: UInt64) { self.packed = packed }

  /// The level of the leaf that translated (1, 2 or 3).
  @inlinable public var level: Int { Int(truncatingIfNeeded: packed >> 60 & 3) }
  /// S2AP and XN of the leaf.
  @inlinable public var permissions: Permissions {
    Permissions(read: packed & 1 << 6 != 0, write: packed & 1 << 7 != 0, execute: packed & 1 << 54 == 0)
  }
  /// The leaf's software type, if it is a `p2m_type_t`.
  @inlinable public var type: P2MType? { P2MType(rawValue: UInt8(truncatingIfNeeded: packed >> 55 & 0xF)) }

  /// What a lookup of `ipa` for `access` gives through this entry: the
  /// output address, or a permission fault at the cached level.
  @inlinable
  public func result(ipa: UInt64, access: Access) -> WalkResult {
    let allowed = access == .read ? packed & 1 << 6 != 0 : packed & 1 << 7 != 0
    guard allowed else { return .fault(StageTwoFault(kind: .permission, level: level)) }
    return .translated(
      address: packed & bitMask(high: 47, low: 12) | ipa & (pageSize - 1), level: level, permissions: permissions, type: type)
  }
}
