/// Xen/ARM pages are 4 KiB (`PAGE_SHIFT` 12; fact sheet §1.3: only the 4K
/// granule is used by Xen's p2m).
public let pageShift = 12
public let pageSize: UInt64 = 1 << pageShift

/// A guest frame number: an intermediate physical address (IPA) >> 12, as a
/// domain sees its own memory. On Arm, Linux's pfn equals the GFN
/// (`pfn_to_gfn` is the identity, include/xen/arm/page.h).
public struct GFN: Hashable, Comparable, Sendable, CustomStringConvertible {
  public var rawValue: UInt64
  public init(_ rawValue: UInt64) { self.rawValue = rawValue }
  public static func < (lhs: GFN, rhs: GFN) -> Bool { lhs.rawValue < rhs.rawValue }
  public var description: String { "gfn:" + hex(rawValue) }
  /// The first byte of the frame as an IPA.
  public var address: UInt64 { rawValue << UInt64(pageShift) }
  public func advanced(by pages: UInt64) -> GFN { GFN(rawValue &+ pages) }
}

/// A machine frame number: a physical address (PA) >> 12.
public struct MFN: Hashable, Comparable, Sendable, CustomStringConvertible {
  public var rawValue: UInt64
  public init(_ rawValue: UInt64) { self.rawValue = rawValue }
  public static func < (lhs: MFN, rhs: MFN) -> Bool { lhs.rawValue < rhs.rawValue }
  public var description: String { "mfn:" + hex(rawValue) }
  /// The first byte of the frame as a machine address.
  public var address: UInt64 { rawValue << UInt64(pageShift) }
  public func advanced(by pages: UInt64) -> MFN { MFN(rawValue &+ pages) }
}

/// The address a device is programmed with: a bus address that the SMMU may
/// translate (as an IPA) or that reaches memory untranslated (as a PA).
public struct DMAAddress: Hashable, Comparable, Sendable, CustomStringConvertible {
  public var rawValue: UInt64
  public init(_ rawValue: UInt64) { self.rawValue = rawValue }
  public static func < (lhs: DMAAddress, rhs: DMAAddress) -> Bool { lhs.rawValue < rhs.rawValue }
  public var description: String { "dma:" + hex(rawValue) }
  public var frame: UInt64 { rawValue >> UInt64(pageShift) }
  public var offset: UInt64 { rawValue & (pageSize - 1) }
}

/// `0x…` spelling used in every printed value.
public func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }
