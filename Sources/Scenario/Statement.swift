import Spec

/// One line of a scenario. Equality ignores the location, so a parsed
/// scenario equals the one that was printed.
package struct Statement: Hashable, Sendable {
  package var kind: StatementKind
  package var location: SourceLocation?

  package init(_ kind: StatementKind, at location: SourceLocation? = nil) {
    self.kind = kind
    self.location = location
  }

  package static func == (lhs: Statement, rhs: Statement) -> Bool { lhs.kind == rhs.kind }
  package func hash(into hasher: inout Hasher) { hasher.combine(kind) }
}
