import Scenario
import Spec

/// A property a fuzz input violated: which oracle saw it, which property,
/// at which step, and the values that disagree (DESIGN.md §5: "a crash
/// with a readable trace").
package struct FuzzFailure: Hashable, Sendable, CustomStringConvertible {
  /// The fuzzer's oracles, and the harness's own check that a
  /// decoded scenario means something.
  package enum Oracle: String, Hashable, Sendable, CaseIterable {
    /// The spec (``ReferenceP2M`` through the scenario runner's Xen state)
    /// and the implementation (`P2MImpl.XenP2M`) disagree.
    case specVersusImplementation = "spec-vs-impl"
    /// The spec's SMMUs and DMAs and the implementation's
    /// (`SMMUImpl.XenSMMUPlatform` over `XenP2M`'s tables) disagree, or
    /// an IOTLB entry is stale.
    case smmu = "smmu"
    /// A DMA property does not hold on the spec.
    case dmaProperty = "dma-property"
    /// A device can reach a frame its domain has no right to
    /// (``ReachOracle``).
    case reach
    /// A coloured domain was given a frame of another colour
    /// (``ColourOracle``).
    case colour
    /// The scenario runner rejected the scenario: for a decoded input, a
    /// decoder bug (the decoder is total by contract).
    case scenario = "scenario"
  }

  package var oracle: Oracle
  /// The property's stable name, e.g. `lookup`, `tlb`, `expectation`.
  package var property: String
  /// The statement's index in the scenario (platform statements included).
  package var stepIndex: Int
  /// The statement, in canonical text.
  package var statement: String
  /// The kind of operation the statement is (`grant`, `p2m unmap`, …).
  package var operation: String
  /// What disagreed: the spec's value and the implementation's, or the
  /// DMA's outcome and what was required.
  package var detail: String

  package init(oracle: Oracle, property: String, stepIndex: Int, statement: Statement, detail: String) {
    self.oracle = oracle
    self.property = property
    self.stepIndex = stepIndex
    self.statement = ScenarioPrinter.line(for: statement.kind)
    self.operation = statement.kind.operationName
    self.detail = detail
  }

  /// A failure found after the last statement (`operation` is `end`).
  package init(oracle: Oracle, property: String, afterStep stepIndex: Int, detail: String) {
    self.oracle = oracle
    self.property = property
    self.stepIndex = stepIndex
    self.statement = "(end of scenario)"
    self.operation = "end"
    self.detail = detail
  }

  /// What "the same failure" means for minimization: same oracle, same
  /// property, same kind of operation. Values and step index
  /// may change while shrinking.
  package var signature: Signature { Signature(oracle: oracle, property: property, operation: operation) }

  package struct Signature: Hashable, Sendable, CustomStringConvertible {
    package var oracle: Oracle
    package var property: String
    package var operation: String

    package init(oracle: Oracle, property: String, operation: String) {
      self.oracle = oracle
      self.property = property
      self.operation = operation
    }

    package var description: String { "\(oracle.rawValue)/\(property) at '\(operation)'" }
  }

  package var description: String {
    "FAIL \(oracle.rawValue)/\(property) at step \(stepIndex): \(statement)\n  \(detail)"
  }
}
