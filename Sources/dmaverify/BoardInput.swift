import ArgumentParser
import DeviceTree
import Foundation
import Spec

/// What `platform` and `check` both read from the command line: a board's
/// device tree, a Xen release and dom0's layout, with the same messages and
/// exit statuses for both.
enum BoardInput {
  /// dom0's layout as `--dom0` spells it.
  enum Layout: Equatable {
    case direct
    /// `coloured` (nil: the command's default colours) or `coloured:LIST`.
    case coloured([Int]?)
  }

  /// The tree and its platform. A file that cannot be read exits 66, a
  /// malformed tree 65, each with the reader's message.
  static func load(_ file: String, dtcTimeout: Double) throws -> (tree: FlattenedDeviceTree, platform: Platform) {
    let tree: FlattenedDeviceTree
    do {
      tree = try FlattenedDeviceTree.load(file: file, dtcTimeout: dtcTimeout)
    } catch {
      FileHandle.standardError.write(Data("\(error)\n".utf8))
      switch error {
      case .unreadable: throw ExitCode(66)
      case .malformed: throw ExitCode(65)
      }
    }
    do {
      return (tree, try Platform(tree: tree))
    } catch {
      FileHandle.standardError.write(Data("\(error.inFile(file))\n".utf8))
      throw ExitCode(65)
    }
  }

  /// `--dtc-timeout`: finite, positive, at most a day.
  static func validateDTCTimeout(_ seconds: Double) throws {
    guard seconds.isFinite, seconds > 0, seconds <= 86_400 else {
      throw ValidationError("expected --dtc-timeout to be a number of seconds above 0 and at most 86400, found \(seconds)")
    }
  }

  static func xenVersion(_ name: String) throws -> XenVersion {
    guard let version = XenVersion(name: name) else {
      throw ValidationError(
        "expected --xen to be a release 4.\(XenVersion.supportedMinors.lowerBound)–4.\(XenVersion.supportedMinors.upperBound), found '\(name)'")
    }
    return version
  }

  /// `direct`, `coloured` or `coloured:COLOURS`, colours in Xen's list
  /// syntax, read by the scenario parser itself.
  static func layout(_ option: String) throws -> Layout {
    switch option {
    case "direct", "direct-mapped":
      return .direct
    case "coloured", "colored":
      return .coloured(nil)
    case let layout where layout.hasPrefix("coloured:") || layout.hasPrefix("colored:"):
      let list = layout.split(separator: ":", maxSplits: 1).last.map(String.init) ?? ""
      guard case .dom0(.coloured(let colours), _)? = try? ScenarioParser.parse("dom0 coloured \(list) memory 4K").statements.first?.kind else {
        throw ValidationError("expected --dom0 coloured:COLOURS with colours such as 0-3,8 (ascending, no overlaps), found '\(list)'")
      }
      return .coloured(colours)
    default:
      throw ValidationError("expected --dom0 to be direct, coloured or coloured:COLOURS, found '\(option)'")
    }
  }
}
