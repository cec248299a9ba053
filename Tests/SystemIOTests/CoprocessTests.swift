import Foundation
import Testing

@testable import SystemIO

@Suite("Coprocesses")
struct CoprocessTests {
  @Test("a request written is answered line by line, in order")
  func answers() throws {
    let helper = try Coprocess("/bin/cat", [])
    #expect(helper.send(Array("one\ntwo\n".utf8)))
    #expect(helper.readLine(timeout: 10) == "one")
    #expect(helper.readLine(timeout: 10) == "two")
  }

  @Test("a helper that does not answer in time is killed, and later reads and writes fail instead of blocking")
  func timeout() throws {
    let (script, directory) = try Scripts.make("echo $$ > \"$(dirname \"$0\")/pid\"; exec sleep 60\n")
    defer { try? FileManager.default.removeItem(at: directory) }
    let helper = try Coprocess("/bin/sh", [script])
    #expect(Scripts.eventually(10) { FileManager.default.fileExists(atPath: directory.appendingPathComponent("pid").path) })
    let started = Date()
    #expect(helper.readLine(timeout: 0.3) == nil)
    #expect(Date().timeIntervalSince(started) < 5)
    let pid = Int32(try String(contentsOf: directory.appendingPathComponent("pid"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines))!
    #expect(Scripts.eventually(5) { Scripts.isGone(pid) })
    #expect(helper.readLine(timeout: 1) == nil)
  }

  @Test("a helper that exits ends the conversation: a read says so, a write fails without SIGPIPE")
  func exited() throws {
    let helper = try Coprocess("/bin/sh", ["-c", "echo bye"])
    #expect(helper.readLine(timeout: 10) == "bye")
    #expect(helper.readLine(timeout: 10) == nil)
    // A large write to a closed socket: EPIPE, not a signal that kills the test.
    #expect(!helper.send([UInt8](repeating: 0x61, count: 1 << 20)))
  }

  @Test("a program that does not exist cannot start")
  func missing() {
    #expect(throws: ChildProcess.Failure.self) { try Coprocess("/nonexistent/helper", []) }
  }
}
