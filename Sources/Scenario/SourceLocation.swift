import Spec

/// Where a statement or token came from, for error messages.
package struct SourceLocation: Hashable, Sendable, CustomStringConvertible {
  package var line: Int
  package var column: Int
  package init(line: Int, column: Int) {
    self.line = line
    self.column = column
  }
  package var description: String { "\(line):\(column)" }
}
