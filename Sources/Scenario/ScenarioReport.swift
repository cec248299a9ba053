import Spec

/// What running a scenario on the specification did, step by step.
package struct ScenarioReport: Hashable, Sendable, Codable {
  package var name: String?
  package var steps: [StepReport]

  package init(name: String?, steps: [StepReport]) {
    self.name = name
    self.steps = steps
  }

  /// Steps whose outcome differs from the `expect` the scenario wrote.
  package var unmetExpectations: [StepReport] { steps.filter { $0.expectationMet == false } }
  package var dmaCount: Int { steps.filter { $0.dma != nil }.count }

  /// Steps the specification refused (Xen returned an error, memory could
  /// not be placed, a DMA could not run), other than those an unmet
  /// `expect` already counts: a story whose setup failed checked less than
  /// it says.
  package var refusedSteps: [StepReport] { steps.filter { !$0.succeeded && $0.expectationMet == nil } }

  /// DMAs that faulted or corrupted memory with no `expect` saying so: a
  /// corruption nobody asked about is still one.
  package var unexpectedOutcomes: [StepReport] {
    steps.filter { step in step.expected == nil && step.dma.map { $0.outcome != .ok } == true }
  }
}

/// One executed statement.
package struct StepReport: Hashable, Sendable, Codable {
  /// The scenario line the statement came from.
  package var line: Int?
  /// The statement, in canonical form.
  package var statement: String
  /// What happened, in a sentence (e.g. "mapped grant g1: dev_bus_addr 0x60001000").
  package var result: String
  /// Whether the operation succeeded; a Xen error (e.g. −EINVAL) is a
  /// result, not a scenario error.
  package var succeeded: Bool
  package var dma: DMAReport?
  package var expected: DMAOutcome?
  /// nil when nothing was expected.
  package var expectationMet: Bool?
  /// What the statement did, as data (not in the report's JSON form).
  package var effects = StepEffects()

  enum CodingKeys: String, CodingKey {
    case line, statement, result, succeeded, dma, expected, expectationMet
  }

  package init(line: Int?, statement: String, result: String, succeeded: Bool = true, dma: DMAReport? = nil, expected: DMAOutcome? = nil) {
    self.line = line
    self.statement = statement
    self.result = result
    self.succeeded = succeeded
    self.dma = dma
    self.expected = expected
    self.expectationMet = expected.map { expected in dma?.outcome == expected }
  }
}

