import Foundation
import Testing
import TestSupport

@Suite("dmaverify run")
struct RunCommandTests {

  func temporaryFile(_ text: String) throws -> String {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("dmaverify-\(UUID().uuidString).scn")
    try text.write(to: url, atomically: true, encoding: .utf8)
    return url.path
  }

  static let passing = """
    ram 0x40000000 64M
    smmu s v2
    device nic smmu s streams 1
    dom0 direct-mapped memory 32M
    dma nic to-device 0x40001000 4K expect ok
    """

  @Test("every seed story runs and meets its expectations (exit 0)")
  func seedStories() throws {
    let directory = repository.appendingPathComponent("corpus/scenarios")
    let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".scn") }.sorted()
      .map { directory.appendingPathComponent($0).path }
    let output = try CommandRunner.run(["run"] + files)
    #expect(output.status == 0, "\(output.standardError)")
    #expect(output.standardOutput.contains("→ CORRUPTION via dma-direct"))
    #expect(output.standardOutput.contains("→ FAULT via swiotlb-xen"))
    #expect(output.standardOutput.contains("Summary: \(files.count) scenarios"))
    #expect(output.standardOutput.contains(" 0 not met"))
  }

  @Test(
    "values past the 64-bit address space are malformed input (65) naming file:line:column, never a trap",
    arguments: [
      ("ram 0xFFFFFFFFFFFFF000 8K", ":1:24: error: expected the RAM bank to end at or below 2^64"),
      ("ipa-bits 9223372036854775808", ":1:10: error: expected an IPA size Xen supports"),
    ])
  func addressSpaceOverflow(text: String, message: String) throws {
    let file = try temporaryFile(text + "\n")
    let output = try CommandRunner.run(["run", file])
    #expect(output.status == 65)
    #expect(output.standardError.contains(file + message), "\(output.standardError)")
  }

  /// Time and memory are linear in statements, so the bound on statements
  /// is what keeps a run bounded; the first line over it is named.
  @Test("a scenario over the statement bound is malformed (65) at its first line over it")
  func statementBound() throws {
    let header = "# a comment line does not count\n" + Self.passing + "\n"
    let lines = Self.passing.split(separator: "\n").count
    let dma = "dma nic to-device 0x40001000 4K expect ok\n"
    let over = try temporaryFile(header + String(repeating: dma, count: 100_000 - lines + 1))
    let output = try CommandRunner.run(["run", over])
    #expect(output.status == 65)
    #expect(
      output.standardError == "\(over):\(100_000 + 2):1: error: expected at most 100000 statements in a scenario (a bound on its time and memory), found more: this is statement 100001\n",
      "\(output.standardError)")
  }

  /// A scenario's name is the user's text; a raw C1 control in a report
  /// would be taken by a terminal as a control sequence.
  @Test("--json writes DEL and C1 controls from a scenario's name as \\u escapes")
  func jsonEscapesControls() throws {
    let file = try temporaryFile("scenario \"a\u{7F}b\u{9B}c\u{9F}d\"\n" + Self.passing + "\n")
    let output = try CommandRunner.run(["run", "--json", file])
    #expect(output.status == 0, "\(output.standardError)")
    #expect(output.standardOutput.contains(#""name" : "a\u007fb\u009bc\u009fd""#), "\(output.standardOutput)")
    #expect(!output.standardOutput.unicodeScalars.contains { $0.value == 0x7F || (0x80...0x9F).contains($0.value) })
  }

  @Test("--help says which Xen release a scenario without 'xen' models")
  func helpNamesDefaultRelease() throws {
    let output = try CommandRunner.run(["run", "--help"])
    #expect(output.status == 0)
    #expect(output.standardOutput.contains("models Xen 4.21, the default of every command"), "\(output.standardOutput)")
  }

  @Test("an empty or comment-only scenario checks nothing: exit 65, saying so", arguments: ["", "# only a comment\n\n"])
  func checksNothing(text: String) throws {
    let file = try temporaryFile(text)
    let output = try CommandRunner.run(["run", file])
    #expect(output.status == 65)
    #expect(output.standardError == "\(file): error: the scenario has no statements, so it checks nothing\n")
  }

  @Test("a refused setup step is not a pass: exit 1, the step named on stderr and in the summary")
  func refusedSetup() throws {
    let file = try temporaryFile(Self.passing + "\ndomu guest id 1 memory 0xfffffffffff00000 1M base 0x40000000\n")
    let output = try CommandRunner.run(["run", file])
    #expect(output.status == 1)
    #expect(output.standardOutput.contains("1 expectation met, 0 not met, 1 step refused"))
    #expect(output.standardError.hasPrefix("\(file):6: error: domu guest id 1 memory 0xfffffffffff00000 1M base 0x40000000 → refused: "))
    // --json fails the same way, with the reason on stderr.
    let json = try CommandRunner.run(["run", "--json", file])
    #expect(json.status == 1)
    #expect(json.standardError.contains("→ refused: "))
  }

  @Test("a DMA that corrupts memory without an expect is not a pass: exit 1, saying so")
  func unexpectedCorruption() throws {
    let file = try temporaryFile("""
      xen 4.20
      llc-colours 16
      ram 0x40000000 256M
      iommu on
      linux global-flag
      device mmc untranslated
      dom0 coloured 0-7 memory 32M
      dma mmc from-device 0x41000000 4K

      """)
    let output = try CommandRunner.run(["run", file])
    #expect(output.status == 1)
    #expect(output.standardOutput.contains("0 not met, 1 DMA not ok without an expect"))
    #expect(output.standardError == "\(file):8: error: corruption without an expect: dma mmc from-device 0x41000000 4K\n")
    // With the expect that says so, it passes.
    let expected = try temporaryFile(try String(contentsOfFile: file, encoding: .utf8).replacingOccurrences(of: "4K\n", with: "4K expect corruption\n"))
    #expect(try CommandRunner.run(["run", expected]).status == 0)
  }

  @Test("a FIFO with no writer does not block: it reads as empty and checks nothing (65)")
  func fifo() throws {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("fifo-\(UUID().uuidString).scn").path
    #expect(mkfifo(path, 0o600) == 0)
    defer { unlink(path) }
    let start = Date()
    let output = try CommandRunner.run(["run", path])
    #expect(output.status == 65)
    #expect(output.standardError.contains("checks nothing"))
    #expect(Date().timeIntervalSince(start) < 20)
  }

  @Test("/dev/null is read, and checks nothing (65)")
  func devNull() throws {
    let output = try CommandRunner.run(["run", "/dev/null"])
    #expect(output.status == 65)
    #expect(output.standardError.contains("checks nothing"))
  }

  @Test("a CRLF scenario runs as its LF twin")
  func crlf() throws {
    let file = try temporaryFile(Self.passing.replacingOccurrences(of: "\n", with: "\r\n") + "\r\n")
    let output = try CommandRunner.run(["run", file])
    #expect(output.status == 0, "\(output.standardError)")
    #expect(output.standardOutput.contains("1 expectation met, 0 not met"))
  }

  @Test("binary or non-UTF-8 input is malformed (65) with the byte offset, not unreadable")
  func notText() throws {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("dmaverify-\(UUID().uuidString).scn")
    try Data([0x72, 0x61, 0x6D, 0x20, 0xFF, 0xFE, 0x00]).write(to: url)
    let output = try CommandRunner.run(["run", url.path])
    #expect(output.status == 65)
    #expect(output.standardError == "\(url.path):1:5: error: expected UTF-8 text, found the byte 0xff at byte offset 4\n")
  }

  @Test("a directory given as a scenario is unreadable (66) and the message says it is a directory")
  func directory() throws {
    let output = try CommandRunner.run(["run", FileManager.default.temporaryDirectory.path])
    #expect(output.status == 66)
    #expect(output.standardError.contains("error: cannot read the file: it is a directory, not a scenario"))
    #expect(!output.standardError.contains("NSCocoaErrorDomain"))
  }

  @Test("an unmet expectation exits 1 and says NOT MET")
  func unmetExpectation() throws {
    let file = try temporaryFile(Self.passing.replacingOccurrences(of: "expect ok", with: "expect corruption"))
    let output = try CommandRunner.run(["run", file])
    #expect(output.status == 1)
    #expect(output.standardOutput.contains("expected corruption: NOT MET"))
    #expect(output.standardOutput.contains("1 not met"))
  }

  @Test("--json prints a machine-readable report")
  func json() throws {
    let file = try temporaryFile(Self.passing)
    let output = try CommandRunner.run(["run", "--json", file])
    #expect(output.status == 0)
    let documents = try JSONSerialization.jsonObject(with: Data(output.standardOutput.utf8)) as? [[String: Any]]
    let report = try #require(documents?.first?["report"] as? [String: Any])
    let steps = try #require(report["steps"] as? [[String: Any]])
    let dma = try #require(steps.last?["dma"] as? [String: Any])
    #expect(dma["outcome"] as? String == "ok")
    #expect(dma["path"] as? String == "dma-direct" || dma["path"] as? String == "swiotlb-xen")
    #expect(steps.last?["expectationMet"] as? Bool == true)
  }

  @Test("a malformed scenario exits 65 naming file, line and column")
  func malformed() throws {
    let file = try temporaryFile("ram 0x40000000 64M\nlinux swiotlb\n")
    let output = try CommandRunner.run(["run", file])
    #expect(output.status == 65)
    #expect(output.standardError.hasPrefix("\(file):2:7: error: expected a DMA policy"))
    #expect(output.standardOutput.isEmpty)
  }

  @Test("a scenario that cannot run exits 65 naming the line")
  func meaningless() throws {
    let file = try temporaryFile("attach nic dom0\n")
    let output = try CommandRunner.run(["run", file])
    #expect(output.status == 65)
    #expect(output.standardError.hasPrefix("\(file):1:1: error: expected dom0 to be declared"))
  }

  @Test("a missing file exits 66; no file is a usage error (64)")
  func missingFile() throws {
    let output = try CommandRunner.run(["run", "/nonexistent/story.scn"])
    #expect(output.status == 66)
    #expect(output.standardError.hasPrefix("/nonexistent/story.scn: error: cannot read the file"))
    #expect(try CommandRunner.run(["run"]).status == 64)
  }

  @Test("run --help documents the exit status")
  func help() throws {
    let output = try CommandRunner.run(["run", "--help"])
    #expect(output.status == 0)
    #expect(output.standardOutput.contains("Exit status: 0 when every expectation is met"))
    #expect(output.standardOutput.contains("--json"))
  }
}
