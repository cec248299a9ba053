import Dispatch
import Foundation
import Solver
import Spec

/// The theorem catalogue (DESIGN.md §4) and how to run it.
package enum Catalogue {
  /// Every theorem, in report order.
  package static var theorems: [Theorem] {
    [
      DescriptorRoundtripTheorem.theorem(), TableTheorems.walkEquivalence(), TableTheorems.refinement(),
      SetWayTheorem.theorem(), OutOfRangeTheorem.theorem(), RemovalOrderTheorem.theorem(),
      FlushOrderTheorem.theorem(), RemovalAfterSetWayTheorem.theorem(),
    ] + P2MStepTheorem.theorems + [
      P2MChunkOrderTheorem.theorem(),
      SMMURefinementTheorem.theorem(), SMMUFastPathTheorem.theorem(), SMMUCoherenceTheorem.theorem(), ColourAllocationTheorem.theorem(),
      StraddleTheorem.theorem(),
      GrantPermissionTheorem.theorem(),
    ] + DMAMatrixTheorem.theorems + [FlagEqualsSwiotlbTheorem.theorem, ReachTheorem.theorem()] + PlatformClassTheorem.theorems
  }

  /// Theorems outside the default catalogue, run only when asked
  /// (`prove --every-platform`): too costly for CI.
  package static var everyPlatformTheorems: [Theorem] { DMAMatrixTheorem.everyPlatformTheorems }

  /// Options of a catalogue run.
  package struct Options: Sendable {
    /// Only theorems whose name contains one of these (all when empty).
    package var filters: [String] = []
    /// Whether ``everyPlatformTheorems`` are selectable too.
    package var everyPlatform = false
    /// Per-check timeout; nil keeps each theorem's own.
    package var timeout: Duration?
    /// Z3's random seed, fixed so runs repeat.
    package var seed: UInt32 = 1
    /// Theorems run at once, each in its own Z3 context.
    package var jobs = 1
    /// Where to write each query as SMT-LIB 2.
    package var dumpDirectory: URL?
    /// Whether Bitwuzla answers the fresh-solver checks.
    package var secondSolver: SecondSolver = .environmentDefault
    /// Called as each theorem finishes, with how many have finished, how
    /// many were selected and the theorem's name, so a long run can show
    /// where it is; calls do not overlap.
    package var progress: (@Sendable (_ finished: Int, _ total: Int, _ theorem: String) -> Void)?

    package init() {}
  }

  package static func selected(by filters: [String], everyPlatform: Bool = false) -> [Theorem] {
    (theorems + (everyPlatform ? everyPlatformTheorems : [])).filter { theorem in filters.isEmpty || filters.contains { theorem.name.contains($0) } }
  }

  /// Runs the selected theorems, `jobs` at a time; a theorem that throws
  /// is reported with its error, never dropped.
  package static func run(_ options: Options) -> [TheoremReport] {
    run(selected(by: options.filters, everyPlatform: options.everyPlatform), options: options)
  }

  /// Runs `chosen` as ``run(_:)`` runs the selected theorems.
  static func run(_ chosen: [Theorem], options: Options) -> [TheoremReport] {
    let results = ResultBox(count: chosen.count)
    let group = DispatchGroup()
    let limit = DispatchSemaphore(value: max(1, options.jobs))
    for (index, theorem) in chosen.enumerated() {
      limit.wait()
      group.enter()
      DispatchQueue.global().async {
        results.set(index, run(theorem, options: options)) { finished in
          options.progress?(finished, chosen.count, theorem.name)
        }
        limit.signal()
        group.leave()
      }
    }
    group.wait()
    return results.values
  }

  static func run(_ theorem: Theorem, options: Options) -> TheoremReport {
    let clock = ContinuousClock()
    let start = clock.now
    var report = TheoremReport(theorem: theorem.name, summary: theorem.summary, findings: [], seconds: 0, error: nil)
    do {
      let session = try ProofSession(
        timeout: options.timeout ?? theorem.timeout, seed: options.seed, dumpDirectory: options.dumpDirectory, secondSolver: options.secondSolver)
      defer { report.deciders = session.deciders }
      report.findings = try SeededBug.attributingHooks(to: theorem.name) { try theorem.body(session) }
    } catch {
      report.error = "\(error)"
    }
    let elapsed = clock.now - start
    report.seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    return report
  }
}

/// Results written by concurrent jobs, each to its own slot.
final class ResultBox: @unchecked Sendable {
  private var slots: [TheoremReport?]
  private var finished = 0
  private let lock = NSLock()
  init(count: Int) { slots = Array(repeating: nil, count: count) }
  /// Stores a report, then tells `stored` how many are stored, under the
  /// lock, so that counts are told in order and never at once.
  func set(_ index: Int, _ report: TheoremReport, stored: (Int) -> Void = { _ in }) {
    lock.withLock {
      slots[index] = report
      finished += 1
      stored(finished)
    }
  }
  var values: [TheoremReport] { lock.withLock { slots.compactMap { $0 } } }
}
