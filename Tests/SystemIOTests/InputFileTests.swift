import Foundation
import Testing

@testable import SystemIO

@Suite("Input files")
struct InputFileTests {
  @Test("a regular file is read whole")
  func regular() throws {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("input-\(UUID().uuidString)").path
    try "ram 0x0 4K\n".write(toFile: path, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(atPath: path) }
    #expect(try InputFile.read(path, limit: 100) == Array("ram 0x0 4K\n".utf8))
  }

  @Test("a FIFO without a writer reads as empty at once instead of blocking")
  func fifo() throws {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("fifo-\(UUID().uuidString)").path
    #expect(mkfifo(path, 0o600) == 0)
    defer { unlink(path) }
    let start = Date()
    #expect(try InputFile.read(path, limit: 100) == [])
    #expect(Date().timeIntervalSince(start) < 5)
  }

  @Test("/dev/null reads as empty; /dev/zero stops at the limit with the reason")
  func devices() throws {
    #expect(try InputFile.read("/dev/null", limit: 100) == [])
    #expect(throws: InputFile.Failure(reason: "it is larger than 100000 bytes, the most read from one input")) {
      _ = try InputFile.read("/dev/zero", limit: 100_000)
    }
  }

  @Test("a directory and a missing file are refused with the reason")
  func refused() {
    #expect(throws: InputFile.Failure(reason: "it is a directory, not a file", isDirectory: true)) {
      _ = try InputFile.read("/tmp", limit: 100)
    }
    #expect(throws: InputFile.Failure(reason: "No such file or directory")) {
      _ = try InputFile.read("/nonexistent/story.scn", limit: 100)
    }
  }
}
