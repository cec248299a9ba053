/// A Z3 term of any sort: Boolean, bit-vector or array.
///
/// One untyped term type, as in Alive2's `expr`: Z3 checks sorts, and a
/// mismatch is thrown as a ``SolverError`` with Z3's message. Operators read
/// like the math and throw, so one `try` covers an expression:
///
///     let claim = try (x + y) == (y + x)
///
/// `==` builds a Boolean term, so `Term` is not `Equatable`; structural
/// identity is ``isIdentical(to:)``.
package struct Term: CustomStringConvertible {
  let reference: ASTReference

  init(_ reference: ASTReference) {
    self.reference = reference
  }

  /// The context this term belongs to.
  package var context: Context { reference.context }

  package var sort: Sort {
    get throws(SolverError) { Sort(try context.sortOf(reference.ast)) }
  }

  /// The width of a bit-vector term, nil for other sorts.
  package var bitVectorWidth: Int? {
    (try? sort)?.bitVectorWidth
  }

  /// The value of a numeral or a Boolean literal (1 or 0); nil when the term
  /// is anything else (Z3 does not simplify on construction).
  package var literalValue: UInt64? { context.rawLiteralValue(reference.ast) }

  /// Structural identity (Z3 hash-conses terms). The corresponding Z3 function is `Z3_is_eq_ast`.
  package func isIdentical(to other: Term) -> Bool {
    context === other.context && context.rawIsIdentical(reference.ast, other.reference.ast)
  }

  /// Z3's id for this term. Z3 recycles the ids of freed terms, so the
  /// largest id in use measures how many terms are alive: a clear-box hook
  /// for the reference-counting tests.
  package var z3Identifier: UInt32 { context.rawIdentifier(reference.ast) }

  /// Z3's rewriter applied to this term. The corresponding Z3 function is `Z3_simplify`.
  package func simplified() throws(SolverError) -> Term {
    Term(try context.rawSimplify(reference.ast))
  }

  /// SMT-LIB text of the term.
  package var description: String { context.rawText(reference.ast) }

  // MARK: Building blocks

  func unary(_ operation: UnaryOperation) throws(SolverError) -> Term {
    Term(try context.apply(operation, reference.ast))
  }

  func binary(_ operation: BinaryOperation, _ other: Term) throws(SolverError) -> Term {
    try context.checkOwnership(other.reference)
    return Term(try context.apply(operation, reference.ast, other.reference.ast))
  }

  /// A literal of this term's bit-vector width, for `term + 1` style operands.
  func literal(_ value: UInt64) throws(SolverError) -> Term {
    guard let width = bitVectorWidth else {
      throw SolverError(
        kind: .sortMismatch, message: "an integer operand needs a bit-vector term, got \(self)")
    }
    let truncated = width == 64 ? value : value & ((1 << UInt64(width)) - 1)
    guard truncated == value else {
      throw SolverError(kind: .invalidArgument, message: "literal \(value) does not fit in \(width) bits")
    }
    return try context.bitVector(value, width: width)
  }
}

enum UnaryOperation {
  case bitwiseNot, negate, logicalNot
  case extract(high: Int, low: Int)
  case zeroExtend(Int), signExtend(Int)
}

enum BinaryOperation: Equatable {
  case add, subtract, multiply, unsignedDivide, unsignedRemainder
  case bitwiseAnd, bitwiseOr, bitwiseXor
  case shiftLeft, logicalShiftRight, arithmeticShiftRight
  case concat
  case unsignedLess, unsignedLessOrEqual, unsignedGreater, unsignedGreaterOrEqual
  case signedLess, signedLessOrEqual, signedGreater, signedGreaterOrEqual
  case equal, implies, and, or
  case select
}
