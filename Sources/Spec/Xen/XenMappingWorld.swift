/// One p2m entry as words: its type (``P2MType``'s raw value, 0 for none)
/// and frame. What the grant-table and foreign-map operations read and
/// write, concretely in a ``ReferenceP2M`` and symbolically in a p2m whose
/// entries are terms.
public struct P2MSlot<W: Word>: Mergeable {
  public var type: W
  public var mfn: W

  public init(type: W, mfn: W) {
    self.type = type
    self.mfn = mfn
  }

  public init(_ type: P2MType, mfn: W) { self.init(type: mfn.constant(UInt64(type.rawValue)), mfn: mfn) }

  /// No entry.
  public static func invalid(_ context: W) -> Self { Self(type: context.constant(0), mfn: context.constant(0)) }

  /// Whether the type is one of those `predicate` selects: the concrete
  /// predicates of ``P2MType`` lifted to a word, so that they exist once.
  public func typeIs(_ predicate: (P2MType) -> Bool) -> W.Condition {
    var holds = type.condition(false)
    for candidate in P2MType.allCases where predicate(candidate) { holds = holds || type == UInt64(candidate.rawValue) }
    return holds
  }

  public var isValid: W.Condition { type != 0 }

  public static func select(_ condition: W.Condition, _ whenTrue: Self, _ whenFalse: Self) -> Self {
    Self(type: .select(condition, whenTrue.type, whenFalse.type), mfn: .select(condition, whenTrue.mfn, whenFalse.mfn))
  }
}

/// One maptrack entry of a local domain as words (`struct grant_mapping`
/// with the active entry's frame; see ``GrantMapping``). `live` says
/// whether the entry exists; `handle` is its concrete maptrack handle.
public struct GrantMappingWord<W: Word> {
  public var handle: Int
  public var live: W.Condition
  public var granter: DomainID
  public var grantedGFN: W
  public var mfn: W
  public var hostGFN: W
  public var writable: W.Condition

  public init(handle: Int, live: W.Condition, granter: DomainID, grantedGFN: W, mfn: W, hostGFN: W, writable: W.Condition) {
    self.handle = handle
    self.live = live
    self.granter = granter
    self.grantedGFN = grantedGFN
    self.mfn = mfn
    self.hostGFN = hostGFN
    self.writable = writable
  }
}

/// What Xen's grant-table and foreign-map operations read and write:
/// each domain's p2m, who owns a frame, and a local domain's maptrack.
///
/// ``XenState`` is the concrete world; the matrix proofs run the same
/// operations (``grantMapOperation(_:granter:gfn:local:hostGFN:writable:handle:issued:)``
/// and its siblings) over a symbolic one, so the dom0 p2m a proof DMAs
/// through is the one Xen's own code built (DESIGN.md §3).
public protocol XenMappingWorld {
  associatedtype Address: Word

  /// The Xen release: which `gnttab_need_iommu_mapping()` it has.
  var version: XenVersion { get }

  /// Whether the domain exists, is direct-mapped, has an IOMMU context.
  func domainExists(_ domain: DomainID) -> Bool
  func isDirectMapped(_ domain: DomainID) -> Bool
  func isIOMMUEnabled(_ domain: DomainID) -> Bool

  /// The domain's p2m entry at `gfn` (`p2m_get_entry`).
  func p2mEntry(of domain: DomainID, at gfn: Address) -> P2MSlot<Address>
  /// Whether `p2m_set_entry` refuses any update of `gfn` (a dying domain,
  /// a GFN beyond the root: ``ReferenceP2M/refusesUpdate(_:)``).
  func p2mRefusesUpdate(of domain: DomainID, at gfn: Address) -> Address.Condition
  /// `p2m_set_entry(gfn, 1, mfn, type)` (a removal for type invalid), when
  /// `condition` holds; the caller has checked ``p2mRefusesUpdate(of:at:)``.
  mutating func writeP2M(of domain: DomainID, at gfn: Address, _ slot: P2MSlot<Address>, when condition: Address.Condition)

  /// The frame belongs to the domain (`page_get_owner(page) == d`).
  func owns(_ domain: DomainID, _ mfn: Address) -> Address.Condition

  /// The domain's maptrack.
  func maptrack(of domain: DomainID) -> [GrantMappingWord<Address>]
  /// Writes a new maptrack entry, when `condition` holds.
  mutating func addMapping(to domain: DomainID, _ mapping: GrantMappingWord<Address>, when condition: Address.Condition)
  /// Releases the entry `handle`, when `condition` holds.
  mutating func releaseMapping(of domain: DomainID, handle: Int, when condition: Address.Condition)
}

/// The concrete world: the spec's Xen state itself, so the operations
/// change it in place.
extension XenState: XenMappingWorld {
  public typealias Address = UInt64

  public func domainExists(_ domain: DomainID) -> Bool { domains[domain] != nil }
  public func isDirectMapped(_ domain: DomainID) -> Bool { domains[domain]?.isDirectMapped ?? false }
  public func isIOMMUEnabled(_ domain: DomainID) -> Bool { domains[domain]?.iommuEnabled ?? false }

  public func p2mEntry(of domain: DomainID, at gfn: UInt64) -> P2MSlot<UInt64> {
    guard let entry = domains[domain]?.p2m.lookup(GFN(gfn)) else { return .invalid(gfn) }
    return P2MSlot(entry.type, mfn: entry.mfn.rawValue)
  }

  public func p2mRefusesUpdate(of domain: DomainID, at gfn: UInt64) -> Bool {
    domains[domain]?.p2m.refusesUpdate(gfn) ?? true
  }

  public mutating func writeP2M(of domain: DomainID, at gfn: UInt64, _ slot: P2MSlot<UInt64>, when condition: Bool) {
    guard condition, domains[domain] != nil else { return }
    do {
      if let raw = UInt8(exactly: slot.type), let type = P2MType(rawValue: raw), type != .invalid {
        try domains[domain]!.p2m.map(GFN(gfn), to: MFN(slot.mfn), type: type)
      } else {
        try domains[domain]!.p2m.unmap(GFN(gfn))
      }
    } catch {
      assertionFailure("a p2m write the operation checked was refused: \(error)")
    }
  }

  public func owns(_ domain: DomainID, _ mfn: UInt64) -> Bool { host.owner(of: MFN(mfn)) == .domain(domain) }

  public func maptrack(of domain: DomainID) -> [GrantMappingWord<UInt64>] {
    guard let maptrack = domains[domain]?.maptrack else { return [] }
    return maptrack.sorted { $0.key < $1.key }.map { handle, mapping in
      GrantMappingWord(
        handle: handle.rawValue, live: true, granter: mapping.granter, grantedGFN: mapping.grantedGFN.rawValue,
        mfn: mapping.mfn.rawValue, hostGFN: mapping.hostGFN.rawValue, writable: mapping.writable)
    }
  }

  public mutating func addMapping(to domain: DomainID, _ mapping: GrantMappingWord<UInt64>, when condition: Bool) {
    guard condition, domains[domain] != nil else { return }
    domains[domain]!.maptrack[GrantHandle(mapping.handle)] = GrantMapping(
      granter: mapping.granter, grantedGFN: GFN(mapping.grantedGFN), mfn: MFN(mapping.mfn), hostGFN: GFN(mapping.hostGFN),
      writable: mapping.writable)
    domains[domain]!.nextHandle = max(domains[domain]!.nextHandle, mapping.handle + 1)
  }

  public mutating func releaseMapping(of domain: DomainID, handle: Int, when condition: Bool) {
    guard condition else { return }
    domains[domain]?.maptrack[GrantHandle(handle)] = nil
  }
}
