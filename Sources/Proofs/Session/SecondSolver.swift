import Foundation
import Solver

/// Whether Bitwuzla (``SMTLibOracle``) answers the checks a claim asks of
/// a fresh solver: the inductive `p2m.step` paths, the DMA cells, the path
/// explorer's feasibility checks. Z3 still decides everything Bitwuzla
/// does not answer, and every refutation (a counterexample is Z3's model,
/// checked against the hypotheses by Z3).
package enum SecondSolver: String, Sendable, CaseIterable {
  /// Bitwuzla when `python3` can import it, else Z3 alone.
  case auto
  /// Bitwuzla required: a theorem fails with an error without it.
  case on
  /// Z3 alone.
  case off

  /// The setting of `DMAVERIFY_SECOND_SOLVER` (auto when unset), which the
  /// test suite's sessions follow.
  package static var environmentDefault: SecondSolver {
    ProcessInfo.processInfo.environment["DMAVERIFY_SECOND_SOLVER"].flatMap(SecondSolver.init(rawValue:)) ?? .auto
  }

  /// Why Bitwuzla could not be started, once found: sessions under `auto`
  /// do not each pay a Python start to learn it again.
  private nonisolated(unsafe) static var missing: SolverError?
  private static let lock = NSLock()

  /// Why Bitwuzla cannot be used here, or nil when it can: asked once
  /// before a run that requires it, so that a missing solver is reported
  /// before minutes of proofs, not as each theorem's error.
  package static func unavailability() -> String? {
    do {
      try start().stop()
      return nil
    } catch {
      return error.message
    }
  }

  /// A new helper for one session (each session's theorems run on their
  /// own thread).
  static func start() throws(SolverError) -> SMTLibOracle {
    if let known = lock.withLock({ missing }) { throw known }
    do {
      return try SMTLibOracle.bitwuzla()
    } catch {
      lock.withLock { missing = error }
      throw error
    }
  }
}
