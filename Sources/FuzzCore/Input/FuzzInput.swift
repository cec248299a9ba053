import Foundation
import Scenario
import Spec

/// An input to replay: raw fuzz bytes (libFuzzer's corpus and crash files)
/// or a scenario (`.scn`, a minimized regression or a human story).
package enum FuzzInput: Sendable {
  case bytes([UInt8])
  case scenario(Scenario)

  /// A file that cannot be read or parsed, naming it (and the line for a
  /// scenario).
  package struct LoadError: Error, Sendable, CustomStringConvertible {
    package var description: String
    /// `unreadable` files exit 66, malformed scenarios 65 (sysexits).
    package var unreadable: Bool
  }

  /// Reads `path`: a `.scn` file is a scenario, anything else raw bytes
  /// (every byte string is an input, so raw files are never malformed).
  package static func load(_ path: String) throws(LoadError) -> FuzzInput {
    guard let data = FileManager.default.contents(atPath: path) else {
      throw LoadError(description: "\(path): error: cannot read the file", unreadable: true)
    }
    guard path.hasSuffix(".scn") else { return .bytes([UInt8](data)) }
    do { return .scenario(try ScenarioParser.parse(try ScenarioParser.text([UInt8](data), file: path), file: path)) } catch {
      throw LoadError(description: error.description, unreadable: false)
    }
  }

  /// `paths` with directories replaced by the files under them, sorted;
  /// hidden files (libFuzzer's `.lock`, editors' swap files) are skipped.
  package static func expand(_ paths: [String]) throws(LoadError) -> [String] {
    var files: [String] = []
    for path in paths {
      var isDirectory: ObjCBool = false
      guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
        throw LoadError(description: "\(path): error: no such file or directory", unreadable: true)
      }
      guard isDirectory.boolValue else {
        files.append(path)
        continue
      }
      guard let enumerator = FileManager.default.enumerator(atPath: path) else {
        throw LoadError(description: "\(path): error: cannot list the directory", unreadable: true)
      }
      var found: [String] = []
      for case let relative as String in enumerator {
        let full = (path as NSString).appendingPathComponent(relative)
        var nested: ObjCBool = false
        if relative.split(separator: "/").contains(where: { $0.hasPrefix(".") }) { continue }
        if FileManager.default.fileExists(atPath: full, isDirectory: &nested), !nested.boolValue { found.append(full) }
      }
      files += found.sorted()
    }
    return files
  }

  /// Checks the input with `checker`.
  package func check(with checker: ScenarioChecker = ScenarioChecker()) -> CheckResult {
    switch self {
    case .bytes(let bytes): checker.check(bytes: bytes)
    case .scenario(let scenario): checker.check(scenario)
    }
  }
}

/// Replays files and directories: pass or fail per file, then a summary.
/// The fuzz executable's normal build and `dmaverify replay` both use it.
package enum Replay {
  /// Exit status: 0 all passed, 1 a failure, 65 a malformed scenario, 66
  /// an unreadable file or missing path.
  package static func run(
    _ paths: [String], claims: DMAClaims, verbose: Bool = false, output: (String) -> Void, errors: (String) -> Void
  ) -> Int32 {
    let checker = ScenarioChecker(claims: claims)
    let files: [String]
    do { files = try FuzzInput.expand(paths) } catch {
      errors(error.description)
      return 66
    }
    var failed = 0
    var stoppedEarly = 0
    var status: Int32 = 0
    for file in files {
      let input: FuzzInput
      do { input = try FuzzInput.load(file) } catch {
        errors(error.description)
        status = max(status, error.unreadable ? 66 : 65)
        continue
      }
      let result = input.check(with: checker)
      if result.failure != nil {
        failed += 1
        output("FAIL \(file)\n" + result.trace.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
      } else {
        if result.stopped != nil { stoppedEarly += 1 }
        output("PASS \(file)" + (verbose ? " (\(result.steps) statements)" : "") + (result.stopped.map { " (not compared after statement \(result.steps - 1): \($0))" } ?? ""))
      }
    }
    output(
      "Summary: \(files.count) input\(files.count == 1 ? "" : "s"), \(files.count - failed) passed, \(failed) failed"
        + (stoppedEarly > 0 ? "; \(stoppedEarly) passed but not compared to the end (the reason is on its line)" : ""))
    if failed > 0 { status = max(status, 1) }
    return status
  }
}
