/// One line of a scenario. Equality ignores the location, so a parsed
/// scenario equals the one that was printed.
public struct Statement: Hashable, Sendable {
  public var kind: StatementKind
  public var location: SourceLocation?

  public init(_ kind: StatementKind, at location: SourceLocation? = nil) {
    self.kind = kind
    self.location = location
  }

  public static func == (lhs: Statement, rhs: Statement) -> Bool { lhs.kind == rhs.kind }
  public func hash(into hasher: inout Hasher) { hasher.combine(kind) }
}
