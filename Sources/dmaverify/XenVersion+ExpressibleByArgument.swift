import ArgumentParser
import Spec

/// `--xen 4.N`: a release spelled as a scenario's `xen` statement spells
/// it, so that `check`, `platform` and `run` name a release alike.
extension XenVersion: ExpressibleByArgument {
  public init?(argument: String) {
    self.init(name: argument)
  }

  public var defaultValueDescription: String { name }

  /// Every release the spec models, each through the parser that reads it
  /// back, so that the help and a bad value's error offer only names
  /// `--xen` accepts.
  public static var allValueStrings: [String] {
    supportedMinors.compactMap { XenVersion(name: "4.\($0)") }.map(\.name)
  }

  public static var defaultCompletionKind: CompletionKind { .list(allValueStrings) }
}
