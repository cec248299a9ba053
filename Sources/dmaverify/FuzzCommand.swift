import ArgumentParser
import Foundation
import FuzzCore
import SystemIO

extension DMAVerify {
  /// `dmaverify fuzz [-- LIBFUZZER-FLAGS…]`: builds the libFuzzer target and
  /// runs it on the corpus.
  struct Fuzz: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Build the libFuzzer target if needed and fuzz the spec against the implementation.",
      discussion: """
        Builds the fuzz target with the toolchain's libFuzzer in its own scratch
        path (swift build -c release --scratch-path .build-fuzz -Xswiftc
        -sanitize=fuzzer -Xswiftc -sanitize-coverage=\(Self.coverage(traceComparisons: false))
        -Xswiftc -DFUZZING; a no-op when up to date), then runs it
        with the dictionary corpus/fuzz.dict on a working corpus (new inputs go
        there) seeded from corpus/fuzz. Everything after -- goes to libFuzzer, e.g.
        -max_total_time=3600, -jobs=4, -workers=2, -fork=2, -runs=N. Progress is
        libFuzzer's own. A failing input is written as crash-<sha1>; turn it into a
        regression scenario with `dmaverify minimize crash-<sha1>`. The DMA
        properties required are those the --expectations file does not list as
        refuted (passed to the target in DMAVERIFY_EXPECTATIONS).

        Comparisons are not instrumented unless --trace-comparisons is given:
        the input format indexes small pools, so there are no magic values for
        libFuzzer's comparison feedback to solve, and the hooks cost a third of
        the run time at equal coverage (BENCHMARKS.md, Fuzzing).

        The build and libFuzzer each run in a process group of their own: the
        build is killed with its compilers after --build-timeout seconds, and
        an interrupt (SIGINT, SIGTERM, SIGHUP) sent to dmaverify kills the
        group before dmaverify stops, so neither outlives it (libFuzzer's
        crash files are written when it finds them; SIGKILL to dmaverify
        itself cannot be caught).

        Run from the package root. Exit status: libFuzzer's (0 when no input
        failed; 1 or a signal status on a crash), 64 for bad arguments, 65/66
        for a malformed or unreadable expectations file, 70 when the build
        fails or times out (the build's own messages are on stderr).
        """)

    @Option(help: "The scratch path of the fuzzing build (default: .build-fuzz, or .build-fuzz-cmp with --trace-comparisons).", completion: .directory)
    var scratchPath: String?

    @Flag(help: "Build with libFuzzer's comparison hooks too (-sanitize-coverage=trace-cmp).")
    var traceComparisons = false

    @Option(help: "Seed corpus directory (read, never written).", completion: .directory)
    var seeds = "corpus/fuzz"

    @Option(help: "Working corpus directory, where libFuzzer saves new inputs (default: <scratch-path>/corpus).", completion: .directory)
    var workingCorpus: String?

    @Option(help: "libFuzzer dictionary.", completion: .file())
    var dictionary = "corpus/fuzz.dict"

    @Flag(help: "Do not build; run the binary already in the scratch path.")
    var skipBuild = false

    @Option(parsing: .unconditional, help: ArgumentHelp("How long the fuzzing build may take before it is killed.", valueName: "seconds"))
    var buildTimeout: Double = 3600

    @OptionGroup var claims: ClaimsOption

    @Argument(parsing: .postTerminator, help: "Flags passed to libFuzzer (after --).")
    var libFuzzerFlags: [String] = []

    func validate() throws {
      guard buildTimeout.isFinite, buildTimeout > 0, buildTimeout <= 86_400 else {
        throw ValidationError("expected --build-timeout to be a number of seconds above 0 and at most 86400, found \(buildTimeout)")
      }
      guard FileManager.default.fileExists(atPath: "Package.swift") else {
        throw ValidationError("run 'dmaverify fuzz' from the package root (no Package.swift here)")
      }
      guard FileManager.default.fileExists(atPath: seeds) else { throw ValidationError("no seed corpus at \(seeds)") }
      for flag in libFuzzerFlags where !flag.hasPrefix("-") {
        throw ValidationError("libFuzzer flags start with '-', found '\(flag)'; corpus directories are --seeds and --working-corpus")
      }
    }

    func run() throws {
      // Read now, so a bad file is reported before a long build; the target
      // reads it again from DMAVERIFY_EXPECTATIONS.
      _ = try claims.load()
      setenv(DMAClaims.environmentVariable, URL(fileURLWithPath: claims.expectations).path, 1)
      let scratchPath = scratchPath ?? (traceComparisons ? ".build-fuzz-cmp" : ".build-fuzz")
      if !skipBuild {
        let status = try Self.spawn(timeout: buildTimeout, "/usr/bin/env", [
          "swift", "build", "-c", "release", "--scratch-path", scratchPath, "--product", "fuzz",
          "-Xswiftc", "-sanitize=fuzzer", "-Xswiftc", "-sanitize-coverage=\(Self.coverage(traceComparisons: traceComparisons))",
          "-Xswiftc", "-DFUZZING",
        ])
        guard status == .exited(0) else {
          FileHandle.standardError.write(Data("dmaverify fuzz: the fuzzing build failed (\(status)); its messages are above\n".utf8))
          throw ExitCode(70)
        }
      }
      let binary = "\(scratchPath)/release/fuzz"
      guard FileManager.default.isExecutableFile(atPath: binary) else {
        FileHandle.standardError.write(Data("\(binary): error: no fuzzing binary; run without --skip-build\n".utf8))
        throw ExitCode(70)
      }
      let working = workingCorpus ?? "\(scratchPath)/corpus"
      try FileManager.default.createDirectory(atPath: working, withIntermediateDirectories: true)
      var arguments = libFuzzerFlags
      if FileManager.default.fileExists(atPath: dictionary), !arguments.contains(where: { $0.hasPrefix("-dict=") }) {
        arguments.append("-dict=\(dictionary)")
      }
      arguments += [working, seeds]
      // On stderr, unbuffered, before libFuzzer's own lines.
      FileHandle.standardError.write(Data("dmaverify fuzz: \(binary) \(arguments.joined(separator: " "))\n".utf8))
      let status = try Self.spawn(timeout: nil, binary, arguments)
      if status != .exited(0) { throw ExitCode(status.status) }
    }

    /// SanitizerCoverage's instrumentation: what `-sanitize=fuzzer` selects
    /// on its own (edges as inline 8-bit counters with their PC table, and
    /// indirect calls), with `trace-cmp` only when asked for.
    /// `.clusterfuzzlite/build.sh` uses the same list outside OSS-Fuzz.
    static func coverage(traceComparisons: Bool) -> String {
      "edge,indirect-calls,inline-8bit-counters,pc-table" + (traceComparisons ? ",trace-cmp" : "")
    }

    /// Runs a program with this process's standard streams (libFuzzer's
    /// progress goes straight to the terminal) in its own process group
    /// (``ChildProcess``) and returns how it ended; a timeout or a failure
    /// to start is exit 70 with the reason.
    static func spawn(timeout: Double?, _ executable: String, _ arguments: [String]) throws -> ChildProcess.Termination {
      do {
        return try ChildProcess.runInheritingOutput(executable, arguments, timeout: timeout)
      } catch {
        FileHandle.standardError.write(Data("dmaverify fuzz: \(error)\n".utf8))
        throw ExitCode(70)
      }
    }
  }
}
