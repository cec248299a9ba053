import Spec

/// A scenario that cannot be read or run, with where and what was expected:
/// `file:line:column: error: expected …, found …` (the compiler convention,
/// so editors jump to it).
package struct ScenarioError: Error, Hashable, Sendable, CustomStringConvertible {
  package var file: String?
  package var location: SourceLocation?
  package var message: String

  package init(file: String? = nil, location: SourceLocation?, message: String) {
    self.file = file
    self.location = location
    self.message = message
  }

  package var description: String {
    let place = [file ?? "<scenario>", location.map { "\($0.line):\($0.column)" }]
      .compactMap { $0 }.joined(separator: ":")
    return "\(place): error: \(message)"
  }

  /// The same error, naming `file`.
  package func inFile(_ file: String) -> ScenarioError {
    var copy = self
    copy.file = file
    return copy
  }
}
