/// One mapping of the reference p2m: what `p2m_get_entry()` reports for a
/// GFN (fact sheet §1.4), without the table structure.
public struct P2MEntry: Hashable, Sendable, CustomStringConvertible {
  public var mfn: MFN
  public var type: P2MType
  /// The descriptor's hardware valid bit (`lpae_is_valid`). Xen leaves it 0
  /// on type-valid entries to track Set/Way emulation (§1.2); such an entry
  /// faults on translation until `p2m_resolve_translation_fault()` sets it.
  public var hardwareValid: Bool

  public init(mfn: MFN, type: P2MType, hardwareValid: Bool = true) {
    self.mfn = mfn
    self.type = type
    self.hardwareValid = hardwareValid
  }

  public var permissions: Permissions { type.permissions }

  public var description: String {
    "\(mfn) \(type.xenName)" + (hardwareValid ? "" : " (hw-invalid)")
  }
}

/// Consecutive GFNs mapped by one `p2m_set_entry` of several pages get
/// consecutive MFNs, so a bank is one run of the p2m's ``RunMap``.
extension P2MEntry: RunValue {
  public func advanced(by pages: UInt64) -> P2MEntry {
    P2MEntry(mfn: mfn.advanced(by: pages), type: type, hardwareValid: hardwareValid)
  }
}

/// Why a p2m update was refused.
public enum P2MError: Error, Hashable, Sendable, CustomStringConvertible {
  /// The GFN is beyond what the root tables cover: `p2m_get_root_pointer()`
  /// returns NULL (XSA-301), so the update is refused instead of aliasing.
  case gfnOutOfRange(GFN, ipaBits: Int)
  /// `p2m_set_entry` on a dying domain returns −ENOMEM (XSA-410, `3ebe773293`).
  case domainDying
  /// `p2m_remove_mapping()` refuses (−EILSEQ) to remove an `any_ram` entry
  /// whose MFN differs from the one named (`5a4a2cef08`, 2022).
  case mfnMismatch(GFN, expected: MFN, found: MFN)

  public var description: String {
    switch self {
    case .gfnOutOfRange(let gfn, let bits): "\(gfn) is outside the \(bits)-bit IPA space"
    case .domainDying: "the domain is dying"
    case .mfnMismatch(let gfn, let expected, let found): "\(gfn) maps \(found), not \(expected)"
    }
  }
}

/// The reference p2m of one domain: a partial map GFN → entry, updated as
/// `p2m_set_entry` would update it, with no tables, levels or TLBs (DESIGN.md
/// §2). The optimized tables of `P2MImpl` are checked against this.
public struct ReferenceP2M: Hashable, Sendable {
  /// The IPA size (`p2m_ipa_bits`, §1.3); GFNs at or above 2^(ipaBits−12)
  /// have no root entry.
  public let ipaBits: Int
  /// The map GFN → entry, kept as runs of consecutive GFNs mapping
  /// consecutive MFNs with one type: memory and time follow the number of
  /// runs, not of pages, so a direct-mapped dom0 of any size is a few runs.
  public private(set) var mappings = RunMap<P2MEntry>()
  /// The map GFN → entry, one element per mapped page: for small p2ms
  /// (tests, proofs, the fuzzer); large ones are read through
  /// ``mappings`` or ``lookup(_:)``.
  public var entries: [GFN: P2MEntry] {
    var entries = [GFN: P2MEntry](minimumCapacity: Int(mappings.count))
    for (gfn, entry) in mappings.elements { entries[GFN(gfn)] = entry }
    return entries
  }
  /// Highest GFN ever mapped (`max_mapped_gfn`, highest mapped, not +1 since
  /// XSA-301); nil while nothing has been mapped.
  public private(set) var maxMappedGFN: GFN?
  /// Lowest GFN ever mapped (`lowest_mapped_gfn`).
  public private(set) var lowestMappedGFN: GFN?
  /// Set once the domain starts dying; every later update fails (XSA-410).
  /// [derived] No statement of the model makes a domain die, so the
  /// refusal is not keyed on the release (`3ebe773293` is in 4.17.0 and
  /// the 4.15.4 and 4.16.3 backports).
  public var isDying = false
  /// Whether a removal clears hardware-invalid entries too
  /// (``XenVersion/zeroesRemovedHardwareInvalidEntries``, XSA-393); the
  /// domain's release sets it.
  public var zeroesHardwareInvalidOnRemoval = true

  /// - Precondition: `ipaBits` is one of Xen's `pa_range_info` sizes.
  public init(ipaBits: Int) {
    precondition([32, 36, 40, 42, 44, 48].contains(ipaBits), "unsupported IPA size \(ipaBits)")
    self.ipaBits = ipaBits
  }

  /// Number of GFNs the root tables cover.
  public var gfnLimit: UInt64 { 1 << UInt64(ipaBits - pageShift) }

  /// `p2m_lookup()`: the entry at `gfn`, if its type is valid.
  public func lookup(_ gfn: GFN) -> P2MEntry? { mappings[gfn.rawValue] }

  /// `p2m_set_entry(gfn, nr, mfn, t)` for an insertion or replacement of
  /// `count` pages: each GFN gets the next MFN, replacing whatever was
  /// there (§1.5 step 4). The whole request is checked first, so a refusal
  /// changes nothing.
  public mutating func map(_ gfn: GFN, count: UInt64 = 1, to mfn: MFN, type: P2MType, hardwareValid: Bool = true) throws(P2MError) {
    precondition(type != .invalid, "mapping with type invalid is a removal; call unmap")
    try checkUpdate(gfn, count: count)
    mappings.set(gfn.rawValue, count: count, to: P2MEntry(mfn: mfn, type: type, hardwareValid: hardwareValid))
    noteMapped(gfn, count: count)
  }

  /// `p2m_set_entry(gfn, nr, INVALID_MFN, p2m_invalid)`: removal. Since
  /// XSA-393 a removal clears the entry even when its hardware valid bit
  /// is 0, so nothing of it survives; before (RELEASE-4.16.0
  /// `__p2m_set_entry()`: "if ( lpae_is_valid(orig_pte) )
  /// p2m_remove_pte(…)") such an entry keeps its type and frame.
  public mutating func unmap(_ gfn: GFN, count: UInt64 = 1) throws(P2MError) {
    try checkUpdate(gfn, count: count)
    var survivors: [RunMap<P2MEntry>.Run] = []
    if !zeroesHardwareInvalidOnRemoval {
      let end = gfn.rawValue &+ count
      for run in mappings.runs[mappings.firstRun(endingAfter: gfn.rawValue)...] {
        guard run.start < end else { break }
        guard !run.first.hardwareValid else { continue }
        let start = Swift.max(run.start, gfn.rawValue)
        survivors.append(.init(start: start, count: Swift.min(run.end, end) - start, first: run.value(at: start)))
      }
    }
    mappings.set(gfn.rawValue, count: count, to: nil)
    if !survivors.isEmpty { mappings.insert(disjoint: survivors) }
  }

  /// `p2m_remove_mapping(gfn, nr, mfn)` (Xen ≥ 2022): refuses to remove an
  /// `any_ram` entry that maps another MFN; iommu_map entries are removed
  /// without the check.
  public mutating func remove(_ gfn: GFN, count: UInt64 = 1, expecting mfn: MFN) throws(P2MError) {
    try checkUpdate(gfn, count: count)
    for page in 0..<count {
      let at = gfn.advanced(by: page)
      if let entry = lookup(at), removalMismatch(P2MSlot(entry.type, mfn: entry.mfn.rawValue), expecting: mfn.advanced(by: page).rawValue) {
        throw .mfnMismatch(at, expected: mfn.advanced(by: page), found: entry.mfn)
      }
    }
    mappings.set(gfn.rawValue, count: count, to: nil)
  }

  /// `p2m_resolve_translation_fault()`: sets the hardware valid bit of a
  /// type-valid entry ("No need to flush").
  public mutating func resolveTranslationFault(_ gfn: GFN) {
    guard var entry = lookup(gfn) else { return }
    entry.hardwareValid = true
    mappings.set(gfn.rawValue, count: 1, to: entry)
  }

  /// Set/Way tracking (`p2m_invalidate_root`): clears the hardware valid bit
  /// of every entry, keeping the type. Xen refuses this when the p2m is
  /// shared with the IOMMU (`2b45ff6030`); the model keeps it to show why.
  public mutating func invalidateForSetWay() {
    mappings.transformValues { entry in
      var entry = entry
      entry.hardwareValid = false
      return entry
    }
  }

  func checkUpdate(_ gfn: GFN, count: UInt64) throws(P2MError) {
    if isDying { throw .domainDying }
    let last = gfn.rawValue.addingReportingOverflow(count == 0 ? 0 : count - 1)
    if last.overflow || refusesUpdate(last.partialValue) {
      throw .gfnOutOfRange(last.overflow ? gfn : GFN(last.partialValue), ipaBits: ipaBits)
    }
  }

  /// Whether `p2m_set_entry` refuses to update the one page `gfn`: the
  /// domain is dying (XSA-410) or the GFN has no root entry (XSA-301).
  public func refusesUpdate<W: Word>(_ gfn: W) -> W.Condition {
    gfn.condition(isDying) || Self.beyondRoot(gfn, gfnLimit: gfn.constant(gfnLimit))
  }

  /// Whether the page `gfn` lies at or above `gfnLimit` (2^(ipaBits − 12)),
  /// where the p2m has no root entry (`p2m_get_root_pointer()` returns
  /// NULL; XSA-301), with the limit a word so that a proof can leave the
  /// IPA size open.
  public static func beyondRoot<W: Word>(_ gfn: W, gfnLimit: W) -> W.Condition {
    gfn >= gfnLimit
  }

  /// Why an update of the page `gfn` is refused, if it is.
  public func updateRefusal(_ gfn: GFN) -> P2MError? {
    do { try checkUpdate(gfn, count: 1) } catch { return error }
    return nil
  }

  mutating func noteMapped(_ gfn: GFN, count: UInt64) {
    guard count > 0 else { return }
    let last = gfn.advanced(by: count - 1)
    maxMappedGFN = max(maxMappedGFN ?? last, last)
    lowestMappedGFN = min(lowestMappedGFN ?? gfn, gfn)
  }
}
