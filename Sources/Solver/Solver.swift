import Foundation

/// An incremental Z3 solver: assertions, push/pop scopes, checks with a
/// timeout and a fixed random seed.
///
/// Three-valued on purpose (Alive2's CORRECT / UNSOUND / FAILED_TO_PROVE): an
/// interrupted or incomplete check is ``CheckResult/unknown(reason:)`` and is
/// never folded into `unsat`.
package final class Solver {
  package let context: Context
  let reference: ObjectReference
  /// The timeout of each check, unless a check names its own; nil for none.
  package var timeout: Duration?
  /// Z3's `random_seed`, fixed so that runs repeat.
  package let randomSeed: UInt32
  /// Whether some check of this solver answered unknown. Z3 (Debian's
  /// 4.8.12) can leave an interrupted incremental solver in a state where
  /// later checks answer sat with models that break the assertions, so an
  /// owner that must not let one timeout change another answer replaces a
  /// solver once this is set.
  package private(set) var hasAnsweredUnknown = false

  /// - Parameters:
  ///   - logic: an SMT-LIB logic such as `"QF_ABV"`, or nil for Z3's default
  ///     solver. The corresponding Z3 functions are `Z3_mk_solver_for_logic`
  ///     and `Z3_mk_solver`.
  ///   - timeout: the default per-check timeout, nil for none.
  ///   - randomSeed: Z3's `random_seed` parameter.
  package init(
    context: Context, logic: String? = nil, timeout: Duration? = nil, randomSeed: UInt32 = 0
  ) throws(SolverError) {
    self.context = context
    self.reference = try context.rawSolver(logic: logic)
    self.timeout = timeout
    self.randomSeed = randomSeed
  }

  var pointer: OpaquePointer { reference.pointer }

  /// Adds `claim`, a Boolean term, to the current scope.
  /// The corresponding Z3 function is `Z3_solver_assert`.
  package func assert(_ claim: Term) throws(SolverError) {
    try context.checkOwnership(claim.reference)
    try context.rawAssert(pointer, claim.reference.ast)
  }

  /// Opens a scope. The corresponding Z3 function is `Z3_solver_push`.
  package func push() throws(SolverError) { try context.rawPush(pointer) }

  /// Drops the assertions of the innermost scope. The corresponding Z3 function is `Z3_solver_pop`.
  package func pop() throws(SolverError) {
    guard scopeCount > 0 else {
      throw SolverError(kind: .invalidUsage, message: "pop without a matching push")
    }
    try context.rawPop(pointer)
  }

  /// The number of open scopes. The corresponding Z3 function is `Z3_solver_get_num_scopes`.
  package var scopeCount: Int { context.rawScopeCount(pointer) }

  /// Runs `body` inside a push/pop pair, popping even when it throws.
  package func withScope<Result>(_ body: () throws -> Result) throws -> Result {
    try push()
    defer { try? pop() }
    return try body()
  }

  /// Decides the current assertions.
  /// The corresponding Z3 function is `Z3_solver_check`.
  /// - Parameter timeout: overrides ``timeout`` for this check.
  package func check(timeout: Duration? = nil) throws(SolverError) -> CheckResult {
    try context.rawSetSolverParameters(
      pointer, timeoutMilliseconds: (timeout ?? self.timeout).map(Solver.milliseconds),
      randomSeed: randomSeed)
    switch try context.rawCheck(pointer) {
    case .unsat: return .unsat
    case .sat(let model): return .sat(Model(model))
    case .unknown(let reason):
      hasAnsweredUnknown = true
      return .unknown(reason: reason)
    }
  }

  /// The first of `conditions` that `model` does not make true (with model
  /// completion), as its index; nil when the model satisfies them all.
  ///
  /// A sat answer is only as good as its model: checking the model against
  /// the formulas it is meant to satisfy costs an evaluation and turns a
  /// solver malfunction into an unknown instead of a wrong counterexample.
  package static func firstViolated(_ conditions: [Term], by model: Model) throws(SolverError) -> Int? {
    for (index, condition) in conditions.enumerated() where try model.evaluate(condition).literalValue != 1 {
      return index
    }
    return nil
  }

  /// Decides whether `claim` holds in every model of the current assertions
  /// and `hypotheses`.
  ///
  /// The hypotheses are first checked satisfiable on their own: a claim that
  /// follows from contradictory hypotheses is ``ProofResult/vacuous``, never
  /// proved. A counterexample is evaluated against the hypotheses and the
  /// negated claim before it is returned; one that fails them is
  /// ``ProofResult/unknown(reason:)``. Both checks run in a scope that is
  /// popped afterwards.
  package func prove(
    _ claim: Term, assuming hypotheses: [Term] = [], timeout: Duration? = nil
  ) throws -> ProofResult {
    try withScope {
      for hypothesis in hypotheses { try assert(hypothesis) }
      if !hypotheses.isEmpty {
        switch try check(timeout: timeout) {
        case .unsat: return .vacuous
        case .unknown(let reason): return .unknown(reason: "hypotheses: \(reason)")
        case .sat: break
        }
      }
      try assert(!claim)
      switch try check(timeout: timeout) {
      case .unsat: return .proved
      case .sat(let model):
        if let index = try Solver.firstViolated(hypotheses + [!claim], by: model) {
          hasAnsweredUnknown = true
          return .unknown(reason: "the model Z3 gave violates \(index == hypotheses.count ? "the negated claim" : "hypothesis \(index + 1)")")
        }
        return .counterexample(model)
      case .unknown(let reason): return .unknown(reason: reason)
      }
    }
  }

  /// The current assertions as an SMT-LIB 2 script headed by `name`, ending
  /// in `(check-sat)`: a self-contained query for a bug report.
  /// The corresponding Z3 function is `Z3_solver_to_string`.
  package func smtLib2(named name: String) -> String {
    "; query: \(name)\n(set-option :random-seed \(randomSeed))\n"
      + context.rawSolverText(pointer) + "(check-sat)\n"
  }

  /// The declarations and assertions as SMT-LIB 2, without `check-sat`:
  /// what ``SMTLibOracle`` hands a second solver.
  package func assertionsText() -> String { context.rawSolverText(pointer) }

  /// Writes ``smtLib2(named:)`` to `<directory>/<name>.smt2` and returns its URL.
  @discardableResult
  package func dumpSMTLib2(named name: String, into directory: URL) throws -> URL {
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let safeName = String(name.map { $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" ? $0 : "_" })
    let url = directory.appendingPathComponent(safeName + ".smt2")
    try smtLib2(named: name).write(to: url, atomically: true, encoding: .utf8)
    return url
  }

  static func milliseconds(_ duration: Duration) -> UInt32 {
    let (seconds, attoseconds) = duration.components
    let total = seconds * 1000 + attoseconds / 1_000_000_000_000_000
    // Z3 reads a timeout of 0 as "no timeout"; the shortest real one is 1 ms.
    return UInt32(clamping: max(total, 1))
  }
}

/// The answer of ``Solver/check(timeout:)``.
package enum CheckResult {
  case unsat
  case sat(Model)
  /// Z3 gave up: timeout, resource limit or incompleteness, with its reason.
  case unknown(reason: String)

  package var isUnsat: Bool { if case .unsat = self { true } else { false } }
  package var model: Model? { if case .sat(let model) = self { model } else { nil } }
}

/// The answer of ``Solver/prove(_:assuming:timeout:)``.
package enum ProofResult {
  /// The claim holds in every model of the (satisfiable) hypotheses.
  case proved
  /// A model of the hypotheses in which the claim is false.
  case counterexample(Model)
  /// Z3 could not decide; never to be read as proved.
  case unknown(reason: String)
  /// The hypotheses contradict each other, so the proof would say nothing.
  case vacuous

  package var isProved: Bool { if case .proved = self { true } else { false } }
  package var counterexample: Model? {
    if case .counterexample(let model) = self { model } else { nil }
  }
}
