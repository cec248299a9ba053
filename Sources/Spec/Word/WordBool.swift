/// The Boolean companion of a ``Word``: `Bool` concretely, a Z3 Boolean
/// term symbolically.
public protocol WordBool: Mergeable where Condition == Self {
  /// The literal `value`, in the same context as `self`.
  func constant(_ value: Bool) -> Self

  /// The value when it is known without a solver (always, concretely).
  var knownValue: Bool? { get }

  func and(_ other: Self) -> Self
  func or(_ other: Self) -> Self
  func negated() -> Self
}

extension WordBool {
  // Generic code reads like the math; concrete `Bool` code keeps the
  // standard library's short-circuiting operators, which win overload
  // resolution for `Bool` operands.
  @inlinable public static func && (lhs: Self, rhs: Self) -> Self { lhs.and(rhs) }
  @inlinable public static func || (lhs: Self, rhs: Self) -> Self { lhs.or(rhs) }
  @inlinable public static prefix func ! (operand: Self) -> Self { operand.negated() }

  /// `self ⇒ other`.
  @inlinable public func implies(_ other: Self) -> Self { negated().or(other) }

  /// `self ⇔ other`: both hold or neither does.
  @inlinable public func isEqual(to other: Self) -> Self { and(other).or(negated().and(other.negated())) }
}

extension Bool: WordBool {
  public typealias Condition = Bool

  @inlinable public func constant(_ value: Bool) -> Bool { value }
  @inlinable public var knownValue: Bool? { self }
  @inlinable public func and(_ other: Bool) -> Bool { self && other }
  @inlinable public func or(_ other: Bool) -> Bool { self || other }
  @inlinable public func negated() -> Bool { !self }

  @inlinable
  public static func select(_ condition: Bool, _ whenTrue: Bool, _ whenFalse: Bool) -> Bool {
    condition ? whenTrue : whenFalse
  }
}
