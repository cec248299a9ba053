import Solver
import SymbolicWord

/// Symbolic execution one path at a time, depth first (KLEE's forking, on
/// the generic code's `when`): where a condition can go both ways under the
/// path so far, a run takes one side and a later run the other, until every
/// feasible path has run. A claim proved on every path is proved; each
/// path's state is a plain chain of writes, which Z3 decides far faster
/// than the `ite`-merged state of both sides at once.
///
/// Feasibility is asked of a fresh solver given the facts the step may
/// use (the invariant at the updated GFN, the request's ranges) and the
/// path's choices; an `unknown` counts as feasible, so a path is never
/// dropped for want of an answer.
final class PathExplorer {
  let context: Context
  private var script: [Bool] = []
  private var forks: [Bool] = []
  /// The conditions taken at forks in this run, and facts assumed in it.
  private(set) var pathCondition: [SymbolicBool] = []
  private(set) var facts: [SymbolicBool] = []
  private(set) var paths = 0
  /// Names of this run's fresh choices, numbered from 1 each run so a
  /// replayed decision meets the same constants.
  var freshCount = 0

  private(set) var base: [SymbolicBool]
  let seed: UInt32

  init(context: Context, base: [SymbolicBool], seed: UInt32) throws {
    self.context = context
    self.base = base
    self.seed = seed
  }

  /// Facts every path may use (the invariant at the updated GFN).
  func add(_ facts: [SymbolicBool]) { base += facts }

  /// Starts a run: the next path in depth-first order.
  func begin() {
    forks = []
    pathCondition = []
    facts = []
    freshCount = 0
  }

  /// Ends a run; whether another path remains.
  func end() -> Bool {
    paths += 1
    guard let last = forks.lastIndex(of: true) else { return false }
    script = Array(forks[..<last]) + [false]
    return true
  }

  /// A fact about this run's fresh choices (an allocation's page is free).
  func assume(_ fact: SymbolicBool) {
    facts.append(fact)
  }

  /// Which side of `condition` this run takes.
  func decide(_ condition: SymbolicBool) -> Bool {
    if let known = condition.knownValue { return known }
    let canHold = feasible(condition)
    let canFail = feasible(condition.negated())
    if canHold != canFail { return canHold }
    let choice = forks.count < script.count ? script[forks.count] : true
    forks.append(choice)
    let taken = choice ? condition : condition.negated()
    pathCondition.append(taken)
    return choice
  }

  /// Asked of a new solver each time, for the reason of
  /// ``ProofSession/decide(_:claim:hypotheses:freshSolvers:explain:)``'s fresh solvers.
  private func feasible(_ condition: SymbolicBool) -> Bool {
    z3 { () throws(SolverError) in
      let fresh = try Solver(context: context, timeout: .seconds(2), randomSeed: seed)
      for fact in base + facts + pathCondition + [condition] { try fresh.assert(fact.term) }
      if case .unsat = try fresh.check() { return false }
      return true
    }
  }
}
