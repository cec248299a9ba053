/// A Xen domain id; dom0 is 0 (the hardware domain).
public struct DomainID: Hashable, Comparable, Sendable, CustomStringConvertible {
  public var rawValue: UInt16
  public init(_ rawValue: UInt16) { self.rawValue = rawValue }
  public static let dom0 = DomainID(0)
  public static func < (lhs: DomainID, rhs: DomainID) -> Bool { lhs.rawValue < rhs.rawValue }
  public var description: String { "d\(rawValue)" }
}

/// How a domain's RAM GFNs relate to MFNs (fact sheet §2.3, §5).
public enum MemoryLayout: Hashable, Sendable {
  /// GFN = MFN for the domain's own RAM (`is_domain_direct_mapped`): dom0
  /// without LLC colouring (`create_dom0()` sets `CDF_directmap` only
  /// `if (!llc_coloring_enabled)`, Xen 4.20).
  case directMapped
  /// LLC-coloured: GFNs contiguous per bank, MFNs drawn from the coloured
  /// allocator, only from the listed colours. Never direct-mapped (§5).
  case coloured(colours: [Int])

  public var isDirectMapped: Bool { self == .directMapped }
}

/// A range of host RAM, page aligned.
public struct MemoryBank: Hashable, Sendable, CustomStringConvertible {
  public var start: MFN
  public var pages: UInt64
  public init(start: MFN, pages: UInt64) {
    self.start = start
    self.pages = pages
  }
  public var end: MFN { start.advanced(by: pages) }
  public func contains(_ frame: UInt64) -> Bool {
    frame >= start.rawValue && frame < end.rawValue
  }
  public var description: String { "\(hex(start.address))+\(hex(pages * pageSize))" }
}
