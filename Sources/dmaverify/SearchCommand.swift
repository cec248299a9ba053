import ArgumentParser
import Foundation
import FuzzCore
import Scenario
import Spec

extension DMAVerify {
  /// `dmaverify search PATH…`: a bounded, seeded, in-process mutational
  /// search from a corpus (FuzzCore's `MutationSearch`), with no libFuzzer
  /// build. Used by `scripts/mutation-score` as the fuzzing side of the
  /// seeded-bug score.
  struct Search: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Search mutants of a corpus for an oracle failure, without libFuzzer.",
      discussion: """
        Every raw input and .scn scenario under PATH… is a seed (scenarios are
        encoded to fuzz bytes; one that cannot be encoded is checked as is but
        not mutated). The seeds are checked first, then random structure-aware
        mutants of them (FuzzCore's MutationSearch: what libFuzzer does without
        coverage feedback), until an oracle fails, --runs inputs were checked,
        or --max-seconds passed. A failure is minimized and printed as a
        scenario.

        Exit status: 0 when nothing failed, 1 when a failure was found, 65/66
        for a malformed or unreadable seed or expectations file.
        """)

    @Argument(help: "Seed inputs, .scn scenarios, or directories of them.", completion: .file())
    var paths: [String]

    // Numbers are parsed unconditionally, so that `--runs -1` is read as a
    // value and refused by validate() instead of as a missing value.
    @Option(parsing: .unconditional, help: "The most inputs to check (a positive integer).")
    var runs = 100_000

    @Option(parsing: .unconditional, help: "Stop after this many seconds, more than 0 and at most 604800 (a week); checked between batches of 200 runs.")
    var maxSeconds: Double = 60

    @Option(parsing: .unconditional, help: "The search's random seed.")
    var seed: UInt64 = 0x5EED_0009

    @OptionGroup var claims: ClaimsOption

    /// The longest search: a bound that a `Duration` holds (1e300 s does
    /// not) and that no unattended run should exceed.
    static let longestSearch: Double = 7 * 24 * 3600

    func validate() throws {
      guard runs >= 1 else { throw ValidationError("--runs must be a positive integer, found \(runs)") }
      guard maxSeconds.isFinite, maxSeconds > 0, maxSeconds <= Self.longestSearch else {
        throw ValidationError("--max-seconds must be a number of seconds more than 0 and at most \(Int(Self.longestSearch)), found \(maxSeconds)")
      }
    }

    func run() throws {
      let checker = ScenarioChecker(claims: try claims.load())
      let clock = ContinuousClock()
      let start = clock.now
      let files: [String]
      do { files = try FuzzInput.expand(paths) } catch {
        FileHandle.standardError.write(Data("\(error.description)\n".utf8))
        throw ExitCode(error.unreadable ? 66 : 65)
      }
      var corpus: [[UInt8]] = []
      for file in files {
        let input: FuzzInput
        do { input = try FuzzInput.load(file) } catch {
          FileHandle.standardError.write(Data("\(error.description)\n".utf8))
          throw ExitCode(error.unreadable ? 66 : 65)
        }
        // A scenario that cannot be encoded is still checked once.
        if case .scenario(let scenario) = input, (try? FuzzEncoder.encode(scenario)) == nil {
          let result = input.check(with: checker)
          if let failure = result.failure {
            report(result.scenario, failure: failure, source: file, runs: 0, elapsed: clock.now - start, checker: checker)
            throw ExitCode.failure
          }
          continue
        }
        switch input {
        case .bytes(let bytes): corpus.append(bytes)
        case .scenario(let scenario): if let bytes = try? FuzzEncoder.encode(scenario) { corpus.append(bytes) }
        }
      }
      var search = MutationSearch(checker: checker, seed: seed)
      var total = 0
      let batch = 200
      let progress = TerminalProgress()
      defer { progress.finish() }
      while total < runs && clock.now - start < .seconds(maxSeconds) {
        progress.show("[search] \(total)/\(runs) runs, \((clock.now - start).components.seconds) s of at most \(Int(maxSeconds)) s …")
        let size = min(batch, runs - total)
        if let finding = search.run(corpus: corpus, maximumRuns: size) {
          total += finding.runs
          guard let failure = finding.result.failure else { break }
          progress.finish()
          report(finding.result.scenario, failure: failure, source: "search", runs: total, elapsed: clock.now - start, checker: checker)
          throw ExitCode.failure
        }
        total += size
      }
      print("no failure in \(total) runs (\((clock.now - start).formatted(.units(allowed: [.seconds, .milliseconds]))))")
    }

    func report(_ scenario: Scenario, failure: FuzzFailure, source: String, runs: Int, elapsed: Duration, checker: ScenarioChecker) {
      print("FOUND \(failure.signature) after \(runs) runs (\(elapsed.formatted(.units(allowed: [.seconds, .milliseconds])))) from \(source)")
      print("  at step \(failure.stepIndex): \(failure.statement)")
      print("  " + failure.detail.replacingOccurrences(of: "\n", with: "\n  "))
      if let minimized = Minimizer(checker: checker).minimize(scenario) {
        print("minimized (\(minimized.tests) runs): \(minimized.failure.signature)")
        print(ScenarioPrinter.print(minimized.scenario))
      } else {
        print(ScenarioPrinter.print(scenario))
      }
    }
  }
}
