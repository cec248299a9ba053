import ArgumentParser
import Foundation
import FuzzCore
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

    @Option(help: "The most inputs to check.")
    var runs = 100_000

    @Option(help: "Stop after this many seconds (checked between batches of 200 runs).")
    var maxSeconds: Double = 60

    @Option(help: "The search's random seed.")
    var seed: UInt64 = 0x5EED_0009

    @OptionGroup var claims: ClaimsOption

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
      while total < runs && clock.now - start < .seconds(maxSeconds) {
        let size = min(batch, runs - total)
        if let finding = search.run(corpus: corpus, maximumRuns: size) {
          total += finding.runs
          guard let failure = finding.result.failure else { break }
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
