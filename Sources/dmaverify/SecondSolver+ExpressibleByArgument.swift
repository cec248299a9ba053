import ArgumentParser
import Proofs

/// `--second-solver auto|on|off`, by ``SecondSolver``'s raw values; each
/// value's meaning is listed under the option in the help.
extension SecondSolver: ExpressibleByArgument {
  public static var allValueDescriptions: [String: String] {
    Dictionary(uniqueKeysWithValues: allCases.map { ($0.rawValue, $0.meaning) })
  }

  private var meaning: String {
    switch self {
    case .auto: "Bitwuzla when python3 can import it, else Z3 alone."
    case .on: "Bitwuzla required: without it, prove exits 69 before any proof."
    case .off: "Z3 alone."
    }
  }
}
