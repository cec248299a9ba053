/// The result of translating one IPA through a domain's stage-2 tables.
public enum StageTwoTranslation: Hashable, Sendable, CustomStringConvertible {
  case translated(pa: UInt64)
  case fault(StageTwoFault)

  public var description: String {
    switch self {
    case .translated(let pa): "pa \(hex(pa))"
    case .fault(let fault): "\(fault.kind) fault at level \(fault.level)"
    }
  }
}

/// How the SMMU translates an IPA for a context attached to a domain.
///
/// The DMA semantics take this as a parameter, so that the architectural
/// walk over descriptor memory (DESIGN.md §2) can be plugged in; tests use
/// ``referenceStageTwoTranslator(p2ms:)``. The p2m is the SMMU's table on
/// Arm (`iommu_use_hap_pt`, §1.6), so the domain names the tables.
public typealias StageTwoTranslator = (DomainID, _ ipa: UInt64, Access) -> StageTwoTranslation

/// A p2m entry as words: what ``referenceStageTwo(ipa:gfnLimit:entry:access:)``
/// reads, concretely from a ``ReferenceP2M`` and symbolically from a p2m
/// whose entries are terms.
public struct P2MEntryWord<W: Word>: Mergeable {
  /// There is an entry of a valid type.
  public var mapped: W.Condition
  /// Its descriptor's hardware valid bit (Set/Way tracking clears it, §1.2).
  public var hardwareValid: W.Condition
  public var readable: W.Condition
  public var writable: W.Condition
  public var mfn: W

  public init(mapped: W.Condition, hardwareValid: W.Condition, readable: W.Condition, writable: W.Condition, mfn: W) {
    self.mapped = mapped
    self.hardwareValid = hardwareValid
    self.readable = readable
    self.writable = writable
    self.mfn = mfn
  }

  /// No entry.
  public static func none(_ placeholder: W) -> Self {
    let no = placeholder.condition(false)
    return Self(mapped: no, hardwareValid: no, readable: no, writable: no, mfn: placeholder)
  }

  public static func select(_ condition: W.Condition, _ whenTrue: Self, _ whenFalse: Self) -> Self {
    Self(
      mapped: .select(condition, whenTrue.mapped, whenFalse.mapped),
      hardwareValid: .select(condition, whenTrue.hardwareValid, whenFalse.hardwareValid),
      readable: .select(condition, whenTrue.readable, whenFalse.readable),
      writable: .select(condition, whenTrue.writable, whenFalse.writable),
      mfn: .select(condition, whenTrue.mfn, whenFalse.mfn))
  }
}

extension ReferenceP2M {
  /// The entry at `gfn` as words.
  public func entryWord(at gfn: UInt64) -> P2MEntryWord<UInt64> {
    guard let entry = lookup(GFN(gfn)) else { return .none(gfn) }
    return P2MEntryWord(
      mapped: true, hardwareValid: entry.hardwareValid, readable: entry.permissions.read,
      writable: entry.permissions.write, mfn: entry.mfn.rawValue)
  }
}

/// The stage-2 translation of `ipa` through a p2m without tables (the
/// reference semantics the architectural walk is proved against), over
/// ``Word``: in range of the root (`ipa >> ipaBits == 0`, §1.3), an entry
/// that is type- and hardware-valid, an access its type permits; then the
/// entry's MFN with the IPA's page offset.
public struct StageTwoOutcome<W: Word> {
  public var inRange: W.Condition
  /// In range, and the entry is mapped and hardware-valid.
  public var entryValid: W.Condition
  /// ... and the access is permitted.
  public var translated: W.Condition
  public var pa: W
}

///
/// The root's reach is `gfnLimit`, 2^(ipaBits − 12) pages
/// (``ReferenceP2M/gfnLimit``), a word so that a proof can leave the
/// platform's IPA size open (32 to 48 bits, `p2m_restrict_ipa_bits()`).
public func referenceStageTwo<W: Word>(
  ipa: W, gfnLimit: W, entry: (W) -> P2MEntryWord<W>, access: Access
) -> StageTwoOutcome<W> {
  let inRange = ipa >> pageShift < gfnLimit
  let found = entry(ipa >> pageShift)
  let valid = inRange && found.mapped && found.hardwareValid
  let permitted = access == .read ? found.readable : found.writable
  return StageTwoOutcome(
    inRange: inRange, entryValid: valid, translated: valid && permitted,
    pa: (found.mfn << pageShift) | (ipa & (pageSize - 1)))
}

/// A stage-2 translator read off reference p2ms: no tables, no levels.
///
/// - An IPA at or above 2^ipaBits: translation fault at level 0
///   (`p2m_get_root_pointer()` has no root for it, §1.3; level per §7.2
///   **[uncertain]**).
/// - No entry, or an entry whose hardware valid bit is 0 (Set/Way
///   tracking, §1.2): translation fault.
/// - An access the type's permissions forbid (`p2m_set_permission()`,
///   §1.1): permission fault.
/// - Otherwise the entry's MFN with the IPA's page offset.
///
/// Faults other than the out-of-range one are reported at level 3
/// **[derived: the reference p2m has no levels; where the architectural
/// walk stops depends on which tables exist, so a comparison with it
/// must not compare levels]**. A domain with no p2m faults at level 0.
public func referenceStageTwoTranslator(p2ms: [DomainID: ReferenceP2M]) -> StageTwoTranslator {
  { domain, ipa, access in
    guard let p2m = p2ms[domain] else { return .fault(StageTwoFault(kind: .translation, level: 0)) }
    let outcome = referenceStageTwo(ipa: ipa, gfnLimit: p2m.gfnLimit, entry: { p2m.entryWord(at: $0) }, access: access)
    guard outcome.inRange else { return .fault(StageTwoFault(kind: .translation, level: 0)) }
    guard outcome.entryValid else { return .fault(StageTwoFault(kind: .translation, level: 3)) }
    guard outcome.translated else { return .fault(StageTwoFault(kind: .permission, level: 3)) }
    return .translated(pa: outcome.pa)
  }
}
