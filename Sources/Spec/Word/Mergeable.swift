/// A value that can be merged under a condition: what a symbolic
/// ``branch(_:then:else:)`` returns when it has run both sides.
///
/// Concretely the condition is a `Bool` and merging never happens; for
/// symbolic words the merge is Z3's `ite`, field by field (Serval/Rosette
/// style). Structs of words conform by merging each field.
public protocol Mergeable {
  /// The Boolean companion of the words in this value.
  associatedtype Condition: WordBool

  /// `condition ? whenTrue : whenFalse`.
  static func select(_ condition: Condition, _ whenTrue: Self, _ whenFalse: Self) -> Self
}

extension Mergeable {
  /// Runs `body` on this value when `condition` holds: concretely in
  /// place (no copy), symbolically on a copy merged back with `ite`. The
  /// default `when` of the generic worlds (``branch(_:then:else:)`` for a
  /// value changed in place).
  @inlinable
  package mutating func merging(_ condition: Condition, _ body: (inout Self) -> Void) {
    if let known = condition.knownValue {
      if known { body(&self) }
      return
    }
    var taken = self
    body(&taken)
    self = Self.select(condition, taken, self)
  }
}

/// Runs `then` or `else` as `condition` says; when the condition is
/// symbolic, runs both and merges the results.
///
/// This is the only way translation code may branch on a word, so the same
/// code runs concretely (one side, no merge, specialised to `Bool`) and
/// symbolically (both sides, merged with `ite`).
@inlinable
public func branch<Result: Mergeable>(
  _ condition: Result.Condition,
  then whenTrue: () throws -> Result,
  else whenFalse: () throws -> Result
) rethrows -> Result {
  if let known = condition.knownValue {
    return known ? try whenTrue() : try whenFalse()
  }
  return Result.select(condition, try whenTrue(), try whenFalse())
}

/// Pairs of mergeable values merge component-wise.
public struct MergeablePair<First: Mergeable, Second: Mergeable>: Mergeable
where First.Condition == Second.Condition {
  public var first: First
  public var second: Second

  public init(_ first: First, _ second: Second) {
    self.first = first
    self.second = second
  }

  public static func select(_ condition: First.Condition, _ whenTrue: Self, _ whenFalse: Self) -> Self {
    Self(
      First.select(condition, whenTrue.first, whenFalse.first),
      Second.select(condition, whenTrue.second, whenFalse.second))
  }
}
