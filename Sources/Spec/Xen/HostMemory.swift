/// Who a machine frame belongs to: `page_get_owner()` of its `page_info`,
/// which grants and foreign maps check (`get_page(page, d)`, §2.1, §2.4).
public enum FrameOwner: Hashable, Sendable, CustomStringConvertible {
  /// In an allocator's free pool: the coloured heap, or, without colouring,
  /// the buddy allocator's domheap.
  case free
  /// Used by Xen itself. With colouring, this is every frame outside the
  /// coloured heap: the buddy reserve and whatever `end_boot_allocator()`
  /// gave the buddy (§5), since only `d == NULL` allocations use the buddy
  /// then [derived].
  case xen
  case domain(DomainID)

  public var description: String {
    switch self {
    case .free: "free"
    case .xen: "Xen"
    case .domain(let id): "\(id)"
    }
  }
}

/// The host's RAM and the owner of each of its frames. Frames outside the
/// banks are not RAM (MMIO or nothing): `mfn_valid()` is false and they have
/// no owner.
public struct HostMemory: Hashable, Sendable {
  /// The RAM banks, in ascending address order.
  public let banks: [MemoryBank]
  /// Frames owned by Xen, as ranges (they can be large).
  public let xenRanges: [MemoryBank]
  /// Every frame that is neither free nor in `xenRanges`, as runs: a
  /// bank handed to a domain whole is one run.
  private var assigned = RunMap<FrameOwner>()

  /// - Throws: ``XenError/invalidHostRAM(_:)`` if there is no RAM, a bank is
  ///   empty or two banks overlap; the Xen ranges must lie in RAM.
  public init(banks: [MemoryBank], xenRanges: [MemoryBank] = []) throws(XenError) {
    let sorted = banks.sorted { $0.start < $1.start }
    guard !sorted.isEmpty else { throw .invalidHostRAM("there are no RAM banks") }
    for bank in sorted where bank.pages == 0 || bank.end < bank.start {
      throw .invalidHostRAM("bank \(bank) is empty or wraps around")
    }
    for (lower, upper) in zip(sorted, sorted.dropFirst()) where upper.start < lower.end {
      throw .invalidHostRAM("banks \(lower) and \(upper) overlap")
    }
    self.banks = sorted
    for range in xenRanges where range.pages > 0 {
      guard sorted.contains(where: { $0.start <= range.start && range.end <= $0.end }) else {
        throw .invalidHostRAM("Xen's range \(range) is not inside one RAM bank")
      }
    }
    self.xenRanges = xenRanges.filter { $0.pages > 0 }
  }

  /// Whether the frame is host RAM (`mfn_valid()`).
  public func isRAM(_ mfn: MFN) -> Bool {
    banks.contains { $0.contains(mfn.rawValue) }
  }

  /// The frame's owner, or nil if it is not RAM.
  public func owner(of mfn: MFN) -> FrameOwner? {
    guard isRAM(mfn) else { return nil }
    if let owner = assigned[mfn.rawValue] { return owner }
    return xenRanges.contains { $0.contains(mfn.rawValue) } ? .xen : .free
  }

  /// Every frame a domain owns, ascending.
  public func frames(of domain: DomainID) -> [MFN] {
    assigned.runs.filter { $0.first == .domain(domain) }.flatMap { run in (0..<run.count).map { MFN(run.start + $0) } }
  }

  /// Hands a free RAM frame to a domain (`assign_pages()`).
  mutating func assign(_ mfn: MFN, to domain: DomainID) throws(XenError) {
    try assign(MemoryBank(start: mfn, pages: 1), to: domain)
  }

  /// Hands every frame of `range` to a domain, as assigning them one by one
  /// in ascending order would: refused at the first frame that is not free
  /// RAM, which is then named, and nothing is assigned.
  mutating func assign(_ range: MemoryBank, to domain: DomainID) throws(XenError) {
    if let unavailable = firstUnavailable(in: range) {
      throw .frameUnavailable(unavailable, owner: owner(of: unavailable))
    }
    assigned.set(range.start.rawValue, count: range.pages, to: .domain(domain))
  }

  /// Hands free frames to a domain at once: the ranges, disjoint and each
  /// frame checked free, are sorted and merged with the assigned runs in
  /// one pass.
  mutating func assign(allocated ranges: [MemoryBank], to domain: DomainID) {
    var runs: [RunMap<FrameOwner>.Run] = []
    for range in ranges.sorted(by: { $0.start < $1.start }) {
      if let last = runs.last, last.end == range.start.rawValue {
        runs[runs.count - 1].count += range.pages
      } else {
        runs.append(.init(start: range.start.rawValue, count: range.pages, first: .domain(domain)))
      }
    }
    assigned.insert(disjoint: runs)
  }

  /// The lowest frame of `range` that is not free RAM, found from the
  /// banks, Xen's ranges and the assigned runs rather than frame by frame.
  func firstUnavailable(in range: MemoryBank) -> MFN? {
    guard range.pages > 0 else { return nil }
    let (start, end) = (range.start.rawValue, range.start.rawValue + range.pages)
    var candidates: [UInt64] = []
    // The first frame that no bank holds.
    var cursor = start
    while cursor < end, let bank = banks.first(where: { $0.contains(cursor) }) { cursor = bank.end.rawValue }
    if cursor < end { candidates.append(cursor) }
    // The first frame Xen or a domain holds.
    for xen in xenRanges where xen.start.rawValue < end && xen.end.rawValue > start {
      candidates.append(max(start, xen.start.rawValue))
    }
    let index = assigned.firstRun(endingAfter: start)
    if index < assigned.runs.count, assigned.runs[index].start < end {
      candidates.append(max(start, assigned.runs[index].start))
    }
    return candidates.min().map(MFN.init)
  }
}

/// A frame's owner is the same over a run of frames.
extension FrameOwner: RunValue {
  public func advanced(by pages: UInt64) -> FrameOwner { self }
}
