import Foundation
import Testing

@Suite("dmaverify command line")
struct CommandLineTests {
  @Test("--help says what the tool is for and exits 0")
  func help() throws {
    let output = try CommandRunner.run(["--help"])
    #expect(output.status == 0)
    #expect(output.standardOutput.contains("OVERVIEW: Decide whether dom0 on Xen/ARM may DMA through the SMMU"))
    #expect(output.standardOutput.contains("USAGE: dmaverify"))
  }

  @Test("--version prints the release, the commit of the checkout it was built in and the Z3 it runs with")
  func version() throws {
    let output = try CommandRunner.run(["--version"])
    #expect(output.status == 0)
    let lines = output.standardOutput.split(separator: "\n").map(String.init)
    #expect(lines.count == 3)
    #expect(lines.first == "dmaverify 0.1.0")
    // The tests run from the package's .build, inside its checkout.
    #expect(lines.dropFirst().first?.wholeMatch(of: /commit: [0-9a-f]{12}(-dirty)?/) != nil, "\(lines)")
    #expect(lines.last?.wholeMatch(of: /Z3: \d+\.\d+\.\d+\.\d+/) != nil, "\(lines)")
  }

  @Test("an unknown option is a usage error (exit 64) naming the option")
  func unknownOption() throws {
    let output = try CommandRunner.run(["--no-such-option"])
    #expect(output.status == 64)
    #expect(output.standardError.contains("Unknown option '--no-such-option'"))
  }
}
