/// A misuse of Z3 or a failure inside it, with Z3's own message.
package struct SolverError: Error, CustomStringConvertible, Equatable {
  /// What went wrong, from Z3's error code.
  package enum Kind: String, Sendable, Equatable {
    case sortMismatch = "sort mismatch"
    case indexOutOfBounds = "index out of bounds"
    case invalidArgument = "invalid argument"
    case parser = "parser error"
    case outOfMemory = "out of memory"
    case fileAccess = "file access error"
    case invalidUsage = "invalid usage"
    case exception = "Z3 exception"
    case `internal` = "internal error"
    /// A second solver (``SMTLibOracle``) cannot be started.
    case unavailable = "solver unavailable"
  }

  package var kind: Kind
  /// The message Z3 gave (or ours, for checks made before calling Z3).
  package var message: String

  package init(kind: Kind, message: String) {
    self.kind = kind
    self.message = message
  }

  package var description: String { "\(kind.rawValue): \(message)" }
}
