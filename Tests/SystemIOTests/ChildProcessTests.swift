import Foundation
import Testing

@testable import SystemIO

/// Fake children are shell scripts: each test writes the one it needs, and
/// runs it as `/bin/sh SCRIPT` (a script being written by a test running
/// alongside cannot be executed: ETXTBSY).
enum Scripts {
  static func make(_ body: String) throws -> (script: String, directory: URL) {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("childprocess-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let script = directory.appendingPathComponent("child")
    try ("#!/bin/sh\n" + body).write(to: script, atomically: true, encoding: .utf8)
    try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: script.path)
    return (script.path, directory)
  }

  /// Whether `pid` is gone (or a zombie waiting for a reaper).
  static func isGone(_ pid: Int32) -> Bool {
    guard kill(pid, 0) == 0 else { return true }
    let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
    return stat.split(separator: ")").last?.split(separator: " ").first == "Z"
  }

  /// Waits up to `seconds` for `condition`.
  static func eventually(_ seconds: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
      if condition() { return true }
      usleep(20_000)
    }
    return condition()
  }
}

@Suite("Child processes")
struct ChildProcessTests {
  @Test("a child's output, error output and exit status are captured")
  func captures() throws {
    let (script, directory) = try Scripts.make("printf out; printf 'it went wrong' >&2; exit 3\n")
    defer { try? FileManager.default.removeItem(at: directory) }
    let result = try ChildProcess.run("/bin/sh", [script], timeout: 10)
    #expect(result.termination == .exited(3))
    #expect(String(decoding: result.output, as: UTF8.self) == "out")
    #expect(ChildProcess.text(result.errorOutput) == "it went wrong")
  }

  @Test("arguments reach the child as they are, one by one")
  func arguments() throws {
    let (script, directory) = try Scripts.make("for a in \"$@\"; do printf '[%s]' \"$a\"; done\n")
    defer { try? FileManager.default.removeItem(at: directory) }
    let result = try ChildProcess.run("/bin/sh", [script, "--", "-o/tmp/x", "a b"], timeout: 10)
    #expect(String(decoding: result.output, as: UTF8.self) == "[--][-o/tmp/x][a b]")
  }

  @Test("a child that runs too long is killed with its whole process group, and the error says so with what it had said")
  func timeout() throws {
    let (script, directory) = try Scripts.make("echo started >&2; sleep 300 & echo $! > \"$(dirname \"$0\")/grandchild\"; sleep 300\n")
    defer { try? FileManager.default.removeItem(at: directory) }
    let start = Date()
    #expect {
      _ = try ChildProcess.run("/bin/sh", [script], timeout: 1)
    } throws: { error in
      guard case .timedOut(_, let seconds, let said)? = error as? ChildProcess.Failure else { return false }
      return seconds == 1 && ChildProcess.text(said) == "started"
        && "\(error)".contains("did not finish within 1 s") && "\(error)".contains("started")
    }
    #expect(Date().timeIntervalSince(start) < 10)
    let grandchild = Int32(try String(contentsOf: directory.appendingPathComponent("grandchild"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines))
    #expect(grandchild != nil)
    #expect(Scripts.eventually(5) { Scripts.isGone(grandchild ?? 0) })
  }

  @Test("a background job left holding the pipes does not keep dmaverify waiting: it is killed when the child exits")
  func leftovers() throws {
    let (script, directory) = try Scripts.make("sleep 300 & echo $! > \"$(dirname \"$0\")/grandchild\"; printf done\n")
    defer { try? FileManager.default.removeItem(at: directory) }
    let start = Date()
    let result = try ChildProcess.run("/bin/sh", [script], timeout: 60)
    #expect(result.termination == .exited(0))
    #expect(String(decoding: result.output, as: UTF8.self) == "done")
    #expect(Date().timeIntervalSince(start) < 10)
    let grandchild = Int32(try String(contentsOf: directory.appendingPathComponent("grandchild"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
    #expect(Scripts.eventually(5) { Scripts.isGone(grandchild) })
  }

  @Test("output past the limit stops the child")
  func outputLimit() throws {
    let (script, directory) = try Scripts.make("exec cat /dev/zero\n")
    defer { try? FileManager.default.removeItem(at: directory) }
    #expect(throws: ChildProcess.Failure.outputTooLarge(executable: "/bin/sh", limit: 1 << 20)) {
      _ = try ChildProcess.run("/bin/sh", [script], timeout: 30, outputLimit: 1 << 20)
    }
  }

  @Test("the child inherits no descriptor beyond its standard streams")
  func descriptors() throws {
    let (script, directory) = try Scripts.make("ls /proc/self/fd\n")
    defer { try? FileManager.default.removeItem(at: directory) }
    let leaked = open(directory.appendingPathComponent("open-file").path, O_CREAT | O_WRONLY, 0o600)
    defer { close(leaked) }
    let result = try ChildProcess.run("/bin/sh", [script], timeout: 10)
    // ls's own directory descriptor is the one above 2.
    let descriptors = String(decoding: result.output, as: UTF8.self).split(separator: "\n").compactMap { Int32($0) }
    #expect(!descriptors.contains(leaked))
    #expect(descriptors.filter { $0 > 2 }.count <= 1)
  }

  @Test("a child killed by a signal is reported as such")
  func signalled() throws {
    let (script, directory) = try Scripts.make("kill -9 $$\n")
    defer { try? FileManager.default.removeItem(at: directory) }
    let result = try ChildProcess.run("/bin/sh", [script], timeout: 10)
    #expect(result.termination == .signalled(9))
    #expect(result.termination.status == 137)
    #expect("\(result.termination)" == "killed by signal 9")
  }

  @Test("a program that does not exist cannot start, with the system's reason")
  func missing() {
    #expect {
      _ = try ChildProcess.run("/nonexistent/dtc", [], timeout: 10)
    } throws: { error in
      guard case .cannotStart(let executable, let reason)? = error as? ChildProcess.Failure else { return false }
      return executable == "/nonexistent/dtc" && reason.contains("No such file")
    }
  }

  @Test("with inherited output, the status comes back and the timeout still holds")
  func inheriting() throws {
    let (fast, fastDirectory) = try Scripts.make("exit 4\n")
    defer { try? FileManager.default.removeItem(at: fastDirectory) }
    #expect(try ChildProcess.runInheritingOutput("/bin/sh", [fast], timeout: 10) == .exited(4))
    let (slow, slowDirectory) = try Scripts.make("sleep 300\n")
    defer { try? FileManager.default.removeItem(at: slowDirectory) }
    #expect(throws: ChildProcess.Failure.self) { _ = try ChildProcess.runInheritingOutput("/bin/sh", [slow], timeout: 0.5) }
  }
}
