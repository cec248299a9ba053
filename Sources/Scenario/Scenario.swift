import Spec

/// A platform, its domains and a sequence of operations with expected
/// outcomes: the readable, replayable unit that `dmaverify run` executes,
/// the fuzzer decodes to and the minimizer writes (DESIGN.md §5).
///
/// The text form is line-oriented, one statement a line, `#` to the end of
/// a line is a comment. ``ScenarioParser`` reads it and ``ScenarioPrinter``
/// writes it back; the two round-trip.
package struct Scenario: Hashable, Sendable {
  package var name: String?
  package var statements: [Statement]

  package init(name: String? = nil, statements: [Statement] = []) {
    self.name = name
    self.statements = statements
  }
}
