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
///
/// A run repeats the decisions of the run before it up to the fork it
/// flips (the code is deterministic, so it meets the same conditions in
/// the same order); those are replayed from the record instead of asked
/// again, so each decision node of the tree costs its feasibility checks
/// once, not once per path below it.
final class PathExplorer {
  let context: Context
  /// One decision of a run: what it returned, and whether both sides were
  /// feasible (a fork, whose condition joins the path condition).
  private struct Decision {
    var forked: Bool
    var value: Bool
  }
  /// The decisions the next run repeats: the last run's up to its last
  /// fork taken `true`, with that fork's `false` side.
  private var replay: [Decision] = []
  /// This run's decisions so far.
  private var decisions: [Decision] = []
  /// The conditions taken at forks in this run, and facts assumed in it.
  private(set) var pathCondition: [SymbolicBool] = []
  private(set) var facts: [SymbolicBool] = []
  private(set) var paths = 0
  /// Names of this run's fresh choices, numbered from 1 each run so a
  /// replayed decision meets the same constants.
  var freshCount = 0

  private(set) var base: [SymbolicBool]
  private let session: ProofSession

  init(session: ProofSession, base: [SymbolicBool]) {
    self.session = session
    context = session.context
    self.base = base
  }

  /// Facts every path may use (the invariant at the updated GFN).
  func add(_ facts: [SymbolicBool]) { base += facts }

  /// Starts a run: the next path in depth-first order.
  func begin() {
    decisions = []
    pathCondition = []
    facts = []
    freshCount = 0
  }

  /// Ends a run; whether another path remains.
  func end() -> Bool {
    paths += 1
    guard let last = decisions.lastIndex(where: { $0.forked && $0.value }) else { return false }
    replay = Array(decisions[..<last]) + [Decision(forked: true, value: false)]
    return true
  }

  /// A fact about this run's fresh choices (an allocation's page is free).
  func assume(_ fact: SymbolicBool) {
    facts.append(fact)
  }

  /// Which side of `condition` this run takes.
  func decide(_ condition: SymbolicBool) -> Bool {
    if let known = condition.knownValue { return known }
    let decision: Decision
    if decisions.count < replay.count {
      decision = replay[decisions.count]
    } else if !feasible(condition) {
      // The path so far is feasible, so the other side is.
      decision = Decision(forked: false, value: false)
    } else {
      decision = Decision(forked: feasible(condition.negated()), value: true)
    }
    decisions.append(decision)
    if decision.forked { pathCondition.append(decision.value ? condition : condition.negated()) }
    return decision.value
  }

  /// Asked of a new solver each time (Bitwuzla first, when the session
  /// has it), for the reason of
  /// ``ProofSession/decide(_:claim:hypotheses:freshSolvers:explain:)``'s
  /// fresh solvers; an unknown answer counts as feasible.
  private func feasible(_ condition: SymbolicBool) -> Bool {
    // A failure (Bitwuzla required and missing) counts as feasible too;
    // the claim's own check then reports it.
    return (try? session.satisfiable(base + facts + pathCondition + [condition], timeout: .seconds(2))) ?? true
  }
}
