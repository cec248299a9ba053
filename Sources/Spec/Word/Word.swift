/// A 64-bit machine word that translation code is written over once: a
/// `UInt64` when the program runs or is fuzzed, a Z3 bit-vector when it is
/// proved (DESIGN.md §3, "One source, two semantics").
///
/// Every word is 64 bits wide. Field operations (``extract(high:low:)``,
/// ``zeroExtended(fromWidth:)``, ``signExtended(fromWidth:)``,
/// ``concat(low:lowWidth:)``) return 64-bit words whose upper bits are
/// zero or the sign, so no width is carried at run time. Arithmetic wraps,
/// as the hardware does; shifts by 64 or more give 0 (as `bvshl`/`bvlshr`
/// and Swift's smart shifts both do).
///
/// ## A note on literals
///
/// A symbolic word belongs to a Z3 context, so a literal needs a word to
/// take its context from: ``constant(_:)`` and the operators whose right
/// operand is a `UInt64` (`descriptor & 0xFFF`) do that. Generic code never
/// needs integer literals of type `Self`.
public protocol Word: Mergeable {
  /// The literal `value`, in the same context as `self`.
  func constant(_ value: UInt64) -> Self

  /// The value when it is known without a solver (always, concretely).
  var knownValue: UInt64? { get }

  func adding(_ other: Self) -> Self
  func subtracting(_ other: Self) -> Self
  func multiplying(_ other: Self) -> Self
  func bitwiseAnd(_ other: Self) -> Self
  func bitwiseOr(_ other: Self) -> Self
  func bitwiseXor(_ other: Self) -> Self
  func bitwiseNot() -> Self

  func shiftedLeft(by amount: Self) -> Self
  func logicalShiftedRight(by amount: Self) -> Self
  func arithmeticShiftedRight(by amount: Self) -> Self

  /// Bits `high` down to `low` moved to bit 0; the rest zero.
  /// - Precondition: `0 <= low <= high <= 63`.
  func extract(high: Int, low: Int) -> Self
  /// `(self << lowWidth) | low[lowWidth-1:0]`, truncated to 64 bits.
  /// - Precondition: `0 <= lowWidth <= 64`.
  func concat(low: Self, lowWidth: Int) -> Self
  /// The low `width` bits, zero-extended.
  func zeroExtended(fromWidth width: Int) -> Self
  /// The low `width` bits, sign-extended from bit `width - 1`.
  func signExtended(fromWidth width: Int) -> Self

  func isEqual(to other: Self) -> Condition
  func ult(_ other: Self) -> Condition
  func ule(_ other: Self) -> Condition
  func slt(_ other: Self) -> Condition
  func sle(_ other: Self) -> Condition
}

// The operators are defined once, here, over the named requirements. They
// are disfavoured overloads: for a concrete `UInt64` the standard library's
// own operators (which also live in protocol extensions) must win, so that
// concrete code anywhere is plain integer code and never ambiguous.
extension Word {
  @inlinable @_disfavoredOverload public static func &+ (lhs: Self, rhs: Self) -> Self { lhs.adding(rhs) }
  @inlinable @_disfavoredOverload public static func &- (lhs: Self, rhs: Self) -> Self { lhs.subtracting(rhs) }
  @inlinable @_disfavoredOverload public static func &* (lhs: Self, rhs: Self) -> Self { lhs.multiplying(rhs) }
  @inlinable @_disfavoredOverload public static func & (lhs: Self, rhs: Self) -> Self { lhs.bitwiseAnd(rhs) }
  @inlinable @_disfavoredOverload public static func | (lhs: Self, rhs: Self) -> Self { lhs.bitwiseOr(rhs) }
  @inlinable @_disfavoredOverload public static func ^ (lhs: Self, rhs: Self) -> Self { lhs.bitwiseXor(rhs) }
  @inlinable @_disfavoredOverload public static prefix func ~ (operand: Self) -> Self { operand.bitwiseNot() }
  @inlinable @_disfavoredOverload public static func == (lhs: Self, rhs: Self) -> Condition { lhs.isEqual(to: rhs) }
  @inlinable @_disfavoredOverload public static func != (lhs: Self, rhs: Self) -> Condition { lhs.isEqual(to: rhs).negated() }

  @inlinable public func ugt(_ other: Self) -> Condition { other.ult(self) }
  @inlinable public func uge(_ other: Self) -> Condition { other.ule(self) }
  @inlinable public func sgt(_ other: Self) -> Condition { other.slt(self) }
  @inlinable public func sge(_ other: Self) -> Condition { other.sle(self) }

  /// Unsigned comparisons read like the math in generic code.
  @inlinable @_disfavoredOverload public static func < (lhs: Self, rhs: Self) -> Condition { lhs.ult(rhs) }
  @inlinable @_disfavoredOverload public static func <= (lhs: Self, rhs: Self) -> Condition { lhs.ule(rhs) }
  @inlinable @_disfavoredOverload public static func > (lhs: Self, rhs: Self) -> Condition { rhs.ult(lhs) }
  @inlinable @_disfavoredOverload public static func >= (lhs: Self, rhs: Self) -> Condition { rhs.ule(lhs) }

  // A `UInt64` right operand becomes a literal in the left operand's context.
  @inlinable @_disfavoredOverload public static func &+ (lhs: Self, rhs: UInt64) -> Self { lhs &+ lhs.constant(rhs) }
  @inlinable @_disfavoredOverload public static func &- (lhs: Self, rhs: UInt64) -> Self { lhs &- lhs.constant(rhs) }
  @inlinable @_disfavoredOverload public static func &* (lhs: Self, rhs: UInt64) -> Self { lhs &* lhs.constant(rhs) }
  @inlinable @_disfavoredOverload public static func & (lhs: Self, rhs: UInt64) -> Self { lhs & lhs.constant(rhs) }
  @inlinable @_disfavoredOverload public static func | (lhs: Self, rhs: UInt64) -> Self { lhs | lhs.constant(rhs) }
  @inlinable @_disfavoredOverload public static func ^ (lhs: Self, rhs: UInt64) -> Self { lhs ^ lhs.constant(rhs) }
  @inlinable @_disfavoredOverload public static func == (lhs: Self, rhs: UInt64) -> Condition { lhs == lhs.constant(rhs) }
  @inlinable @_disfavoredOverload public static func != (lhs: Self, rhs: UInt64) -> Condition { lhs != lhs.constant(rhs) }
  @inlinable @_disfavoredOverload public static func < (lhs: Self, rhs: UInt64) -> Condition { lhs.ult(lhs.constant(rhs)) }
  @inlinable @_disfavoredOverload public static func <= (lhs: Self, rhs: UInt64) -> Condition { lhs.ule(lhs.constant(rhs)) }
  @inlinable @_disfavoredOverload public static func > (lhs: Self, rhs: UInt64) -> Condition { lhs.constant(rhs).ult(lhs) }
  @inlinable @_disfavoredOverload public static func >= (lhs: Self, rhs: UInt64) -> Condition { lhs.constant(rhs).ule(lhs) }

  /// Shifts by a fixed amount.
  @inlinable @_disfavoredOverload public static func << (lhs: Self, rhs: Int) -> Self {
    lhs.shiftedLeft(by: lhs.constant(UInt64(rhs)))
  }
  @inlinable @_disfavoredOverload public static func >> (lhs: Self, rhs: Int) -> Self {
    lhs.logicalShiftedRight(by: lhs.constant(UInt64(rhs)))
  }

  /// Bit `index` as a condition.
  @inlinable public func bit(_ index: Int) -> Condition {
    extract(high: index, low: index) != 0
  }

  /// A Boolean in this word's context.
  @inlinable public func condition(_ value: Bool) -> Condition {
    (self == self).constant(value)
  }
}

/// The mask of bits `high` down to `low`, inclusive.
@inlinable
public func bitMask(high: Int, low: Int) -> UInt64 {
  precondition(0 <= low && low <= high && high <= 63, "bitMask(high: \(high), low: \(low))")
  let width = high - low + 1
  return (width == 64 ? UInt64.max : (UInt64(1) << UInt64(width)) - 1) << UInt64(low)
}
