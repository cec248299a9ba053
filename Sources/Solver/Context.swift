internal import CZ3

/// A Z3 context: the owner of every sort, term, solver and model made in it.
///
/// Created with `Z3_mk_context_rc`, so each Z3 object lives exactly as long
/// as the Swift values that hold it (Alive2's reference-counting discipline).
/// An error handler that only records is installed, so a misuse of the API
/// becomes a thrown ``SolverError`` instead of Z3 exiting the process.
///
/// A context is not thread-safe; use one per task.
package final class Context {
  let raw: Z3_context

  /// Z3 objects currently referenced from Swift; a clear-box hook for the
  /// reference-counting tests.
  package internal(set) var liveReferences = 0

  package init() {
    raw = Context.makeRawContext()
  }

  deinit {
    Context.deleteRawContext(raw)
  }

  // MARK: Sorts

  /// The Boolean sort. The corresponding Z3 function is `Z3_mk_bool_sort`.
  package var boolSort: Sort {
    get throws(SolverError) { Sort(try rawBoolSort()) }
  }

  /// The sort of bit-vectors of `width` bits, 1 or more.
  /// The corresponding Z3 function is `Z3_mk_bv_sort`.
  package func bitVectorSort(width: Int) throws(SolverError) -> Sort {
    guard width >= 1 else {
      throw SolverError(kind: .invalidArgument, message: "bit-vector width \(width) is not positive")
    }
    return Sort(try rawBitVectorSort(width: width))
  }

  /// Arrays from `domain` to `range`. The corresponding Z3 function is `Z3_mk_array_sort`.
  package func arraySort(domain: Sort, range: Sort) throws(SolverError) -> Sort {
    try checkOwnership(domain.reference, range.reference)
    return Sort(try rawArraySort(domain: domain.reference.ast, range: range.reference.ast))
  }

  // MARK: Constants

  /// The literal `true` or `false`.
  package func bool(_ value: Bool) throws(SolverError) -> Term {
    Term(try rawBool(value))
  }

  /// A bit-vector literal of `width` bits (1...64); `value` must fit.
  /// The corresponding Z3 function is `Z3_mk_unsigned_int64`.
  package func bitVector(_ value: UInt64, width: Int) throws(SolverError) -> Term {
    guard (1...64).contains(width) else {
      throw SolverError(
        kind: .invalidArgument, message: "bit-vector literal width \(width) is not in 1...64")
    }
    guard width == 64 || value >> UInt64(width) == 0 else {
      throw SolverError(
        kind: .invalidArgument, message: "literal \(value) does not fit in \(width) bits")
    }
    let sort = try rawBitVectorSort(width: width)
    return Term(try rawNumeral(value, sort: sort.ast))
  }

  /// The uninterpreted constant called `name`; the same name and sort give
  /// the same constant. The corresponding Z3 function is `Z3_mk_const`.
  package func constant(_ name: String, sort: Sort) throws(SolverError) -> Term {
    try checkOwnership(sort.reference)
    return Term(try rawConstant(name, sort: sort.reference.ast))
  }

  /// A bit-vector constant named `name` of `width` bits.
  package func bitVectorConstant(_ name: String, width: Int) throws(SolverError) -> Term {
    try constant(name, sort: bitVectorSort(width: width))
  }

  /// A constant distinct from every other, its name starting with `prefix`.
  /// The corresponding Z3 function is `Z3_mk_fresh_const`.
  package func freshConstant(_ prefix: String, sort: Sort) throws(SolverError) -> Term {
    try checkOwnership(sort.reference)
    return Term(try rawFreshConstant(prefix, sort: sort.reference.ast))
  }

  /// The array mapping every index of `domain` to `value`.
  /// The corresponding Z3 function is `Z3_mk_const_array`.
  package func constantArray(domain: Sort, value: Term) throws(SolverError) -> Term {
    try checkOwnership(domain.reference, value.reference)
    return Term(try rawConstantArray(domain: domain.reference.ast, value: value.reference.ast))
  }

  /// Terms from two contexts must never meet: Z3 would read freed memory.
  func checkOwnership(_ references: ASTReference...) throws(SolverError) {
    for reference in references where reference.context !== self {
      throw SolverError(kind: .invalidUsage, message: "a term or sort from another context was used")
    }
  }
}
