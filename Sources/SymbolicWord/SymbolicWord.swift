import Solver
import Spec

/// The symbolic instance of ``Spec/Word``: a 64-bit Z3 bit-vector.
///
/// ## A note on literals
///
/// A word whose value is known stays a plain `UInt64` and is computed with
/// the concrete instance, so code run on known values builds no Z3 terms
/// (Alive2's constant-folding builders, Serval's `vc-true?`). A term is made
/// only when an operand is symbolic.
///
/// Every operation here is on 64-bit bit-vectors of one context, so Z3 has
/// no sort error to report; mixing contexts or a bad field range is a
/// programmer error and traps with the message.
package struct SymbolicWord: Word, CustomStringConvertible {
  package typealias Condition = SymbolicBool

  enum Storage {
    case literal(UInt64)
    case term(Term)
  }

  package let context: Context
  let storage: Storage

  init(context: Context, storage: Storage) {
    self.context = context
    self.storage = storage
  }

  /// A known word.
  package init(_ value: UInt64, in context: Context) {
    self.init(context: context, storage: .literal(value))
  }

  /// Wraps a 64-bit bit-vector term.
  package init(_ term: Term) throws(SolverError) {
    guard term.bitVectorWidth == 64 else {
      throw SolverError(kind: .sortMismatch, message: "a word is a 64-bit bit-vector, got \(term)")
    }
    self.init(context: term.context, storage: .term(term))
  }

  /// The 64-bit constant called `name`.
  package static func variable(_ name: String, in context: Context) throws(SolverError) -> SymbolicWord {
    try SymbolicWord(context.bitVectorConstant(name, width: 64))
  }

  /// The word as a Z3 term (a literal is made into a numeral here).
  package var term: Term {
    switch storage {
    case .term(let term): return term
    case .literal(let value): return must { () throws(SolverError) in try context.bitVector(value, width: 64) }
    }
  }

  package var knownValue: UInt64? {
    if case .literal(let value) = storage { return value }
    return nil
  }

  package var description: String {
    switch storage {
    case .literal(let value): return "#x" + String(value, radix: 16)
    case .term(let term): return term.description
    }
  }

  package func constant(_ value: UInt64) -> SymbolicWord { SymbolicWord(value, in: context) }

  // MARK: Lifting

  /// A binary operation: concretely when both operands are known, else on terms.
  func lift(
    _ other: SymbolicWord, _ concrete: (UInt64, UInt64) -> UInt64,
    _ symbolic: (Term, Term) throws(SolverError) -> Term
  ) -> SymbolicWord {
    precondition(context === other.context, "words from two Z3 contexts")
    if let a = knownValue, let b = other.knownValue {
      return constant(concrete(a, b))
    }
    let (a, b) = (term, other.term)
    return SymbolicWord(context: context, storage: .term(must { () throws(SolverError) in try symbolic(a, b) }))
  }

  func lift(_ concrete: (UInt64) -> UInt64, _ symbolic: (Term) throws(SolverError) -> Term) -> SymbolicWord {
    if let a = knownValue { return constant(concrete(a)) }
    let a = term
    return SymbolicWord(context: context, storage: .term(must { () throws(SolverError) in try symbolic(a) }))
  }

  func compare(
    _ other: SymbolicWord, _ concrete: (UInt64, UInt64) -> Bool,
    _ symbolic: (Term, Term) throws(SolverError) -> Term
  ) -> SymbolicBool {
    precondition(context === other.context, "words from two Z3 contexts")
    if let a = knownValue, let b = other.knownValue {
      return SymbolicBool(concrete(a, b), in: context)
    }
    let (a, b) = (term, other.term)
    return SymbolicBool(context: context, storage: .term(must { () throws(SolverError) in try symbolic(a, b) }))
  }

  // MARK: Word

  package func adding(_ other: SymbolicWord) -> SymbolicWord { lift(other, { $0 &+ $1 }) { a, b throws(SolverError) in try a + b } }
  package func subtracting(_ other: SymbolicWord) -> SymbolicWord { lift(other, { $0 &- $1 }) { a, b throws(SolverError) in try a - b } }
  package func multiplying(_ other: SymbolicWord) -> SymbolicWord { lift(other, { $0 &* $1 }) { a, b throws(SolverError) in try a * b } }
  package func bitwiseAnd(_ other: SymbolicWord) -> SymbolicWord { lift(other, { $0 & $1 }) { a, b throws(SolverError) in try a & b } }
  package func bitwiseOr(_ other: SymbolicWord) -> SymbolicWord { lift(other, { $0 | $1 }) { a, b throws(SolverError) in try a | b } }
  package func bitwiseXor(_ other: SymbolicWord) -> SymbolicWord { lift(other, { $0 ^ $1 }) { a, b throws(SolverError) in try a ^ b } }
  package func bitwiseNot() -> SymbolicWord { lift({ ~$0 }) { a throws(SolverError) in try ~a } }

  package func shiftedLeft(by amount: SymbolicWord) -> SymbolicWord {
    lift(amount, { $0.shiftedLeft(by: $1) }) { a, b throws(SolverError) in try a << b }
  }
  package func logicalShiftedRight(by amount: SymbolicWord) -> SymbolicWord {
    lift(amount, { $0.logicalShiftedRight(by: $1) }) { a, b throws(SolverError) in try a >> b }
  }
  package func arithmeticShiftedRight(by amount: SymbolicWord) -> SymbolicWord {
    lift(amount, { $0.arithmeticShiftedRight(by: $1) }) { a, b throws(SolverError) in try a.arithmeticShiftedRight(by: b) }
  }

  package func extract(high: Int, low: Int) -> SymbolicWord {
    precondition(0 <= low && low <= high && high <= 63, "extract(high: \(high), low: \(low))")
    return lift({ $0.extract(high: high, low: low) }) { a throws(SolverError) in
      let field = try a.extract(high: high, low: low)
      return high - low == 63 ? field : try field.zeroExtended(by: 63 - (high - low))
    }
  }

  package func concat(low: SymbolicWord, lowWidth: Int) -> SymbolicWord {
    precondition((0...64).contains(lowWidth), "concat lowWidth \(lowWidth)")
    if lowWidth == 0 { return self }
    if lowWidth == 64 { return low }
    return lift(low, { $0.concat(low: $1, lowWidth: lowWidth) }) { high, low throws(SolverError) in
      try high.extract(high: 63 - lowWidth, low: 0).concat(low.extract(high: lowWidth - 1, low: 0))
    }
  }

  package func zeroExtended(fromWidth width: Int) -> SymbolicWord {
    precondition((0...64).contains(width), "zeroExtended(fromWidth: \(width))")
    if width == 64 { return self }
    if width == 0 { return constant(0) }
    return extract(high: width - 1, low: 0)
  }

  package func signExtended(fromWidth width: Int) -> SymbolicWord {
    precondition((1...64).contains(width), "signExtended(fromWidth: \(width))")
    if width == 64 { return self }
    return lift({ $0.signExtended(fromWidth: width) }) { a throws(SolverError) in
      try a.extract(high: width - 1, low: 0).signExtended(by: 64 - width)
    }
  }

  package func isEqual(to other: SymbolicWord) -> SymbolicBool { compare(other, ==) { a, b throws(SolverError) in try a == b } }
  package func ult(_ other: SymbolicWord) -> SymbolicBool { compare(other, { $0.ult($1) }) { a, b throws(SolverError) in try a.ult(b) } }
  package func ule(_ other: SymbolicWord) -> SymbolicBool { compare(other, { $0.ule($1) }) { a, b throws(SolverError) in try a.ule(b) } }
  package func slt(_ other: SymbolicWord) -> SymbolicBool { compare(other, { $0.slt($1) }) { a, b throws(SolverError) in try a.slt(b) } }
  package func sle(_ other: SymbolicWord) -> SymbolicBool { compare(other, { $0.sle($1) }) { a, b throws(SolverError) in try a.sle(b) } }

  package static func select(_ condition: SymbolicBool, _ whenTrue: SymbolicWord, _ whenFalse: SymbolicWord) -> SymbolicWord {
    if let known = condition.knownValue { return known ? whenTrue : whenFalse }
    if let a = whenTrue.knownValue, let b = whenFalse.knownValue, a == b { return whenTrue }
    let (c, t, e) = (condition.term, whenTrue.term, whenFalse.term)
    return SymbolicWord(context: condition.context, storage: .term(must { () throws(SolverError) in try Term.ite(c, t, e) }))
  }
}

/// Runs a Z3 construction that cannot fail for well-formed 64-bit words.
/// A failure here is a bug in this module, reported with Z3's message.
func must<T>(_ body: () throws(SolverError) -> T) -> T {
  do {
    return try body()
  } catch {
    preconditionFailure("SymbolicWord: Z3 rejected a well-formed operation: \(error)")
  }
}
