import Foundation
import Testing
import TestSupport

/// Options that take one of a fixed set of values are typed: the help
/// lists the values the type accepts, and a value outside them is a usage
/// error (exit 64) that names the option and every accepted value, before
/// any file is read.
@Suite("Enumerated options")
struct EnumeratedOptionTests {
  static let quarry = repository.appendingPathComponent("Tests/DeviceTreeTests/Fixtures/quarry.dtb").path
  static let policies = "Please provide one of 'legacy', 'merged-flags', 'global-flag' or 'per-device'."
  static let releases = (12...21).map { "  - 4.\($0)" }.joined(separator: "\n")

  @Test(
    "a bad --policy names the option and the four policies",
    arguments: [["check", "--platform", "/nonexistent/board.dtb"], ["platform", "/nonexistent/board.dtb"]])
  func policy(command: [String]) throws {
    let output = try CommandRunner.run(command + ["--policy", "bogus"])
    #expect(output.status == 64)
    #expect(output.standardError.contains("The value 'bogus' is invalid for '--policy <policy>'. \(Self.policies)"), "\(output.standardError)")
  }

  @Test(
    "a bad --xen names the option and every release modelled",
    arguments: [["check", "--platform", "/nonexistent/board.dtb"], ["platform", "/nonexistent/board.dtb"]], ["5.0", "4.11", "4.22", "4.020"])
  func xen(command: [String], release: String) throws {
    let output = try CommandRunner.run(command + ["--xen", release])
    #expect(output.status == 64)
    #expect(output.standardError.contains("The value '\(release)' is invalid for '--xen <xen>'. Please provide one of the following:\n\(Self.releases)\n"), "\(output.standardError)")
  }

  @Test("a bad --dom0, --format or --second-solver names its values", arguments: [
    (["check", "--platform", "/nonexistent/board.dtb", "--dom0", "coloured:3-1"], "'--dom0 <layout>'. Please provide one of 'direct', 'coloured' or 'coloured:COLOURS'."),
    (["platform", "/nonexistent/board.dtb", "--dom0", "coloured:"], "'--dom0 <layout>'. Please provide one of 'direct', 'coloured' or 'coloured:COLOURS'."),
    (["check", "--platform", "/nonexistent/board.dtb", "--format", "yaml"], "'--format <format>'. Please provide one of 'text', 'json' or 'markdown'."),
    (["prove", "--second-solver", "maybe"], "'--second-solver <second-solver>'. Please provide one of 'auto', 'on' or 'off'."),
  ])
  func others(arguments: [String], message: String) throws {
    let output = try CommandRunner.run(arguments)
    #expect(output.status == 64)
    #expect(output.standardError.contains("is invalid for \(message)"), "\(output.standardError)")
  }

  @Test("the help lists each option's values")
  func help() throws {
    let check = try CommandRunner.run(["check", "--help"]).standardOutput.split(whereSeparator: \.isWhitespace).joined(separator: " ")
    #expect(check.contains("(values: legacy, merged-flags, global-flag, per-device)"), "\(check)")
    #expect(check.contains("(values: 4.12, 4.13, 4.14, 4.15, 4.16, 4.17, 4.18, 4.19, 4.20, 4.21; default: 4.21)"))
    #expect(check.contains("(values: direct, coloured, coloured:COLOURS)"))
    #expect(check.contains("text - For reading in a terminal."))
    let platform = try CommandRunner.run(["platform", "--help"]).standardOutput.split(whereSeparator: \.isWhitespace).joined(separator: " ")
    #expect(platform.contains("(values: legacy, merged-flags, global-flag, per-device; default: merged-flags)"))
    #expect(platform.contains("(values: direct, coloured, coloured:COLOURS; default: direct)"))
    let prove = try CommandRunner.run(["prove", "--help"]).standardOutput.split(whereSeparator: \.isWhitespace).joined(separator: " ")
    #expect(prove.contains("auto - Bitwuzla when python3 can import it, else Z3 alone."))
  }

  @Test("--dom0 takes each spelling it always took", arguments: [
    ("direct", "dom0 direct-mapped memory 64M"), ("direct-mapped", "dom0 direct-mapped memory 64M"),
    ("coloured", "dom0 coloured 0-15 memory 64M"), ("colored", "dom0 coloured 0-15 memory 64M"),
    ("coloured:0-3,8", "dom0 coloured 0-3,8 memory 64M"), ("colored:0-3", "dom0 coloured 0-3 memory 64M"),
  ])
  func dom0(spelling: String, line: String) throws {
    let out = FileManager.default.temporaryDirectory.appendingPathComponent("dom0-\(UUID().uuidString).scn")
    defer { try? FileManager.default.removeItem(at: out) }
    let output = try CommandRunner.run(["platform", Self.quarry, "--dom0", spelling, "--xen", "4.20", "--scenario", out.path])
    #expect(output.status == 0, "\(output.standardError)")
    #expect(try String(contentsOf: out, encoding: .utf8).split(separator: "\n").contains { $0 == line })
  }
}
