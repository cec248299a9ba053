/// The concrete word: plain `UInt64` arithmetic, specialised by the
/// compiler. Arithmetic wraps and shifts saturate to 0 at 64, matching the
/// Z3 bit-vector semantics of the symbolic word.
extension UInt64: Word {
  public typealias Condition = Bool

  @inlinable public func constant(_ value: UInt64) -> UInt64 { value }
  @inlinable public var knownValue: UInt64? { self }

  // The standard library's `&+` lives in a protocol extension, as do
  // ``Word``'s operators, so inside this conformance it would resolve to
  // ``Word``'s own `&+` and recurse; the named methods are unambiguous.
  @inlinable public func adding(_ other: UInt64) -> UInt64 { addingReportingOverflow(other).partialValue }
  @inlinable public func subtracting(_ other: UInt64) -> UInt64 { subtractingReportingOverflow(other).partialValue }
  @inlinable public func multiplying(_ other: UInt64) -> UInt64 { multipliedReportingOverflow(by: other).partialValue }
  @inlinable public func bitwiseAnd(_ other: UInt64) -> UInt64 { self & other }
  @inlinable public func bitwiseOr(_ other: UInt64) -> UInt64 { self | other }
  @inlinable public func bitwiseXor(_ other: UInt64) -> UInt64 { self ^ other }
  @inlinable public func bitwiseNot() -> UInt64 { ~self }
  @inlinable public func isEqual(to other: UInt64) -> Bool { self == other }

  @inlinable public func shiftedLeft(by amount: UInt64) -> UInt64 { self << amount }
  @inlinable public func logicalShiftedRight(by amount: UInt64) -> UInt64 { self >> amount }
  @inlinable public func arithmeticShiftedRight(by amount: UInt64) -> UInt64 {
    UInt64(bitPattern: Int64(bitPattern: self) >> amount)
  }

  @inlinable public func extract(high: Int, low: Int) -> UInt64 {
    (self & bitMask(high: high, low: low)) >> UInt64(low)
  }

  @inlinable public func concat(low: UInt64, lowWidth: Int) -> UInt64 {
    precondition((0...64).contains(lowWidth), "concat lowWidth \(lowWidth)")
    return (self << UInt64(lowWidth)) | low.zeroExtended(fromWidth: lowWidth)
  }

  @inlinable public func zeroExtended(fromWidth width: Int) -> UInt64 {
    precondition((0...64).contains(width), "zeroExtended(fromWidth: \(width))")
    return width == 0 ? 0 : self & bitMask(high: width - 1, low: 0)
  }

  @inlinable public func signExtended(fromWidth width: Int) -> UInt64 {
    precondition((1...64).contains(width), "signExtended(fromWidth: \(width))")
    let unused = UInt64(64 - width)
    return UInt64(bitPattern: Int64(bitPattern: self << unused) >> unused)
  }

  @inlinable public func ult(_ other: UInt64) -> Bool { self < other }
  @inlinable public func ule(_ other: UInt64) -> Bool { self <= other }
  @inlinable public func slt(_ other: UInt64) -> Bool { Int64(bitPattern: self) < Int64(bitPattern: other) }
  @inlinable public func sle(_ other: UInt64) -> Bool { Int64(bitPattern: self) <= Int64(bitPattern: other) }

  @inlinable
  public static func select(_ condition: Bool, _ whenTrue: UInt64, _ whenFalse: UInt64) -> UInt64 {
    condition ? whenTrue : whenFalse
  }
}
