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

  @Test("--version prints the version")
  func version() throws {
    let output = try CommandRunner.run(["--version"])
    #expect(output.status == 0)
    #expect(output.standardOutput == "0.1.0\n")
  }

  @Test("an unknown option is a usage error (exit 64) naming the option")
  func unknownOption() throws {
    let output = try CommandRunner.run(["--no-such-option"])
    #expect(output.status == 64)
    #expect(output.standardError.contains("Unknown option '--no-such-option'"))
  }
}
