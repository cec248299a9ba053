import Foundation
import Solver
import Spec
import SymbolicWord

/// A Z3 context and solver for one theorem, with the timeout and seed the
/// catalogue fixes, and the discipline every claim goes through.
package final class ProofSession {
  package let context: Context
  /// The incremental solver claims are decided in (unless they ask for
  /// fresh solvers). Replaced by a new one after a claim during which it
  /// answered unknown: Z3 can leave an interrupted solver answering sat with
  /// models that break its assertions, and one claim's timeout must not
  /// change another claim's answer.
  package private(set) var solver: Solver
  package let timeout: Duration
  /// Where to write each query as SMT-LIB 2, if asked.
  let dumpDirectory: URL?

  /// Z3's random seed for every solver of this session.
  let seed: UInt32

  /// Whether Bitwuzla may answer the non-incremental checks.
  let secondSolver: SecondSolver
  /// Started on the first check that may use it.
  private var oracle: SMTLibOracle?
  private var oracleTried = false
  private var oracleFailure: SolverError?
  /// How many claim queries (and `p2m.step` paths) each solver decided:
  /// an unsat from either, a sat (with the model checked) from Z3.
  package private(set) var deciders: [String: Int] = [:]

  init(timeout: Duration, seed: UInt32, dumpDirectory: URL?, secondSolver: SecondSolver = .environmentDefault) throws(SolverError) {
    self.seed = seed
    context = Context()
    solver = try Solver(context: context, timeout: timeout, randomSeed: seed)
    self.timeout = timeout
    self.dumpDirectory = dumpDirectory
    self.secondSolver = secondSolver
  }

  deinit { oracle?.stop() }

  /// Bitwuzla's answer on `solver`'s assertions (fresh, never pushed),
  /// nil when it is not to be asked: `off`, tests that script the checks,
  /// or (under `auto`) a machine without it. Under `on`, a missing
  /// Bitwuzla is an error.
  private func secondOpinion(_ solver: Solver, timeout: Duration? = nil) throws(SolverError) -> SMTLibOracle.Answer? {
    if let secondOpinionOverride { return secondOpinionOverride(solver) }
    return try secondSolverIfAsked()?.check(solver, timeout: timeout ?? self.timeout)
  }

  /// The session's Bitwuzla helper, started on first use; nil when it is
  /// not to be asked.
  private func secondSolverIfAsked() throws(SolverError) -> SMTLibOracle? {
    guard secondSolver != .off, checkOverride == nil else { return nil }
    if !oracleTried {
      oracleTried = true
      do { oracle = try SecondSolver.start() } catch { oracleFailure = error }
    }
    if secondSolver == .on, let oracleFailure { throw oracleFailure }
    return oracle
  }

  /// Replaces Bitwuzla's answers, so tests can make the two solvers
  /// disagree.
  var secondOpinionOverride: ((Solver) -> SMTLibOracle.Answer)?
  /// The second solver's name as reports give it.
  private var secondName: String { oracle?.name ?? "Bitwuzla" }

  private func decided(by name: String) { deciders[name, default: 0] += 1 }

  /// Whether `conditions` can hold together, asked of a new solver:
  /// Bitwuzla first when it is there, then Z3; unknown when neither knows.
  func satisfiable(_ conditions: [SymbolicBool], timeout: Duration) throws(SolverError) -> Bool? {
    let fresh = try newSolver(timeout: timeout)
    for condition in conditions { try fresh.assert(condition.term) }
    switch try secondOpinion(fresh, timeout: timeout) {
    case .sat: return true
    case .unsat: return false
    case .unknown, nil: break
    }
    switch try fresh.check() {
    case .sat: return true
    case .unsat: return false
    case .unknown: return nil
    }
  }

  /// The claim being explained: the solver its query is asserted in, what
  /// a counterexample must satisfy (the hypotheses, then the negated claim)
  /// and the first model handed to ``minimize(_:variables:)`` that failed
  /// it. Set only while `explain` runs.
  private struct Obligation {
    let query: Solver
    let conditions: [Term]
    var flaw: String?
  }
  private var obligation: Obligation?
  /// Facts ``assuming(_:_:)`` added to the claim's query, for a fresh
  /// ``refine(with:timeout:fresh:)``.
  private var assumed: [Term] = []
  /// Set when the session's solver gave a model that breaks its own
  /// assertions: it is replaced as after an unknown.
  private var solverMisbehaved = false

  /// Replaces every check of a claim's hypotheses and query, so tests can
  /// hand ``decide(_:claim:hypotheses:freshSolvers:explain:)`` a model Z3
  /// would not give: the refutation checks cannot be tested on a solver
  /// that behaves.
  var checkOverride: ((Solver) throws -> CheckResult)?

  private func check(_ solver: Solver) throws -> CheckResult {
    if let checkOverride { return try checkOverride(solver) }
    return try solver.check()
  }

  /// Why `model` is no counterexample to a claim whose obligation is
  /// `conditions` (hypotheses, then the negated claim), or nil when it is one.
  static func flaw(in model: Model, conditions: [Term]) throws -> String? {
    guard let index = try Solver.firstViolated(conditions, by: model) else { return nil }
    let what = index == conditions.count - 1 ? "the negated claim" : "hypothesis \(index + 1) of \(conditions.count - 1)"
    return "the solver's model violates \(what), so it is no counterexample"
  }

  /// A new solver in place of the session's once a check in it answered
  /// unknown or gave a bad model.
  private func resetSolverIfInterrupted() {
    guard solver.hasAnsweredUnknown || solverMisbehaved, let fresh = try? newSolver() else { return }
    solver = fresh
    solverMisbehaved = false
  }

  /// A fresh 64-bit variable.
  package func word(_ name: String) throws(SolverError) -> SymbolicWord {
    try SymbolicWord.variable(name, in: context)
  }

  package func constant(_ value: UInt64) -> SymbolicWord { SymbolicWord(value, in: context) }

  /// A fresh unconstrained function from words to words (a Z3 array read
  /// at each argument): a memory, a table, a map a claim quantifies over.
  func wordArray(_ name: String) throws(SolverError) -> (SymbolicWord) -> SymbolicWord {
    let bv64 = try context.bitVectorSort(width: 64)
    let array = try context.constant(name, sort: context.arraySort(domain: bv64, range: bv64))
    // `select` only fails on a sort mismatch, which these terms cannot have.
    return { index in z3 { () throws(SolverError) in try SymbolicWord(array.select(index.term)) } }
  }

  /// Decides `claim` under `hypotheses`: hypotheses satisfiable first (a
  /// vacuous claim is reported, never proved), then the negated claim.
  /// A counterexample model is handed to `explain`, still inside the
  /// solver scope so it can ask Z3 for simpler values.
  ///
  /// A refutation is a promise as strong as a proof, so it is never taken
  /// on the solver's word: the model is evaluated against every hypothesis
  /// and the negated claim first, and so is every model
  /// ``minimize(_:variables:)`` passes on; a model that fails is `unknown`
  /// with the reason, never `refuted`.
  ///
  /// With `freshSolvers`, each check gets a new solver, never pushed: Z3
  /// then preprocesses the query as a whole (solving equations, eliminating
  /// unconstrained terms) as it does for a file, which it cannot do under
  /// push/pop. The inductive claims, whose state is unconstrained arrays,
  /// need it: an incremental check of a `p2m.step` path times out after
  /// 10 s where a fresh one answers in under a second (Debian's libz3
  /// 4.8.12, BENCHMARKS.md "p2m.step").
  ///
  /// With `checkingHypotheses` false the hypotheses are not checked on
  /// their own: for one path of many (`p2m.step`), where an infeasible
  /// path is simply not a run and the theorem shows once that its
  /// hypotheses admit the runs it is about.
  package func decide(
    _ name: String, claim: SymbolicBool, hypotheses: [SymbolicBool], freshSolvers: Bool = false, checkingHypotheses: Bool = true,
    explain: (Model) throws -> (reason: String, scenario: String?, replayed: Bool?, values: [String: UInt64]) = { _ in ("", nil, nil, [:]) }
  ) throws -> Finding {
    let clock = ContinuousClock()
    let start = clock.now
    func seconds() -> Double {
      let elapsed = clock.now - start
      return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    }
    let conditions = hypotheses.map(\.term) + [claim.negated().term]
    func judge(premises: Solver, query: Solver) throws -> Finding {
      // Only a fresh solver holds the whole query for a second solver.
      let fresh = query !== premises
      // A fresh premises solver is only for checking the hypotheses.
      if checkingHypotheses || !fresh {
        for hypothesis in hypotheses { try premises.assert(hypothesis.term) }
        if let dumpDirectory { try premises.dumpSMTLib2(named: name + ".hypotheses", into: dumpDirectory) }
      }
      // A satisfiable premise needs no model: Bitwuzla's sat will do.
      if try checkingHypotheses && (!fresh || secondOpinion(premises) != .sat) {
        switch try check(premises) {
        case .unsat: return Finding(claim: name, verdict: .vacuous, reason: "the hypotheses are unsatisfiable", seconds: seconds())
        case .unknown(let reason): return Finding(claim: name, verdict: .unknown, reason: "hypotheses: \(reason)", seconds: seconds())
        case .sat: break
        }
      }
      if fresh { for hypothesis in hypotheses { try query.assert(hypothesis.term) } }
      try query.assert(claim.negated().term)
      if let dumpDirectory { try query.dumpSMTLib2(named: name, into: dumpDirectory) }
      let second = fresh ? try secondOpinion(query) : nil
      if second == .unsat {
        decided(by: secondName)
        return Finding(claim: name, verdict: .proved, seconds: seconds())
      }
      switch try check(query) {
      case .unsat:
        if second == .sat {
          // Two solvers contradict each other on one query: neither
          // answer is a promise.
          return Finding(
            claim: name, verdict: .unknown, reason: "the solvers disagree: \(secondName) finds a counterexample, Z3 \(Context.z3Version) proves it",
            seconds: seconds())
        }
        decided(by: "Z3 " + Context.z3Version)
        return Finding(claim: name, verdict: .proved, seconds: seconds())
      case .unknown(let reason):
        return Finding(claim: name, verdict: .unknown, reason: reason, seconds: seconds())
      case .sat(let model):
        decided(by: "Z3 " + Context.z3Version)
        if let flaw = try Self.flaw(in: model, conditions: conditions) {
          solverMisbehaved = true
          return Finding(claim: name, verdict: .unknown, reason: flaw, seconds: seconds())
        }
        obligation = Obligation(query: query, conditions: conditions)
        defer { obligation = nil }
        let explanation = try explain(model)
        if let flaw = obligation?.flaw {
          solverMisbehaved = true
          return Finding(claim: name, verdict: .unknown, reason: flaw, seconds: seconds())
        }
        return Finding(
          claim: name, verdict: .refuted, reason: explanation.reason, seconds: seconds(),
          counterexample: explanation.scenario, replayed: explanation.replayed, values: explanation.values)
      }
    }
    if freshSolvers {
      let query = try newSolver()
      // Unused without the hypotheses check: any solver other than the
      // query's will do, so none is made.
      return try judge(premises: checkingHypotheses ? try newSolver() : solver, query: query)
    }
    defer { resetSolverIfInterrupted() }
    let session = solver
    return try session.withScope { try judge(premises: session, query: session) }
  }

  /// A solver of this session's context and seed, with its timeout (the
  /// session's by default), never pushed.
  func newSolver(timeout: Duration? = nil) throws(SolverError) -> Solver {
    try Solver(context: context, timeout: timeout ?? self.timeout, randomSeed: seed)
  }

  /// Whether `conditions` hold together in some model: a witness that a
  /// claim's hypotheses admit the runs it is about, not only degenerate
  /// ones. An unknown answer counts as no witness.
  package func isSatisfiable(_ conditions: [SymbolicBool]) throws -> Bool {
    try satisfiable(conditions, timeout: timeout) == true
  }

  /// A model of the claim's query (as ``minimize(_:variables:)`` asks it)
  /// that also satisfies `extra`: a counterexample narrowed to what a
  /// concrete replay can build. Nil when there is none, or none within
  /// `timeout`, or the solver's model breaks the claim's conditions.
  ///
  /// With `fresh`, the claim's conditions and `extra` go to a new solver
  /// checked once: Z3's non-incremental path, far faster on a hard query
  /// than adding to the claim's solver after its check.
  ///
  /// With `guide` (constants of the query) and Bitwuzla at hand, Bitwuzla
  /// is asked first for a model and its values of `guide`; Z3 then looks
  /// for its own model with those values pinned, a far easier query (a
  /// counterexample platform's sizes found in seconds where Z3 alone can
  /// run out of time). The model is Z3's, checked as always; when the
  /// guided search finds none, Z3 searches alone.
  package func refine(with extra: [SymbolicBool], timeout: Duration = .seconds(10), fresh: Bool = false, guide: [SymbolicWord] = []) throws -> Model? {
    if fresh, let obligation {
      func solver(_ facts: [SymbolicBool]) throws -> Solver {
        let solver = try newSolver(timeout: timeout)
        for condition in obligation.conditions + assumed { try solver.assert(condition) }
        for fact in facts { try solver.assert(fact.term) }
        return solver
      }
      let constants = guide.filter { !$0.term.description.contains("(") }
      if !constants.isEmpty, let oracle = try secondSolverIfAsked(),
        let values = oracle.values(try solver(extra), of: constants.map(\.term), timeout: timeout)
      {
        let pinned = try solver(extra + zip(constants, values).map { $0 == $1 })
        if case .sat(let refined) = try pinned.check(), try Self.flaw(in: refined, conditions: obligation.conditions) == nil {
          return refined
        }
      }
      guard case .sat(let refined) = try solver(extra).check() else { return nil }
      return try Self.flaw(in: refined, conditions: obligation.conditions) == nil ? refined : nil
    }
    let solver = obligation?.query ?? solver
    try solver.push()
    defer { try? solver.pop() }
    for fact in extra { try solver.assert(fact.term) }
    guard case .sat(let refined) = try solver.check(timeout: timeout) else { return nil }
    if let obligation, try Self.flaw(in: refined, conditions: obligation.conditions) != nil { return nil }
    // A model outlives the scope it was found in.
    return refined
  }

  /// Runs `body` with `facts` added to the claim's query (as
  /// ``minimize(_:variables:)`` asks it), so that what it minimizes keeps
  /// them.
  package func assuming<T>(_ facts: [SymbolicBool], _ body: () throws -> T) throws -> T {
    let solver = obligation?.query ?? solver
    try solver.push()
    let outer = assumed
    assumed += facts.map(\.term)
    defer {
      try? solver.pop()
      assumed = outer
    }
    for fact in facts { try solver.assert(fact.term) }
    return try body()
  }

  /// Alive2-style minimization: each variable in turn is pinned to the
  /// first candidate that keeps the (already asserted) counterexample
  /// satisfiable, so the values shown are small and round. Returns the
  /// final model.
  ///
  /// Inside ``decide(_:claim:hypotheses:freshSolvers:explain:)`` it asks the
  /// claim's own solver and keeps only models that satisfy the claim's
  /// hypotheses and negated claim; a `model` that does not marks the claim
  /// `unknown`.
  package func minimize(_ model: Model, variables: [(SymbolicWord, [UInt64])]) throws -> Model {
    let solver = obligation?.query ?? solver
    func flaw(_ candidate: Model) throws -> String? {
      guard let obligation else { return nil }
      return try Self.flaw(in: candidate, conditions: obligation.conditions)
    }
    if let flaw = try flaw(model) {
      if obligation?.flaw == nil { obligation?.flaw = flaw }
      return model
    }
    var current = model
    var scopes = 0
    defer { for _ in 0..<scopes { try? solver.pop() } }
    for (variable, candidates) in variables {
      let value = try current.value(of: variable.term)
      var pinned = false
      for candidate in candidates where candidate != value {
        try solver.push()
        scopes += 1
        try solver.assert(variable.term == candidate)
        if case .sat(let better) = try solver.check(timeout: .milliseconds(500)), try flaw(better) == nil {
          current = better
          pinned = true
          break  // keep the scope: the pin stays for the later variables
        }
        try solver.pop()
        scopes -= 1
      }
      if !pinned {
        try solver.push()
        scopes += 1
        try solver.assert(variable.term == value)
      }
    }
    // A model outlives the scopes it was found in.
    return current
  }
}
