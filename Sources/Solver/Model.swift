/// A satisfying assignment found by a check.
package struct Model: CustomStringConvertible {
  let reference: ObjectReference

  init(_ reference: ObjectReference) {
    self.reference = reference
  }

  var context: Context { reference.context }

  /// `term` under this model, with model completion: constants the model
  /// leaves open take a default value. The corresponding Z3 function is `Z3_model_eval`.
  package func evaluate(_ term: Term) throws(SolverError) -> Term {
    try context.checkOwnership(term.reference)
    return Term(try context.rawEvaluate(reference.pointer, term.reference.ast))
  }

  /// The value of a bit-vector term of at most 64 bits (or a Boolean, as 1 or 0).
  package func value(of term: Term) throws(SolverError) -> UInt64 {
    let evaluated = try evaluate(term)
    guard let value = evaluated.literalValue else {
      throw SolverError(
        kind: .invalidArgument,
        message: "\(term) has no value of at most 64 bits in the model (got \(evaluated))")
    }
    return value
  }

  /// The value of a Boolean term.
  package func bool(of term: Term) throws(SolverError) -> Bool {
    try value(of: term) != 0
  }

  /// The constants the model assigns, by name, with their values as terms.
  package func assignments() throws(SolverError) -> [(name: String, value: Term)] {
    try context.rawModelConstants(reference.pointer).map { constant throws(SolverError) in
      (constant.name, try evaluate(Term(constant.term)))
    }
  }

  package var description: String { context.rawModelText(reference.pointer) }
}
