/// A range of a domain's guest-physical RAM.
public struct GuestBank: Hashable, Sendable, CustomStringConvertible {
  public var start: GFN
  public var pages: UInt64
  public init(start: GFN, pages: UInt64) {
    self.start = start
    self.pages = pages
  }
  public var end: GFN { start.advanced(by: pages) }
  public func contains(_ gfn: GFN) -> Bool { gfn >= start && gfn < end }
  public var description: String { "\(hex(start.address))+\(hex(pages * pageSize))" }
}

/// How a domain's RAM is placed in machine memory (§2.3, §5). Every page
/// is mapped `p2m_ram_rw`.
public enum RAMPlacement: Hashable, Sendable {
  /// GFN = MFN over these host ranges: dom0 without colouring
  /// (`allocate_memory_11()`, `CDF_directmap`), or a dom0less `direct-map`
  /// domU (Xen ≥ 4.17).
  case directMapped(banks: [MemoryBank])
  /// Coloured dom0 with the host memory layout (Xen ≥ 4.20): each bank is a
  /// host RAM range used as a guest range; its pages get consecutive GFNs
  /// from the bank's start and MFNs from the coloured allocator, one page at
  /// a time (`allocate_hwdom_memory()` → `allocate_bank_memory()` →
  /// `allocate_domheap_memory()` → `guest_map_pages()`; higher orders fail).
  case colouredHostLayout(colours: [Int], banks: [MemoryBank])
  /// A coloured domU: `pages` consecutive GFNs from `base`, MFNs from the
  /// coloured allocator.
  case coloured(colours: [Int], base: GFN, pages: UInt64)
  /// A domU whose RAM is the given host range, mapped from `base` up. It
  /// stands for a buddy allocation, which the spec does not model (the
  /// caller names the frames); the domain is not direct-mapped even if
  /// `base` equals the range's start, since it has no `CDF_directmap`.
  case fixed(MemoryBank, base: GFN)

  var guestBanks: [GuestBank] {
    switch self {
    case .directMapped(let banks), .colouredHostLayout(_, let banks):
      banks.map { GuestBank(start: GFN($0.start.rawValue), pages: $0.pages) }
    case .coloured(_, let base, let pages):
      [GuestBank(start: base, pages: pages)]
    case .fixed(let bank, let base):
      [GuestBank(start: base, pages: bank.pages)]
    }
  }
}

extension XenState {
  /// Creates a domain and builds its RAM: frames are taken (from the host
  /// ranges named, or from the coloured allocator), recorded as the
  /// domain's, and mapped `ram_rw` in its new p2m.
  ///
  /// What Xen allows (§2.3, §5):
  /// - `.directMapped`: not with colouring on (`create_dom0()` sets
  ///   `CDF_directmap` only `if (!llc_coloring_enabled)`, and `direct-map`
  ///   needs `xen,static-mem`, which colouring refuses); for a domU only from
  ///   4.17.
  /// - `.colouredHostLayout`: dom0 only, colouring on.
  /// - `.coloured`: domUs only (a coloured dom0 keeps the host layout),
  ///   colouring on.
  /// - `.fixed`: domUs only, colouring off (with colouring every domain
  ///   allocation goes through the coloured allocator).
  ///
  /// Colour lists must be non-empty, name existing colours and have at
  /// most as many entries as there are colours; order and repeats are
  /// free, as in Xen (``checkColours(_:of:)``).
  ///
  /// - Throws: ``XenError``; on a throw nothing changes (the build runs on a
  ///   copy).
  public mutating func createDomain(_ id: DomainID, memory: RAMPlacement, iommuEnabled: Bool) throws(XenError) {
    guard domains[id] == nil else { throw .domainExists(id) }
    var next = self
    var domain = DomainState(id: id, memory: memory, iommuEnabled: iommuEnabled, ipaBits: ipaBits)
    domain.p2m.zeroesHardwareInvalidOnRemoval = version.zeroesRemovedHardwareInvalidEntries
    try next.buildRAM(of: &domain)
    next.domains[id] = domain
    self = next
  }

  private mutating func buildRAM(of domain: inout DomainState) throws(XenError) {
    let id = domain.id
    func refuse(_ reason: String) -> XenError { .invalidDomainMemory(id, reason: reason) }
    switch domain.memory {
    case .directMapped(let banks):
      if allocator != nil {
        throw refuse("with LLC colouring no domain is direct-mapped")
      }
      if id != .dom0 && !version.allowsDirectMappedDomU {
        throw .unsupported("direct-mapped domUs (dom0less direct-map)", version: version)
      }
      try checkHostRanges(banks, of: id)
      for bank in banks {
        try host.assign(bank, to: id)
        try domain.physmapAdd(GFN(bank.start.rawValue), count: bank.pages, to: bank.start, type: .ramRW)
      }

    case .colouredHostLayout(let colours, let banks):
      guard id == .dom0 else { throw refuse("only dom0 keeps the host layout when coloured") }
      try checkColours(colours, of: id)
      try checkHostRanges(banks, of: id)
      var taken: [MemoryBank] = []
      for bank in Self.hostLayoutAllocationOrder(banks) {
        for page in 0..<bank.pages {
          try mapColouredPage(&domain, colours: colours, at: GFN(bank.start.rawValue).advanced(by: page), taking: &taken)
        }
      }
      host.assign(allocated: taken, to: id)

    case .coloured(let colours, let base, let pages):
      guard id != .dom0 else { throw refuse("a coloured dom0 keeps the host layout (use colouredHostLayout)") }
      try checkColours(colours, of: id)
      guard pages > 0 else { throw refuse("a domain needs at least one page") }
      var taken: [MemoryBank] = []
      for page in 0..<pages {
        try mapColouredPage(&domain, colours: colours, at: base.advanced(by: page), taking: &taken)
      }
      host.assign(allocated: taken, to: id)

    case .fixed(let bank, let base):
      guard id != .dom0 else { throw refuse("dom0's RAM is direct-mapped or coloured") }
      if allocator != nil {
        throw refuse("with LLC colouring every domain's RAM comes from the coloured allocator")
      }
      try checkHostRanges([bank], of: id)
      try host.assign(bank, to: id)
      try domain.physmapAdd(base, count: bank.pages, to: bank.start, type: .ramRW)
    }
  }

  /// The order `allocate_hwdom_memory()` fills a coloured dom0's banks in:
  /// descending size in 4.20 (`02975cc383`; `de99f32635` changed it to
  /// ascending address in 2026, after every release modelled here). Equal
  /// sizes keep ascending address [uncertain: Xen's `sort()` is not stable].
  static func hostLayoutAllocationOrder(_ banks: [MemoryBank]) -> [MemoryBank] {
    banks.sorted { $0.pages != $1.pages ? $0.pages > $1.pages : $0.start < $1.start }
  }

  /// Allocates a page, checks that it may be assigned, and maps it. The
  /// frames are handed to the domain together afterwards
  /// (``HostMemory/assign(allocated:to:)``): the allocator gives distinct
  /// frames, so checking each against the ownership before this domain's
  /// build decides as assigning them one at a time would, without
  /// inserting one run per page.
  private mutating func mapColouredPage(_ domain: inout DomainState, colours: [Int], at gfn: GFN, taking taken: inout [MemoryBank]) throws(XenError) {
    guard allocator != nil else { throw .invalidDomainMemory(domain.id, reason: "LLC colouring is off") }
    // In place: a local copy would make every allocation copy the whole
    // allocator (copy-on-write with two owners).
    let mfn = try allocator!.allocate(colours: colours)
    let owner = host.owner(of: mfn)
    guard owner == .free else { throw .frameUnavailable(mfn, owner: owner) }
    // Consecutive allocations are often consecutive frames (one per
    // colour of the domain), so they are kept as ranges.
    if let last = taken.last, last.end == mfn {
      taken[taken.count - 1].pages += 1
    } else {
      taken.append(MemoryBank(start: mfn, pages: 1))
    }
    try domain.physmapAdd(gfn, to: mfn, type: .ramRW)
  }


  /// Banks must be non-empty, lie in host RAM and not overlap each other.
  private func checkHostRanges(_ banks: [MemoryBank], of id: DomainID) throws(XenError) {
    guard !banks.isEmpty else { throw .invalidDomainMemory(id, reason: "no RAM banks given") }
    for bank in banks {
      guard bank.pages > 0, bank.end > bank.start,
        host.banks.contains(where: { $0.start <= bank.start && bank.end <= $0.end })
      else { throw .invalidDomainMemory(id, reason: "bank \(bank) is empty or not inside one host RAM bank") }
    }
    let sorted = banks.sorted { $0.start < $1.start }
    for (lower, upper) in zip(sorted, sorted.dropFirst()) where upper.start < lower.end {
      throw .invalidDomainMemory(id, reason: "banks \(lower) and \(upper) overlap")
    }
  }

  private func checkColours(_ colours: [Int], of id: DomainID) throws(XenError) {
    guard version.hasLLCColouring else { throw .unsupported("LLC colouring", version: version) }
    guard let allocator else { throw .invalidDomainMemory(id, reason: "LLC colouring is off") }
    try allocator.validate(colours)
    // `parse_color_config()` refuses a list of more entries than its array
    // holds (max_nr_colors for a domU's `llc-colors`; NR_LLC_COLORS, the
    // build's maximum, for dom0's `dom0-llc-colors`) and checks neither
    // order nor repeats (RELEASE-4.21.0 xen/common/llc-coloring.c).
    // [derived simplification] The model bounds dom0's list by the colour
    // count too: a longer list only repeats colours.
    guard colours.count <= allocator.colourCount else {
      throw .invalidColours(colours, reason: "\(colours.count) entries for \(allocator.colourCount) colours (parse_color_config: -EINVAL)")
    }
  }
}
