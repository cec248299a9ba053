import ArgumentParser
import Foundation
import FuzzCore

extension DMAVerify {
  /// `dmaverify replay FILE…`: re-runs fuzz inputs and scenarios under the
  /// fuzzer's oracles.
  struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Replay fuzz inputs or scenarios under the fuzzer's oracles.",
      discussion: """
        Each file is a raw fuzz input (a corpus entry, a libFuzzer crash file) or,
        when it ends in .scn, a scenario; a directory stands for every file under
        it. Each is run on the specification with the implementation's p2m
        alongside (spec versus implementation) and its DMAs judged (each expect,
        and for a DMA in a dma.matrix cell every property the expectations file
        does not list as refuted); PASS or FAIL is printed per file, with a trace
        for each failure. Where the implementation legitimately went where the
        spec cannot follow (a guest's sized p2m pool ran dry: the spec has no
        tables), the refusal is judged, nothing after it is compared, and the
        PASS line says after which statement and why.

        Exit status: 0 when every input passes, 1 when one fails, 65 when a
        scenario or the expectations file is malformed (file:line), 66 when a
        path cannot be read.
        """)

    @Argument(help: "Fuzz inputs, .scn scenarios, or directories of them.", completion: .file())
    var paths: [String]

    @Flag(name: .shortAndLong, help: "Print the number of statements of passing inputs too.")
    var verbose = false

    @OptionGroup var claims: ClaimsOption

    func validate() throws {
      guard !paths.isEmpty else { throw ValidationError("expected at least one file or directory") }
    }

    func run() throws {
      let status = FuzzCore.Replay.run(paths, claims: try claims.load(), verbose: verbose, output: { print($0) }) {
        FileHandle.standardError.write(Data(($0 + "\n").utf8))
      }
      if status != 0 { throw ExitCode(status) }
    }
  }
}
