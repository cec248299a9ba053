/// What running a scenario on the specification did, step by step.
public struct ScenarioReport: Hashable, Sendable, Codable {
  public var name: String?
  public var steps: [StepReport]

  public init(name: String?, steps: [StepReport]) {
    self.name = name
    self.steps = steps
  }

  /// Steps whose outcome differs from the `expect` the scenario wrote.
  public var unmetExpectations: [StepReport] { steps.filter { $0.expectationMet == false } }
  public var dmaCount: Int { steps.filter { $0.dma != nil }.count }
}

/// One executed statement.
public struct StepReport: Hashable, Sendable, Codable {
  /// The scenario line the statement came from.
  public var line: Int?
  /// The statement, in canonical form.
  public var statement: String
  /// What happened, in a sentence (e.g. "mapped grant g1: dev_bus_addr 0x60001000").
  public var result: String
  /// Whether the operation succeeded; a Xen error (e.g. −EINVAL) is a
  /// result, not a scenario error.
  public var succeeded: Bool
  public var dma: DMASummary?
  public var expected: ExpectedOutcome?
  /// nil when nothing was expected.
  public var expectationMet: Bool?

  public init(line: Int?, statement: String, result: String, succeeded: Bool = true, dma: DMASummary? = nil, expected: ExpectedOutcome? = nil) {
    self.line = line
    self.statement = statement
    self.result = result
    self.succeeded = succeeded
    self.dma = dma
    self.expected = expected
    self.expectationMet = expected.map { expected in dma?.outcome == expected }
  }
}

/// A DMA's outcome with the three properties and why (DESIGN.md §2).
public struct DMASummary: Hashable, Sendable, Codable {
  public var outcome: ExpectedOutcome
  /// The path Linux took: `swiotlb-xen direct`, `swiotlb-xen bounce`, `dma-direct`.
  public var path: String
  /// The address programmed into the device.
  public var dmaAddress: UInt64?
  public var integrity: PropertyVerdict
  public var isolation: PropertyVerdict
  public var liveness: PropertyVerdict
  /// The machine frames the device touched.
  public var touchedFrames: [UInt64]

  public init(
    outcome: ExpectedOutcome, path: String, dmaAddress: UInt64?, integrity: PropertyVerdict, isolation: PropertyVerdict,
    liveness: PropertyVerdict, touchedFrames: [UInt64]
  ) {
    self.outcome = outcome
    self.path = path
    self.dmaAddress = dmaAddress
    self.integrity = integrity
    self.isolation = isolation
    self.liveness = liveness
    self.touchedFrames = touchedFrames
  }
}

public struct PropertyVerdict: Hashable, Sendable, Codable {
  public var holds: Bool
  public var reason: String
  public init(holds: Bool, reason: String) {
    self.holds = holds
    self.reason = reason
  }
}
