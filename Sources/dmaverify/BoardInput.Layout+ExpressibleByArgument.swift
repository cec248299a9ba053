import ArgumentParser
import Scenario
import Spec

/// `--dom0 direct`, `coloured` or `coloured:COLOURS`, COLOURS in Xen's
/// list syntax (`0-3,8`, as `dom0-llc-colors=` takes it; Xen's
/// docs/misc/cache-coloring.rst), read by the scenario parser itself so
/// that the two cannot disagree. `direct-mapped` (the scenario format's
/// word) and the spelling `colored` are accepted too.
extension BoardInput.Layout: ExpressibleByArgument {
  init?(argument: String) {
    switch argument {
    case "direct", "direct-mapped":
      self = .direct
    case "coloured", "colored":
      self = .coloured(nil)
    default:
      let parts = argument.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
      guard parts.count == 2, ["coloured", "colored"].contains(parts[0]),
        case .dom0(.coloured(let colours), _)? = try? ScenarioParser.parse("dom0 coloured \(parts[1]) memory 4K").statements.first?.kind
      else { return nil }
      self = .coloured(colours)
    }
  }

  var defaultValueDescription: String {
    switch self {
    case .direct: "direct"
    case .coloured(nil): "coloured"
    case .coloured(let colours?): "coloured:" + ScenarioPrinter.colourText(colours)
    }
  }

  static var allValueStrings: [String] { ["direct", "coloured", "coloured:COLOURS"] }

  static var defaultCompletionKind: CompletionKind { .list(["direct", "coloured"]) }
}
