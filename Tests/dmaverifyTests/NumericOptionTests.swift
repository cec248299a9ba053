import Foundation
import Testing
import TestSupport

/// Numeric options are validated before any work: a value that is not a
/// number the command can use is a usage error (exit 64) naming the
/// option, never a trap and never "missing value".
@Suite("Numeric options")
struct NumericOptionTests {

  @Test(
    "search --max-seconds must be finite, positive and at most a week",
    arguments: ["nan", "inf", "-inf", "1e300", "0", "-1", "604801"])
  func maxSeconds(value: String) throws {
    let output = try CommandRunner.run(["search", "corpus/fuzz", "--max-seconds", value], in: repository)
    #expect(output.status == 64, "\(output.standardError)")
    #expect(output.standardError.contains("--max-seconds must be a number of seconds more than 0 and at most 604800"))
  }

  @Test("search --runs must be a positive integer", arguments: ["0", "-1"])
  func runs(value: String) throws {
    let output = try CommandRunner.run(["search", "corpus/fuzz", "--runs", value], in: repository)
    #expect(output.status == 64)
    #expect(output.standardError.contains("--runs must be a positive integer, found \(value)"))
  }

  @Test("prove --jobs -1 says the value is wrong, not missing", arguments: ["-1", "0"])
  func jobs(value: String) throws {
    let output = try CommandRunner.run(["prove", "--list", "--jobs", value], in: repository)
    #expect(output.status == 64)
    #expect(output.standardError.contains("--jobs must be a positive integer, found \(value)"))
    #expect(!output.standardError.contains("Missing value"))
  }

  @Test("prove --timeout must fit Z3's 32-bit millisecond count", arguments: ["0", "-5", "4294967296"])
  func timeout(value: String) throws {
    let output = try CommandRunner.run(["prove", "--list", "--timeout", value], in: repository)
    #expect(output.status == 64)
    #expect(output.standardError.contains("--timeout must be from 1 to 4294967295 ms, found \(value)"))
  }

  @Test("platform --llc-colours -1 is a wrong value, not a missing one")
  func llcColours() throws {
    let output = try CommandRunner.run(["platform", "--llc-colours", "-1", "Tests/DeviceTreeTests/Fixtures/quarry.dtb"], in: repository)
    #expect(output.status == 64)
    #expect(output.standardError.contains("expected --llc-colours to be a power of two ≥ 2, found -1"))
  }
}
