import Foundation
import Testing

@Suite("dmaverify check")
struct CheckCommandTests {
  static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("DeviceTreeTests/Fixtures")
  var quarry: String { Self.fixtures.appendingPathComponent("quarry.dtb").path }

  /// quarry: a macb and an xHCI on mmu-masters, an unprotected AHCI and an
  /// unknown mailbox. The RFC's flag lets the AHCI corrupt memory (Julien's
  /// objection); on a coloured dom0 even its own pages.
  @Test("an unprotected AHCI makes the global flag UNSAFE, replayed on the board (exit 1)")
  func unsafe() throws {
    let output = try CommandRunner.run(["check", "--platform", quarry, "--policy", "global-flag"])
    #expect(output.status == 1, "\(output.standardError)")
    #expect(output.standardOutput.contains("not-behind-smmu   /sata@2d000000"))
    #expect(output.standardOutput.contains("UNSAFE  global-flag on a direct-mapped dom0"))
    #expect(output.standardOutput.contains("corruption for grant, foreign pages: /sata@2d000000, /mailbox@2e000000"))
    #expect(output.standardOutput.contains("on this board: dma sata from-device 0x80100000 4K → CORRUPTION via dma-direct"))
  }

  @Test("with every master behind the SMMU the global flag is SAFE on both layouts (exit 0)")
  func safe() throws {
    let output = try CommandRunner.run([
      "check", "--platform", quarry, "--policy", "global-flag", "--assume-no-dma", "sata@2d000000", "--assume-no-dma", "mailbox@2e000000",
    ])
    #expect(output.status == 0, "\(output.standardOutput)\(output.standardError)")
    #expect(output.standardOutput.contains("SAFE    global-flag on a direct-mapped dom0"))
    #expect(output.standardOutput.contains("SAFE    global-flag on a coloured dom0"))
  }

  @Test("--json carries the verdicts")
  func json() throws {
    let output = try CommandRunner.run(["check", "--platform", quarry, "--policy", "legacy", "--dom0", "direct", "--json"])
    let document = try JSONSerialization.jsonObject(with: Data(output.standardOutput.utf8)) as? [String: Any]
    let verdicts = try #require(document?["verdicts"] as? [[String: Any]])
    #expect(verdicts.count == 1)
    #expect(verdicts.first?["safe"] as? Bool == false)
  }

  @Test("dom0 colours past the board's 16 LLC colours are a usage error naming the count, before any proof")
  func colours() throws {
    let start = Date()
    let output = try CommandRunner.run(["check", "--platform", quarry, "--dom0", "coloured:99-100"])
    #expect(output.status == 64)
    #expect(output.standardError.contains("expected --dom0 colours below 16, the board's number of LLC colours, found 99 in 'coloured:99-100'"))
    #expect(Date().timeIntervalSince(start) < 20)
  }

  @Test("bad input: a bad policy is a usage error, a truncated blob exits 65, a missing file 66")
  func badInput() throws {
    #expect(try CommandRunner.run(["check", "--platform", quarry, "--policy", "bounce"]).status == 64)
    let unknownNode = try CommandRunner.run(["check", "--platform", quarry, "--assume-no-dma", "nosuchnode"])
    #expect(unknownNode.status == 64)
    #expect(unknownNode.standardError.contains("expected --assume-no-dma to name a node"))
    let bytes = try Data(contentsOf: URL(fileURLWithPath: quarry))
    let truncated = FileManager.default.temporaryDirectory.appendingPathComponent("truncated-\(UUID().uuidString).dtb")
    try bytes.prefix(100).write(to: truncated)
    let output = try CommandRunner.run(["check", "--platform", truncated.path])
    #expect(output.status == 65)
    #expect(output.standardError.contains("error: offset"))
    #expect(try CommandRunner.run(["check", "--platform", "/nonexistent/board.dtb"]).status == 66)
  }
}
