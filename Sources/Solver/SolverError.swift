/// A misuse of Z3 or a failure inside it, with Z3's own message.
public struct SolverError: Error, CustomStringConvertible, Equatable {
  /// What went wrong, from Z3's error code.
  public enum Kind: String, Sendable, Equatable {
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

  public var kind: Kind
  /// The message Z3 gave (or ours, for checks made before calling Z3).
  public var message: String

  public init(kind: Kind, message: String) {
    self.kind = kind
    self.message = message
  }

  public var description: String { "\(kind.rawValue): \(message)" }
}
