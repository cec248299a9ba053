import Foundation
import Testing
import TestSupport

/// End to end: `dmaverify replay`, `minimize` and `convert` exit codes and
/// messages, run as a user would.
@Suite("dmaverify replay, minimize, convert")
struct FuzzCommandTests {

  func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("dmaverify-fuzz-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
  }

  /// The fuzzer's default platform, as a scenario prefix.
  static let platform = """
    xen 4.21
    ipa-bits 40
    ram 0x40000000 16M
    iommu on
    hypercall-cflush on
    linux legacy
    smmu smmu0 v2
    device nic smmu smmu0 streams 0x10 coherent dma-mask 64
    device gpu smmu smmu0 streams 0x20 coherent dma-mask 64
    dom0 direct-mapped memory 2M
    domu guest id 1 memory 0x40800000 2M base 0x80000000

    """

  @Test("replay of the committed corpus and regressions passes (exit 0)")
  func replayCorpus() throws {
    let output = try CommandRunner.run(["replay", "corpus/fuzz", "corpus/regressions"], in: repository)
    #expect(output.status == 0, "\(output.standardOutput)\(output.standardError)")
    #expect(output.standardOutput.contains("PASS corpus/fuzz/grant-legacy"))
    #expect(output.standardOutput.contains(" 0 failed"))
  }

  @Test("replay judges DMAs by the --expectations file; a missing one exits 66, a malformed one 65, each naming it")
  func replayExpectations() throws {
    let directory = try temporaryDirectory()
    let scenario = directory.appendingPathComponent("grant-414.scn")
    try (Self.platform.replacingOccurrences(of: "xen 4.21", with: "xen 4.14")
      + "grant guest 0x80001000 to dom0 at 0x50000000 rw as g0\ndma nic from-device 0x50000000 0x40\n")
      .write(to: scenario, atomically: true, encoding: .utf8)
    let committed = try CommandRunner.run(["replay", scenario.path], in: repository)
    #expect(committed.status == 0, "the committed file lists this cell's faults as refuted: \(committed.standardOutput)")

    let nothingRefuted = directory.appendingPathComponent("none.txt")
    try "# every claim proved\n".write(to: nothingRefuted, atomically: true, encoding: .utf8)
    let strict = try CommandRunner.run(["replay", "--expectations", nothingRefuted.path, scenario.path])
    #expect(strict.status == 1)
    #expect(strict.standardOutput.contains("FAIL dma-property/dma.matrix[legacy/direct-mapped/attached/grant/one-page/before-fix].integrity"))

    let missing = try CommandRunner.run(["replay", "--expectations", directory.appendingPathComponent("absent.txt").path, scenario.path])
    #expect(missing.status == 66)
    #expect(missing.standardError.contains("absent.txt: error: cannot read the expectations file"))
    let malformed = directory.appendingPathComponent("bad.txt")
    try "dma.matrix[x].liveness refuted\nproved\n".write(to: malformed, atomically: true, encoding: .utf8)
    let bad = try CommandRunner.run(["replay", "--expectations", malformed.path, scenario.path])
    #expect(bad.status == 65)
    #expect(bad.standardError.contains("bad.txt:2"))
  }

  @Test("a failing scenario replays as FAIL with its trace (exit 1)")
  func replayFailure() throws {
    let directory = try temporaryDirectory()
    let file = directory.appendingPathComponent("unmet.scn")
    try (Self.platform + "dma nic to-device 0x40000000 0x40 expect fault\n").write(to: file, atomically: true, encoding: .utf8)
    let raw = directory.appendingPathComponent("raw")
    try Data([0, 0, 2, 1, 0]).write(to: raw)
    let output = try CommandRunner.run(["replay", file.path, raw.path])
    #expect(output.status == 1)
    #expect(output.standardOutput.contains("FAIL \(file.path)"))
    #expect(output.standardOutput.contains("FAIL dma-property/expectation at step 11: dma nic to-device 0x40000000 0x40 expect fault"))
    #expect(output.standardOutput.contains("PASS \(raw.path)"))
    #expect(output.standardOutput.contains("Summary: 2 inputs, 1 passed, 1 failed"))
  }

  @Test("replay: a malformed scenario exits 65 naming file:line:column, a missing path 66, no path 64")
  func replayBadInput() throws {
    let directory = try temporaryDirectory()
    let file = directory.appendingPathComponent("bad.scn")
    try "xen 4.21\nlinux swiotlb\n".write(to: file, atomically: true, encoding: .utf8)
    let malformed = try CommandRunner.run(["replay", file.path])
    #expect(malformed.status == 65)
    #expect(malformed.standardError.hasPrefix("\(file.path):2:7: error: expected a DMA policy"))
    let missing = try CommandRunner.run(["replay", "/nonexistent/crash-1"])
    #expect(missing.status == 66)
    #expect(missing.standardError.hasPrefix("/nonexistent/crash-1: error: no such file or directory"))
    #expect(try CommandRunner.run(["replay"]).status == 64)
  }

  @Test("minimize writes a 1-minimal regression scenario with the same failure and prints its path (exit 0)")
  func minimize() throws {
    let directory = try temporaryDirectory()
    let file = directory.appendingPathComponent("crash.scn")
    try (Self.platform + """
      grant guest 0x80001000 to dom0 at 0x50000000 rw as g0
      dma nic to-device 0x40000000 0x40
      attach gpu dom0
      dma nic to-device 0x50000000 0x40 expect fault
      ungrant g0

      """).write(to: file, atomically: true, encoding: .utf8)
    let output = try CommandRunner.run(["minimize", file.path, "--output-directory", directory.appendingPathComponent("regressions").path])
    #expect(output.status == 0, "\(output.standardError)")
    let lines = output.standardOutput.split(separator: "\n")
    #expect(lines.first?.hasPrefix("dma-property/expectation at 'dma': 1 operation after") == true, "\(output.standardOutput)")
    let written = try #require(lines.last.map(String.init))
    #expect(written.hasSuffix("regressions/dma-property-expectation-dma.scn"))
    let text = try String(contentsOfFile: written, encoding: .utf8)
    #expect(text.contains("# It fails dma-property/expectation at 'dma'"))
    // The grant goes too: an unmapped buffer is refused, which is no fault
    // either; then the buffer moves to the first dom0 page.
    #expect(text.hasSuffix("domu guest id 1 memory 0x40800000 2M base 0x80000000\ndma nic to-device 0x40000000 0x40 expect fault\n"))
    let replay = try CommandRunner.run(["replay", written])
    #expect(replay.status == 1, "the written scenario fails the same way until the bug is fixed")
  }

  /// The README's loop for a DMA-matrix property: a raw crash file whose
  /// failure's name holds `/` and brackets, minimized from inside a package
  /// with no --output-directory, then replayed.
  @Test("crash file of a DMA-matrix property failure → minimize (default directory, safe name) → replay")
  func matrixPropertyLoop() throws {
    let package = try temporaryDirectory()
    try "// swift-tools-version:6.1\n".write(to: package.appendingPathComponent("Package.swift"), atomically: true, encoding: .utf8)
    let inside = package.appendingPathComponent("corpus/fuzz")
    try FileManager.default.createDirectory(at: inside, withIntermediateDirectories: true)
    // An empty expectations file requires every matrix claim, so the
    // global flag's corruption of a grant by an untranslated MMC fails.
    let none = package.appendingPathComponent("none.txt")
    try "".write(to: none, atomically: true, encoding: .utf8)
    let scenario = package.appendingPathComponent("failing.scn")
    try (Self.platform.replacingOccurrences(of: "linux legacy", with: "linux global-flag")
      .replacingOccurrences(of: "dom0 direct-mapped", with: "device mmc untranslated\ndom0 direct-mapped") + """
      grant guest 0x80001000 to dom0 at 0x50000000 rw as g0
      dma nic to-device 0x40000000 4K
      dma mmc from-device 0x50000000 4K

      """).write(to: scenario, atomically: true, encoding: .utf8)
    let crash = package.appendingPathComponent("crash-0123")
    let converted = try CommandRunner.run(["convert", scenario.path, "-o", crash.path])
    #expect(converted.status == 0, "\(converted.standardError)")

    let minimized = try CommandRunner.run(["minimize", crash.path, "--expectations", none.path], in: inside)
    #expect(minimized.status == 0, "\(minimized.standardError)")
    let written = try #require(minimized.standardOutput.split(separator: "\n").last.map(String.init))
    let name = "dma-property-dma.matrix_global-flag_direct-mapped_not-behind-smmu_grant_one-page_after-fix_.integrity-dma.scn"
    let expected = package.appendingPathComponent("corpus/regressions/" + name).standardizedFileURL.path
    #expect(URL(fileURLWithPath: written).standardizedFileURL.path == expected)
    #expect(FileManager.default.fileExists(atPath: expected))

    let same = try CommandRunner.run(["replay", "--expectations", none.path, expected])
    #expect(same.status == 1, "under the same expectations it still fails")
    let real = try CommandRunner.run(["replay", expected], in: repository)
    #expect(real.status == 0, "the proofs list the claim as refuted, so the real expectations accept it: \(real.standardOutput)")
  }

  @Test("minimize outside the package without --output-directory is a usage error (64) before any work")
  func minimizeOutsidePackage() throws {
    let outside = try temporaryDirectory()
    let output = try CommandRunner.run(["minimize", "crash-x", "--expectations", "/dev/null"], in: outside)
    #expect(output.status == 64)
    #expect(output.standardError.contains("give --output-directory"))
  }

  @Test("minimize of a passing input exits 1; of an unreadable one 66")
  func minimizeNothing() throws {
    let passing = try CommandRunner.run(["minimize", "corpus/fuzz/grant-legacy"], in: repository)
    #expect(passing.status == 1)
    #expect(passing.standardOutput.contains("passes every oracle; nothing to minimize"))
    #expect(try CommandRunner.run(["minimize", "/nonexistent/crash-2"]).status == 66)
  }

  @Test("convert turns a seed scenario into its bytes and bytes back into a scenario")
  func convert() throws {
    let directory = try temporaryDirectory()
    let bytes = directory.appendingPathComponent("seed")
    let encoded = try CommandRunner.run(["convert", "corpus/fuzz-seeds/grant-legacy.scn", "-o", bytes.path], in: repository)
    #expect(encoded.status == 0, "\(encoded.standardError)")
    #expect(try Data(contentsOf: bytes) == Data(contentsOf: repository.appendingPathComponent("corpus/fuzz/grant-legacy")))
    let decoded = try CommandRunner.run(["convert", bytes.path])
    #expect(decoded.status == 0)
    #expect(decoded.standardOutput.hasPrefix(Self.platform))
    let unencodable = directory.appendingPathComponent("story.scn")
    try (Self.platform + "p2m dom0 map 0x40003000 0x40000000 ram_rw\n").write(to: unencodable, atomically: true, encoding: .utf8)
    let refused = try CommandRunner.run(["convert", unencodable.path, "-o", bytes.path])
    #expect(refused.status == 65)
    #expect(refused.standardError.hasPrefix("\(unencodable.path):12: error: p2m dom0 map 0x40003000 0x40000000 ram_rw: 0x40003000 is not among"))
  }

  @Test("fuzz outside the package root is a usage error (64); help documents pass-through flags")
  func fuzzUsage() throws {
    let elsewhere = try CommandRunner.run(["fuzz", "--", "-runs=1"], in: try temporaryDirectory())
    #expect(elsewhere.status == 64)
    #expect(elsewhere.standardError.contains("run 'dmaverify fuzz' from the package root"))
    let help = try CommandRunner.run(["fuzz", "--help"])
    #expect(help.standardOutput.contains("-max_total_time=3600, -jobs=4, -workers=2, -fork=2"))
    #expect(help.standardOutput.contains("--trace-comparisons"))
    #expect(help.standardOutput.contains("-sanitize-coverage=edge,indirect-calls,inline-8bit-counters,pc-table"))
  }
}
