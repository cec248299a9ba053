/// A DMA and the outcome the scenario expects of it.
public struct DMAStatement: Hashable, Sendable {
  public var request: DMARequest
  public var expected: DMAOutcome?
  public init(_ request: DMARequest, expected: DMAOutcome? = nil) {
    self.request = request
    self.expected = expected
  }
}
