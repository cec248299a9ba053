/// The hypervisor's state, as far as dom0 DMA depends on it: host memory and
/// its owners, the coloured allocator, and each domain's p2m and maptrack.
///
/// A value: every operation is a `mutating` method, and a copy is a
/// snapshot. Operations are in the files of their concept:
/// ``createDomain(_:memory:iommuEnabled:)`` (DomainMemory.swift),
/// ``mapGrant(from:gfn:into:at:writable:)`` and ``unmapGrant(_:of:)``
/// (GrantTable.swift), ``addToPhysmapForeign(caller:foreign:gfn:at:)`` and
/// ``removeFromPhysmap(_:gfn:)`` (ForeignMapping.swift).
public struct XenState: Hashable, Sendable {
  public let version: XenVersion
  /// `p2m_ipa_bits`, the same for every domain (§1.3).
  public let ipaBits: Int
  public internal(set) var host: HostMemory
  /// The coloured allocator when LLC colouring is on, else nil.
  public internal(set) var allocator: ColouredAllocator?
  public internal(set) var domains: [DomainID: DomainState] = [:]

  /// The IPA sizes of Xen's `pa_range_info` that a 4K-granule p2m uses (§1.3).
  public static let ipaSizes = [32, 36, 40, 42, 44, 48]

  /// A host with no domains yet.
  ///
  /// - Parameter colouring: LLC colouring, or nil for off. With colouring,
  ///   every RAM frame outside the coloured heap belongs to Xen.
  /// - Throws: ``XenError`` for an IPA size Xen does not use, bad RAM banks,
  ///   colouring on a release without it, or a bad colour count.
  public init(version: XenVersion, ipaBits: Int, ram: [MemoryBank], colouring: LLCColouring? = nil) throws(XenError) {
    guard Self.ipaSizes.contains(ipaBits) else {
      throw .invalidConfiguration("Xen's p2m does not use a \(ipaBits)-bit IPA size; use one of \(Self.ipaSizes)")
    }
    self.version = version
    self.ipaBits = ipaBits
    let plain = try HostMemory(banks: ram)
    guard let colouring else {
      host = plain
      return
    }
    guard version.hasLLCColouring else { throw .unsupported("LLC colouring", version: version) }
    let regions = colouring.heapRegions ?? plain.banks
    for region in regions where !plain.banks.contains(where: { $0.start <= region.start && region.end <= $0.end }) {
      throw .invalidHostRAM("coloured heap region \(region) is not inside one RAM bank")
    }
    let allocator = try ColouredAllocator(
      colourCount: colouring.colourCount, regions: regions, buddyReservePages: colouring.buddyReservePages)
    let outsideHeap = plain.banks.flatMap { $0.subtracting(regions) }
    host = try HostMemory(banks: ram, xenRanges: outsideHeap + allocator.buddyRanges)
    self.allocator = allocator
  }

  /// The domain's state.
  /// - Throws: ``XenError/noSuchDomain(_:)``.
  public func domain(_ id: DomainID) throws(XenError) -> DomainState {
    guard let state = domains[id] else { throw .noSuchDomain(id) }
    return state
  }

  /// A raw p2m update, for scenarios that inject entries Xen's hypercalls
  /// would not make (`p2m <domain> map|unmap`). Ownership is not updated.
  public mutating func updateP2M<R>(
    of id: DomainID, _ change: (inout ReferenceP2M) throws(P2MError) -> R
  ) throws(XenError) -> R {
    try modifyDomain(id) { domain throws(XenError) in
      do throws(P2MError) { return try change(&domain.p2m) } catch { throw .p2m(id, error) }
    }
  }

  /// Runs `body` on the domain in place. The domain is taken out of the
  /// dictionary meanwhile, so its p2m is not copied; whatever `body` changed
  /// before throwing is kept, as in Xen.
  mutating func modifyDomain<R>(_ id: DomainID, _ body: (inout DomainState) throws(XenError) -> R) throws(XenError) -> R {
    guard var domain = domains.removeValue(forKey: id) else { throw .noSuchDomain(id) }
    defer { domains[id] = domain }
    return try body(&domain)
  }
}

/// LLC colouring configuration (§5): `llc-coloring=on` with N colours.
public struct LLCColouring: Hashable, Sendable {
  /// N = way size / page size.
  public var colourCount: Int
  /// The regions that reach the coloured heap (see
  /// ``ColouredAllocator/init(colourCount:regions:buddyReservePages:)``);
  /// nil means all host RAM.
  public var heapRegions: [MemoryBank]?
  /// The `buddy-alloc-size` budget in pages; 0 in the model by default.
  public var buddyReservePages: UInt64

  public init(colourCount: Int, heapRegions: [MemoryBank]? = nil, buddyReservePages: UInt64 = 0) {
    self.colourCount = colourCount
    self.heapRegions = heapRegions
    self.buddyReservePages = buddyReservePages
  }
}

/// One domain: how its RAM was built, its p2m and its maptrack.
public struct DomainState: Hashable, Sendable {
  public let id: DomainID
  public let memory: RAMPlacement
  /// `is_iommu_enabled(d)`: whether the domain has an IOMMU context (for
  /// dom0, the `iommu` setting; §1.6).
  public let iommuEnabled: Bool
  /// The domain's p2m, which on Arm is also its SMMU stage-2 table (§1.6).
  public internal(set) var p2m: ReferenceP2M
  /// The active grant mappings this domain made (its `maptrack`), by handle.
  public internal(set) var maptrack: [GrantHandle: GrantMapping] = [:]
  var nextHandle = 0

  init(id: DomainID, memory: RAMPlacement, iommuEnabled: Bool, ipaBits: Int) {
    self.id = id
    self.memory = memory
    self.iommuEnabled = iommuEnabled
    p2m = ReferenceP2M(ipaBits: ipaBits)
  }

  /// `is_domain_direct_mapped(d)` (§2.3). Before 4.17 it means "is the
  /// hardware domain", which is the same thing here: ``XenState`` only
  /// builds direct-mapped domUs from 4.17 and dom0 is direct-mapped unless
  /// coloured, which needs 4.20.
  public var isDirectMapped: Bool {
    if case .directMapped = memory { true } else { false }
  }

  /// The domain's LLC colours, or nil if it is not coloured.
  public var colours: [Int]? {
    switch memory {
    case .colouredHostLayout(let colours, _), .coloured(let colours, _, _): colours
    case .directMapped, .fixed: nil
    }
  }

  /// The guest-physical ranges of the domain's own RAM, as built.
  public var ram: [GuestBank] { memory.guestBanks }
}

extension MemoryBank {
  /// The parts of this bank not covered by `others`, ascending.
  func subtracting(_ others: [MemoryBank]) -> [MemoryBank] {
    var pieces: [MemoryBank] = []
    var cursor = start.rawValue
    for other in others.sorted(by: { $0.start < $1.start }) where other.end.rawValue > cursor && other.start < end {
      if other.start.rawValue > cursor {
        pieces.append(MemoryBank(start: MFN(cursor), pages: other.start.rawValue - cursor))
      }
      cursor = max(cursor, other.end.rawValue)
    }
    if cursor < end.rawValue { pieces.append(MemoryBank(start: MFN(cursor), pages: end.rawValue - cursor)) }
    return pieces
  }
}

extension DomainState {
  /// `guest_physmap_add_entry()` → `p2m_set_entry()` on this domain's p2m.
  mutating func physmapAdd(_ gfn: GFN, count: UInt64 = 1, to mfn: MFN, type: P2MType) throws(XenError) {
    do { try p2m.map(gfn, count: count, to: mfn, type: type) } catch { throw .p2m(id, error) }
  }
}
