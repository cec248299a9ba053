import ArgumentParser
import Foundation
import FuzzCore
import Scenario
import Spec
import SystemIO

extension DMAVerify {
  /// `dmaverify minimize FILE`: shrinks a failing input to a regression
  /// scenario.
  struct Minimize: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Shrink a failing fuzz input to a small regression scenario.",
      discussion: """
        FILE is a raw fuzz input (e.g. libFuzzer's crash-…) or a .scn scenario.
        Its operations are reduced by ddmin, then their values moved toward the
        fuzzer's canonical ones, keeping the same failure (same oracle, same
        property, same kind of operation): the result never drifts to another
        bug, and removing any one operation makes it pass. The scenario is
        written to the output directory with the failure in its header, and its
        path printed. Commit it once the bug is fixed: `swift test` replays
        every file there and expects it to pass.

        The output directory is --output-directory, else corpus/regressions
        under the package root (the nearest directory, from the current one
        up, holding Package.swift and corpus/); outside the package it must
        be given. The file is named <oracle>-<property>-<operation>.scn with
        every character outside [A-Za-z0-9._-] replaced by _ (a DMA-matrix
        claim's / and brackets included), at most 120 characters before the
        extension, and -2, -3, … added rather than replacing a file.

        Exit status: 0 when a scenario was written, 1 when the input does not
        fail (nothing to minimize), 65 for a malformed scenario or expectations
        file, 66 when FILE or the expectations cannot be read or the output
        cannot be written.
        """)

    @Argument(help: "The failing input: raw bytes or a .scn scenario.", completion: .file())
    var file: String

    @Option(
      help: ArgumentHelp(
        "Where to write the scenario (default: corpus/regressions under the package root).", valueName: "directory"),
      completion: .directory)
    var outputDirectory: String?

    /// The directory to write into: the option, else the package's
    /// regressions, wherever in the package the command runs.
    func directory() throws -> URL {
      if let outputDirectory { return URL(fileURLWithPath: outputDirectory, isDirectory: true) }
      let here = URL(fileURLWithPath: FileManager.default.currentDirectoryPath, isDirectory: true)
      guard let root = RegressionFile.packageRoot(from: here) else {
        throw ValidationError(
          "no package root (Package.swift and corpus/) in \(here.path) or above; give --output-directory")
      }
      return root.appendingPathComponent(RegressionFile.directory, isDirectory: true)
    }

    func validate() throws { _ = try directory() }

    @OptionGroup var claims: ClaimsOption

    func run() throws {
      let checker = ScenarioChecker(claims: try claims.load())
      // The directory is made before the minimization, which may take
      // minutes, so that an unwritable place is reported at once.
      let directory = try directory()
      do { try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true) } catch {
        FileHandle.standardError.write(Data("\(directory.path): error: cannot create the output directory: \(error.localizedDescription)\n".utf8))
        throw ExitCode(66)
      }
      let input: FuzzInput
      do { input = try FuzzInput.load(file) } catch {
        FileHandle.standardError.write(Data("\(error)\n".utf8))
        throw ExitCode(error.unreadable ? 66 : 65)
      }
      let scenario: Scenario
      switch input {
      case .bytes: scenario = input.check(with: checker).scenario
      case .scenario(let parsed): scenario = parsed
      }
      let clock = ContinuousClock()
      let start = clock.now
      guard let result = TerminalProgress.ticking("minimize", { Minimizer(checker: checker).minimize(scenario) }) else {
        print("\(file): passes every oracle; nothing to minimize")
        throw ExitCode.failure
      }
      let elapsed = clock.now - start
      let operations = result.scenario.statements.filter { FuzzEncoder.isOperation($0.kind) }.count
      let failure = result.failure
      let name = RegressionFile.name(for: failure.signature)
      var minimized = result.scenario
      minimized.name = "\(failure.signature), minimized from \((file as NSString).lastPathComponent)"
      let text = """
        # Minimized by `dmaverify minimize \((file as NSString).lastPathComponent)` (\(result.tests) runs, \(elapsed.formatted(.units(allowed: [.seconds, .milliseconds])))).
        # It fails \(failure.signature) at step \(failure.stepIndex):
        #   \(failure.statement)
        #   \(failure.detail.replacingOccurrences(of: "\n", with: "\n#   "))
        # `swift test` replays this file and expects it to pass: commit it with the fix.

        """ + ScenarioPrinter.print(minimized)
      var path = directory.appendingPathComponent("\(name).scn")
      var suffix = 2
      while FileManager.default.fileExists(atPath: path.path) {
        path = directory.appendingPathComponent("\(name)-\(suffix).scn")
        suffix += 1
      }
      do {
        try OutputFile.write(text, to: path.path)
      } catch {
        FileHandle.standardError.write(Data("\(error.description(writing: "the scenario"))\n".utf8))
        throw ExitCode(66)
      }
      print("\(failure.signature): \(operations) operation\(operations == 1 ? "" : "s") after \(result.tests) runs")
      // Relative to the current directory when inside it, as the user typed.
      let here = FileManager.default.currentDirectoryPath + "/"
      print(path.path.hasPrefix(here) ? String(path.path.dropFirst(here.count)) : path.path)
    }
  }
}
