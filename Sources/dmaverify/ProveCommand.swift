import ArgumentParser
import Claims
import Foundation
import Proofs
import Spec
import SystemIO

extension DMAVerify {
  /// `dmaverify prove`: runs the theorem catalogue.
  struct Prove: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Prove the theorem catalogue with Z3 (and Bitwuzla, when installed) and print the DMA matrix.",
      discussion: """
        Each theorem runs the program's own generic code on Z3 terms. Every
        claim is proved, refuted (with a minimized counterexample scenario,
        replayed on the concrete implementation) or unknown (the solver gave
        up; never counted as proved). Results are compared with the
        expectations file, which lists the claims expected to be refuted.

        Exit status: 0 when every result matches the expectations, 1 when one
        does not (or a refutation did not replay, or hypotheses were vacuous),
        2 when nothing mismatched but some claim is unknown, 64 for bad
        arguments, 65 for a malformed expectations file, 66 when it cannot be
        read, 69 when --second-solver on finds no Bitwuzla, 73 when --junit,
        --write-expectations or --smt-dump-dir cannot be written (checked
        before the first proof runs).

        Output files are written to a new file and renamed over the path; a
        device node, FIFO, directory or symbolic link at the path is refused
        (symbolic links are not followed).
        """)

    @Option(name: .customLong("filter"), help: "Run only theorems whose name contains this (repeatable).")
    var filters: [String] = []

    // Numbers are parsed unconditionally, so that `--jobs -1` is read as
    // a value and refused by validate() instead of as a missing value.
    @Option(parsing: .unconditional, help: "Per-check solver timeout in milliseconds, 1 to 4294967295 (default: each theorem's own).")
    var timeout: Int?

    @Option(parsing: .unconditional, help: "Theorems to run at once, each with its own Z3 context (a positive integer).")
    var jobs = 1

    @Option(parsing: .unconditional, help: "Z3 random seed.")
    var seed: UInt32 = 1

    @Option(
      help: ArgumentHelp(
        "Whether Bitwuzla answers the checks Z3 would make on a fresh solver.",
        discussion: "Bitwuzla comes from PyPI: `pip install bitwuzla==0.10.0`. It only answers sat or unsat; counterexamples are Z3's models, checked by Z3. The report says which solver decided how many queries."))
    var secondSolver: SecondSolver = .environmentDefault

    @Option(help: "The expectations file.", completion: .file())
    var expectations = "proofs/expectations.txt"

    @Option(help: "Write the results as a new expectations file instead of comparing.", completion: .file())
    var writeExpectations: String?

    @Flag(help: "Print a JSON report instead of text.")
    var json = false

    @Option(help: "Also write a JUnit XML report to this file (for CI).", completion: .file())
    var junit: String?

    @Option(help: "Write every query as SMT-LIB 2 into this directory.", completion: .directory)
    var smtDumpDir: String?

    @Flag(help: "List the theorems and exit.")
    var list = false

    @Flag(
      help: ArgumentHelp(
        "Also run dma.matrix-class.*: every matrix cell for every platform of the class (hours of CPU on 2 cores; not in CI).",
        discussion: "A dma.matrix-class claim the expectations file does not name is expected as the same dma.matrix cell."))
    var everyPlatform = false

    @Flag(help: "Time how the DMA claims grow with buffer size (1–16 pages) and the walk with IPA size (40/44/48), and exit.")
    var growth = false

    func validate() throws {
      guard jobs >= 1 else { throw ValidationError("--jobs must be a positive integer, found \(jobs)") }
      // Z3's timeout parameter is an unsigned 32-bit count of milliseconds.
      if let timeout, !(1...Int(UInt32.max)).contains(timeout) {
        throw ValidationError("--timeout must be from 1 to \(UInt32.max) ms, found \(timeout)")
      }
      let known = Catalogue.selected(by: [], everyPlatform: everyPlatform).map(\.name)
      for filter in filters where !known.contains(where: { $0.contains(filter) }) {
        throw ValidationError("no theorem matches '\(filter)'; theorems: \(known.joined(separator: ", "))")
      }
    }

    func run() throws {
      if list {
        for theorem in Catalogue.theorems { print("\(theorem.name)\t\(theorem.summary)") }
        for theorem in Catalogue.everyPlatformTheorems { print("\(theorem.name)\t(--every-platform only) \(theorem.summary)") }
        return
      }
      if growth {
        print(GrowthReport.render(try GrowthReport.measure()))
        return
      }
      // Every output path is checked before the first proof: a report that
      // cannot be written is found now, not after minutes of Z3.
      do {
        for path in [writeExpectations, junit, SeededBug.hookReachPath].compactMap({ $0 }) { try OutputFile.check(path) }
        if let smtDumpDir { try Self.prepareDumpDirectory(smtDumpDir) }
      } catch {
        FileHandle.standardError.write(Data("\(error)\n".utf8))
        throw ExitCode(73)
      }
      if secondSolver == .on, let reason = SecondSolver.unavailability() {
        FileHandle.standardError.write(Data("error: --second-solver on: \(reason)\n".utf8))
        throw ExitCode(69)
      }
      var expected = Expectations(refuted: [])
      if writeExpectations == nil {
        do {
          let text = try String(contentsOfFile: expectations, encoding: .utf8)
          expected = try Expectations.parse(text, file: expectations)
        } catch let error as ExpectationsError {
          FileHandle.standardError.write(Data("\(error)\n".utf8))
          throw ExitCode(65)
        } catch {
          FileHandle.standardError.write(Data("\(expectations): error: cannot read the expectations file: \(error.localizedDescription)\n".utf8))
          throw ExitCode(66)
        }
      }
      var options = Catalogue.Options()
      options.filters = filters
      options.everyPlatform = everyPlatform
      options.timeout = timeout.map { .milliseconds($0) }
      options.jobs = jobs
      options.seed = seed
      options.dumpDirectory = smtDumpDir.map { URL(fileURLWithPath: $0) }
      options.secondSolver = secondSolver
      let progress = TerminalProgress()
      options.progress = { finished, total, theorem in progress.show("[\(finished)/\(total)] \(theorem) done …") }
      let reports = Catalogue.run(options)
      progress.finish()
      // Which theorems evaluated which seeded bugs' hooks, for
      // scripts/mutation-score (HookReach.swift says why that suffices).
      if let path = SeededBug.hookReachPath {
        do { try OutputFile.write(SeededBug.hookReachRecord, to: path) } catch {
          FileHandle.standardError.write(Data("DMAVERIFY_HOOK_REACH: \(error)\n".utf8))
          throw ExitCode(73)
        }
      }

      if let writeExpectations {
        do { try OutputFile.write(Expectations.render(reports), to: writeExpectations) } catch {
          FileHandle.standardError.write(Data("\(error)\n".utf8))
          throw ExitCode(73)
        }
        print("wrote \(writeExpectations)")
        return
      }
      let problems = expected.mismatches(reports, filtered: !filters.isEmpty)
      let unknowns = reports.flatMap(\.findings).filter { $0.verdict == .unknown }
      if json {
        print(try JSONText.encode(ProveReport(theorems: reports, mismatches: problems)))
      } else {
        print(ProveText.render(reports, expectations: expected, problems: problems))
      }
      if let junit {
        do { try OutputFile.write(JUnitReport.render(reports, expectations: expected), to: junit) } catch {
          FileHandle.standardError.write(Data("\(error)\n".utf8))
          throw ExitCode(73)
        }
      }
      if !problems.isEmpty { throw ExitCode(1) }
      if !unknowns.isEmpty { throw ExitCode(2) }
    }

    /// Makes the SMT-LIB dump directory and checks that a file can be
    /// created in it.
    static func prepareDumpDirectory(_ path: String) throws(OutputFile.Failure) {
      do {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
      } catch {
        throw OutputFile.Failure(path: path, reason: "cannot make the directory: \(error.localizedDescription)")
      }
      try OutputFile.check((path as NSString).appendingPathComponent("probe.smt2"))
    }
  }

  struct ProveReport: Encodable {
    var theorems: [TheoremReport]
    var mismatches: [String]
  }
}
