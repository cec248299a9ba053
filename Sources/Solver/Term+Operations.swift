// Bit-vector, Boolean and array operations on terms. Each names the Z3
// function it builds; all throw Z3's sort errors.

// MARK: - Bit-vector arithmetic and logic (wrapping, as the hardware)

extension Term {
  /// Wrapping addition. The corresponding Z3 function is `Z3_mk_bvadd`.
  package static func + (lhs: Term, rhs: Term) throws(SolverError) -> Term { try lhs.binary(.add, rhs) }
  /// Wrapping subtraction. The corresponding Z3 function is `Z3_mk_bvsub`.
  package static func - (lhs: Term, rhs: Term) throws(SolverError) -> Term { try lhs.binary(.subtract, rhs) }
  /// Wrapping multiplication. The corresponding Z3 function is `Z3_mk_bvmul`.
  package static func * (lhs: Term, rhs: Term) throws(SolverError) -> Term { try lhs.binary(.multiply, rhs) }
  /// The corresponding Z3 function is `Z3_mk_bvand`.
  package static func & (lhs: Term, rhs: Term) throws(SolverError) -> Term { try lhs.binary(.bitwiseAnd, rhs) }
  /// The corresponding Z3 function is `Z3_mk_bvor`.
  package static func | (lhs: Term, rhs: Term) throws(SolverError) -> Term { try lhs.binary(.bitwiseOr, rhs) }
  /// The corresponding Z3 function is `Z3_mk_bvxor`.
  package static func ^ (lhs: Term, rhs: Term) throws(SolverError) -> Term { try lhs.binary(.bitwiseXor, rhs) }
  /// The corresponding Z3 function is `Z3_mk_bvnot`.
  package static prefix func ~ (operand: Term) throws(SolverError) -> Term { try operand.unary(.bitwiseNot) }
  /// Two's-complement negation. The corresponding Z3 function is `Z3_mk_bvneg`.
  package static prefix func - (operand: Term) throws(SolverError) -> Term { try operand.unary(.negate) }
  /// Shift left; amounts ≥ width give 0. The corresponding Z3 function is `Z3_mk_bvshl`.
  package static func << (lhs: Term, rhs: Term) throws(SolverError) -> Term { try lhs.binary(.shiftLeft, rhs) }
  /// Logical shift right; amounts ≥ width give 0. The corresponding Z3 function is `Z3_mk_bvlshr`.
  package static func >> (lhs: Term, rhs: Term) throws(SolverError) -> Term {
    try lhs.binary(.logicalShiftRight, rhs)
  }

  /// Unsigned division (x / 0 = all ones). The corresponding Z3 function is `Z3_mk_bvudiv`.
  package func unsignedDivided(by divisor: Term) throws(SolverError) -> Term {
    try binary(.unsignedDivide, divisor)
  }
  /// Unsigned remainder (x % 0 = x). The corresponding Z3 function is `Z3_mk_bvurem`.
  package func unsignedRemainder(dividingBy divisor: Term) throws(SolverError) -> Term {
    try binary(.unsignedRemainder, divisor)
  }
  /// Arithmetic shift right. The corresponding Z3 function is `Z3_mk_bvashr`.
  package func arithmeticShiftedRight(by amount: Term) throws(SolverError) -> Term {
    try binary(.arithmeticShiftRight, amount)
  }

  // Integer right-hand operands become literals of the left operand's width.
  package static func + (lhs: Term, rhs: UInt64) throws(SolverError) -> Term { try lhs + lhs.literal(rhs) }
  package static func - (lhs: Term, rhs: UInt64) throws(SolverError) -> Term { try lhs - lhs.literal(rhs) }
  package static func * (lhs: Term, rhs: UInt64) throws(SolverError) -> Term { try lhs * lhs.literal(rhs) }
  package static func & (lhs: Term, rhs: UInt64) throws(SolverError) -> Term { try lhs & lhs.literal(rhs) }
  package static func | (lhs: Term, rhs: UInt64) throws(SolverError) -> Term { try lhs | lhs.literal(rhs) }
  package static func ^ (lhs: Term, rhs: UInt64) throws(SolverError) -> Term { try lhs ^ lhs.literal(rhs) }
  package static func << (lhs: Term, rhs: UInt64) throws(SolverError) -> Term { try lhs << lhs.literal(rhs) }
  package static func >> (lhs: Term, rhs: UInt64) throws(SolverError) -> Term { try lhs >> lhs.literal(rhs) }
}

// MARK: - Width changes

extension Term {
  /// Bits `high` down to `low`, inclusive, as a bit-vector of `high - low + 1`
  /// bits. The corresponding Z3 function is `Z3_mk_extract`.
  package func extract(high: Int, low: Int) throws(SolverError) -> Term {
    try unary(.extract(high: high, low: low))
  }

  /// `self` in the high bits, `low` in the low bits.
  /// The corresponding Z3 function is `Z3_mk_concat`.
  package func concat(_ low: Term) throws(SolverError) -> Term { try binary(.concat, low) }

  /// `bits` more zero bits on top. The corresponding Z3 function is `Z3_mk_zero_ext`.
  package func zeroExtended(by bits: Int) throws(SolverError) -> Term { try unary(.zeroExtend(bits)) }

  /// `bits` more copies of the sign bit on top. The corresponding Z3 function is `Z3_mk_sign_ext`.
  package func signExtended(by bits: Int) throws(SolverError) -> Term { try unary(.signExtend(bits)) }
}

// MARK: - Comparisons (Boolean results)

extension Term {
  /// Equality of any two terms of one sort. The corresponding Z3 function is `Z3_mk_eq`.
  package static func == (lhs: Term, rhs: Term) throws(SolverError) -> Term { try lhs.binary(.equal, rhs) }
  package static func != (lhs: Term, rhs: Term) throws(SolverError) -> Term { try !(lhs == rhs) }
  package static func == (lhs: Term, rhs: UInt64) throws(SolverError) -> Term { try lhs == lhs.literal(rhs) }
  package static func != (lhs: Term, rhs: UInt64) throws(SolverError) -> Term { try !(lhs == rhs) }

  /// Unsigned `<`. The corresponding Z3 function is `Z3_mk_bvult`.
  package func ult(_ other: Term) throws(SolverError) -> Term { try binary(.unsignedLess, other) }
  /// Unsigned `<=`. The corresponding Z3 function is `Z3_mk_bvule`.
  package func ule(_ other: Term) throws(SolverError) -> Term { try binary(.unsignedLessOrEqual, other) }
  /// Unsigned `>`. The corresponding Z3 function is `Z3_mk_bvugt`.
  package func ugt(_ other: Term) throws(SolverError) -> Term { try binary(.unsignedGreater, other) }
  /// Unsigned `>=`. The corresponding Z3 function is `Z3_mk_bvuge`.
  package func uge(_ other: Term) throws(SolverError) -> Term { try binary(.unsignedGreaterOrEqual, other) }
  /// Signed `<`. The corresponding Z3 function is `Z3_mk_bvslt`.
  package func slt(_ other: Term) throws(SolverError) -> Term { try binary(.signedLess, other) }
  /// Signed `<=`. The corresponding Z3 function is `Z3_mk_bvsle`.
  package func sle(_ other: Term) throws(SolverError) -> Term { try binary(.signedLessOrEqual, other) }
  /// Signed `>`. The corresponding Z3 function is `Z3_mk_bvsgt`.
  package func sgt(_ other: Term) throws(SolverError) -> Term { try binary(.signedGreater, other) }
  /// Signed `>=`. The corresponding Z3 function is `Z3_mk_bvsge`.
  package func sge(_ other: Term) throws(SolverError) -> Term { try binary(.signedGreaterOrEqual, other) }
}

// MARK: - Boolean connectives

extension Term {
  /// The corresponding Z3 function is `Z3_mk_and`.
  package static func && (lhs: Term, rhs: Term) throws(SolverError) -> Term { try lhs.binary(.and, rhs) }
  /// The corresponding Z3 function is `Z3_mk_or`.
  package static func || (lhs: Term, rhs: Term) throws(SolverError) -> Term { try lhs.binary(.or, rhs) }
  /// The corresponding Z3 function is `Z3_mk_not`.
  package static prefix func ! (operand: Term) throws(SolverError) -> Term { try operand.unary(.logicalNot) }
  /// The corresponding Z3 function is `Z3_mk_implies`.
  package func implies(_ consequence: Term) throws(SolverError) -> Term { try binary(.implies, consequence) }

  /// `condition ? whenTrue : whenFalse` as a term. The corresponding Z3 function is `Z3_mk_ite`.
  package static func ite(_ condition: Term, _ whenTrue: Term, _ whenFalse: Term) throws(SolverError) -> Term {
    let context = condition.context
    try context.checkOwnership(whenTrue.reference, whenFalse.reference)
    return Term(
      try context.rawIfThenElse(
        condition.reference.ast, whenTrue.reference.ast, whenFalse.reference.ast))
  }
}

// MARK: - Arrays

extension Term {
  /// The element at `index`. The corresponding Z3 function is `Z3_mk_select`.
  package func select(_ index: Term) throws(SolverError) -> Term { try binary(.select, index) }

  /// This array with `value` at `index`. The corresponding Z3 function is `Z3_mk_store`.
  package func store(_ index: Term, _ value: Term) throws(SolverError) -> Term {
    try context.checkOwnership(index.reference, value.reference)
    return Term(try context.rawStore(reference.ast, index.reference.ast, value.reference.ast))
  }
}

