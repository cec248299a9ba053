import Scenario
import Spec

/// An oracle that watches a scenario run step by step on the spec.
///
/// ``ScenarioChecker`` calls every oracle of ``ScenarioChecker/oracles``
/// in order: `prepare` before a statement runs (the spec's state is the
/// one before), `check` after it, and `finish` once the scenario is done.
/// ``P2MDifferentialOracle`` comes first, since it keeps the
/// implementation's p2ms in step that later oracles may read.
package protocol StepOracle {
  /// Whether this oracle judges the outcome of the DMA being prepared; in
  /// lean mode a DMA no oracle judges is not run on the spec.
  var judgesCurrentDMA: Bool { get }
  mutating func prepare(_ step: StepContext)
  mutating func check(_ step: StepContext, report: StepReport) -> FuzzFailure?
  mutating func finish(lastIndex: Int, spec: ScenarioExecution, implementation: ImplementationState) -> FuzzFailure?
  /// Set by `check` when the scenario has gone where the spec cannot
  /// follow and this oracle has judged what it could (why, in a sentence):
  /// the checker compares nothing after that step, and says so.
  var stopped: String? { get }
}

/// One statement of a running scenario, with both sides' state.
package struct StepContext {
  /// The statement's index in the scenario.
  package var index: Int
  package var statement: Statement
  /// The spec's state (before the statement in `prepare`, after in `check`).
  package var spec: ScenarioExecution
  package var implementation: ImplementationState
}

extension StepOracle {
  package var judgesCurrentDMA: Bool { false }
  /// Most oracles read what a step did from its report's effects, and
  /// need nothing from the state before it.
  package mutating func prepare(_ step: StepContext) {}
  package var stopped: String? { nil }
}
