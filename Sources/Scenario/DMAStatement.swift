import Spec

/// A DMA and the outcome the scenario expects of it.
package struct DMAStatement: Hashable, Sendable {
  package var request: DMARequest
  package var expected: DMAOutcome?
  package init(_ request: DMARequest, expected: DMAOutcome? = nil) {
    self.request = request
    self.expected = expected
  }
}
