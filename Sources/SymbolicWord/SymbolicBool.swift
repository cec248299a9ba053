import Solver
import Spec

/// The symbolic Boolean companion of ``SymbolicWord``: a known `Bool`, or a
/// Z3 Boolean term.
package struct SymbolicBool: WordBool, CustomStringConvertible {
  package typealias Condition = SymbolicBool

  enum Storage {
    case literal(Bool)
    case term(Term)
  }

  package let context: Context
  let storage: Storage

  init(context: Context, storage: Storage) {
    self.context = context
    self.storage = storage
  }

  package init(_ value: Bool, in context: Context) {
    self.init(context: context, storage: .literal(value))
  }

  /// Wraps a Boolean term.
  package init(_ term: Term) throws(SolverError) {
    guard case .bool = try term.sort.kind else {
      throw SolverError(kind: .sortMismatch, message: "a condition is a Boolean term, got \(term)")
    }
    self.init(context: term.context, storage: .term(term))
  }

  /// The Boolean constant called `name`.
  package static func variable(_ name: String, in context: Context) throws(SolverError) -> SymbolicBool {
    try SymbolicBool(context.constant(name, sort: context.boolSort))
  }

  package var term: Term {
    switch storage {
    case .term(let term): return term
    case .literal(let value): return must { () throws(SolverError) in try context.bool(value) }
    }
  }

  package var knownValue: Bool? {
    if case .literal(let value) = storage { return value }
    return nil
  }

  package var description: String {
    switch storage {
    case .literal(let value): return String(value)
    case .term(let term): return term.description
    }
  }

  package func constant(_ value: Bool) -> SymbolicBool { SymbolicBool(value, in: context) }

  package func and(_ other: SymbolicBool) -> SymbolicBool {
    precondition(context === other.context, "conditions from two Z3 contexts")
    switch (knownValue, other.knownValue) {
    case (false?, _), (_, false?): return constant(false)
    case (true?, _): return other
    case (_, true?): return self
    default:
      let (a, b) = (term, other.term)
      return SymbolicBool(context: context, storage: .term(must { () throws(SolverError) in try a && b }))
    }
  }

  package func or(_ other: SymbolicBool) -> SymbolicBool {
    precondition(context === other.context, "conditions from two Z3 contexts")
    switch (knownValue, other.knownValue) {
    case (true?, _), (_, true?): return constant(true)
    case (false?, _): return other
    case (_, false?): return self
    default:
      let (a, b) = (term, other.term)
      return SymbolicBool(context: context, storage: .term(must { () throws(SolverError) in try a || b }))
    }
  }

  package func negated() -> SymbolicBool {
    if let known = knownValue { return constant(!known) }
    let a = term
    return SymbolicBool(context: context, storage: .term(must { () throws(SolverError) in try !a }))
  }

  package static func select(_ condition: SymbolicBool, _ whenTrue: SymbolicBool, _ whenFalse: SymbolicBool) -> SymbolicBool {
    if let known = condition.knownValue { return known ? whenTrue : whenFalse }
    if let a = whenTrue.knownValue, let b = whenFalse.knownValue, a == b { return whenTrue }
    let (c, t, e) = (condition.term, whenTrue.term, whenFalse.term)
    return SymbolicBool(context: condition.context, storage: .term(must { () throws(SolverError) in try Term.ite(c, t, e) }))
  }
}
