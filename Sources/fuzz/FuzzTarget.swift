import Foundation
import FuzzCore
import Spec

/// The DMA properties the proofs establish (``DMAClaims``): read once, at
/// start-up; a missing or malformed file ends the process before any input
/// runs, since fuzzing without them would silently check less.
let claims: DMAClaims = {
  let path = DMAClaims.fuzzTargetPath(environment: ProcessInfo.processInfo.environment, executable: CommandLine.arguments[0])
  do throws(FuzzInput.LoadError) { return try DMAClaims.load(path) } catch {
    FileHandle.standardError.write(Data("\(error.description)\n(set \(DMAClaims.environmentVariable) or run from the package root)\n".utf8))
    exit(error.unreadable ? 66 : 65)
  }
}()

/// One checker for the process, so each configuration boots once; lean,
/// since libFuzzer needs speed (``ScenarioChecker``).
nonisolated(unsafe) let checker = ScenarioChecker(mode: .lean, claims: claims)

/// libFuzzer's entry: decode the bytes totally, run both oracles, and trap
/// on the first violated property so libFuzzer saves the input as a crash
/// (`dmaverify minimize crash-…` turns it into a regression scenario).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
  let bytes = start.map { [UInt8](UnsafeRawBufferPointer(start: $0, count: count)) } ?? []
  let result = checker.check(bytes: bytes)
  if result.failure != nil {
    // stderr is unbuffered: the trace must be out before the trap.
    FileHandle.standardError.write(Data((result.trace + "\n").utf8))
    fatalError("dmaverify fuzz: property violated")
  }
  return 0
}

#if FUZZING
  /// SwiftPM renames an executable's `main` to `<Target>_main`, which hides
  /// libFuzzer's own `main`; this hands control to libFuzzer's driver
  /// instead (DESIGN.md §6).
  @_silgen_name("LLVMFuzzerRunDriver")
  func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafeRawPointer?, Int) -> CInt
  ) -> CInt

  /// Swift's runtime backtracer installs handlers for the crash signals
  /// before `main`, and libFuzzer leaves an installed handler alone, so it
  /// would never see the trap and never write `crash-<sha1>`. The process
  /// therefore re-executes itself once with the backtracer off
  /// (`SWIFT_BACKTRACE=enable=no`, read only at startup); libFuzzer then
  /// owns the signals. Children of `-fork`/`-jobs` inherit the variable.
  @_cdecl("fuzz_main")
  public func fuzzMain(
    _ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
  ) -> CInt {
    if getenv("SWIFT_BACKTRACE") == nil, let argv {
      setenv("SWIFT_BACKTRACE", "enable=no", 1)
      execv("/proc/self/exe", argv)
      // execv returned: carry on without crash files rather than not at all.
      FileHandle.standardError.write(Data("dmaverify fuzz: cannot re-execute without the Swift backtracer; crashes will not be saved\n".utf8))
    }
    _ = claims
    if let note = SeededBug.processAnnouncement { FileHandle.standardError.write(Data("dmaverify fuzz: \(note)\n".utf8)) }
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments) { start, size in fuzzTestOneInput(start, size) }
  }
#else
  /// Built without libFuzzer: replays the files and directories given (raw
  /// inputs or `.scn` scenarios), by default the seeds and regressions.
  @main
  enum ReplayMain {
    static func main() {
      if let note = SeededBug.processAnnouncement { FileHandle.standardError.write(Data("fuzz: \(note)\n".utf8)) }
      let paths = Array(CommandLine.arguments.dropFirst())
      let status = Replay.run(paths.isEmpty ? ["corpus/fuzz", "corpus/regressions"] : paths, claims: claims, output: { print($0) }) {
        FileHandle.standardError.write(Data(($0 + "\n").utf8))
      }
      exit(status)
    }
  }
#endif
