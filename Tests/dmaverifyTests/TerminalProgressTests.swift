import Foundation
import Testing
import TestSupport

/// Progress goes to a terminal's stderr only: a person waiting sees where a
/// long run is, while pipes and CI logs get exactly what they got before.
@Suite("Progress on a terminal")
struct TerminalProgressTests {
  static let script = "/usr/bin/script"

  @Test("search shows its progress on a terminal and erases it; through a pipe stderr has none")
  func searchProgress() throws {
    let seeds = repository.appendingPathComponent("corpus/fuzz-seeds").path
    let arguments = ["search", seeds, "--runs", "1"]
    let piped = try CommandRunner.run(arguments)
    #expect(piped.status == 0, "\(piped.standardError)")
    #expect(piped.standardError.isEmpty, "\(piped.standardError)")
    guard FileManager.default.isExecutableFile(atPath: Self.script) else { return }
    // util-linux `script` runs the command on a pseudo-terminal and copies
    // what it writes to its own stdout.
    let command = ([CommandRunner.executable.path] + arguments).map { "'\($0)'" }.joined(separator: " ")
    let process = Process()
    process.executableURL = URL(fileURLWithPath: Self.script)
    process.arguments = ["-qec", command, "/dev/null"]
    let out = Pipe()
    process.standardOutput = out
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    #expect(process.terminationStatus == 0, "\(text)")
    #expect(text.contains("\r\u{1B}[K[search] 0/1 runs"), "\(text.debugDescription)")
    #expect(text.contains("no failure in 1 runs"))
  }
}
