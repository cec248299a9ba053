import ArgumentParser

/// `check --format text|json|markdown`; each format's use is listed under
/// the option in the help.
extension DMAVerify.Check.Format: ExpressibleByArgument {
  static var allValueDescriptions: [String: String] {
    Dictionary(uniqueKeysWithValues: allCases.map { ($0.rawValue, $0.use) })
  }

  private var use: String {
    switch self {
    case .text: "For reading in a terminal."
    case .json: "For programs; as --json."
    case .markdown: "A document with a table of verdicts, to attach to a review."
    }
  }
}
