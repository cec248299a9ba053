import Foundation
import Testing

@testable import SystemIO

@Suite("Output files")
struct OutputFileTests {
  static func temporaryDirectory() throws -> URL {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("outputfile-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    return directory
  }

  @Test("a new path gets the text; an existing file is replaced by a new one (create-and-rename), nothing left beside it")
  func writesAndReplaces() throws {
    let directory = try Self.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    let path = directory.appendingPathComponent("out.scn").path
    try OutputFile.write("first\n", to: path)
    #expect(try String(contentsOfFile: path, encoding: .utf8) == "first\n")
    let before = try FileManager.default.attributesOfItem(atPath: path)[.systemFileNumber] as? Int
    // A hard link to the old file keeps the old contents: the path was
    // renamed over, not written into.
    let link = directory.appendingPathComponent("old").path
    try FileManager.default.linkItem(atPath: path, toPath: link)
    try OutputFile.write("second\n", to: path)
    #expect(try String(contentsOfFile: path, encoding: .utf8) == "second\n")
    #expect(try String(contentsOfFile: link, encoding: .utf8) == "first\n")
    #expect(try FileManager.default.attributesOfItem(atPath: path)[.systemFileNumber] as? Int != before)
    #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted() == ["old", "out.scn"])
    let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int ?? 0
    #expect(mode & 0o600 == 0o600)
  }

  @Test("a symbolic link at the path is refused, not followed or replaced, and the message says so")
  func symbolicLink() throws {
    let directory = try Self.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    let target = directory.appendingPathComponent("target").path
    try "precious\n".write(toFile: target, atomically: true, encoding: .utf8)
    let path = directory.appendingPathComponent("out.scn").path
    try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: target)
    #expect {
      try OutputFile.write("text\n", to: path)
    } throws: { error in
      "\(error)" == "\(path): error: cannot write the file: it is a symbolic link, which dmaverify does not follow or replace; give the path of its target"
    }
    #expect(throws: OutputFile.Failure.self) { try OutputFile.check(path) }
    #expect(try String(contentsOfFile: target, encoding: .utf8) == "precious\n")
    #expect(try FileManager.default.destinationOfSymbolicLink(atPath: path) == target)
  }

  @Test("a device node is refused and stays a device")
  func device() throws {
    #expect {
      try OutputFile.write("text\n", to: "/dev/null")
    } throws: { error in
      "\(error)" == "/dev/null: error: cannot write the file: it is a character device, which dmaverify does not write to or replace"
    }
    var status = stat()
    #expect(stat("/dev/null", &status) == 0 && status.st_mode & S_IFMT == S_IFCHR)
  }

  @Test("a FIFO is refused without blocking; a directory is refused")
  func fifoAndDirectory() throws {
    let directory = try Self.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    let fifo = directory.appendingPathComponent("fifo").path
    #expect(mkfifo(fifo, 0o600) == 0)
    #expect(throws: OutputFile.Failure(path: fifo, reason: "it is a FIFO (named pipe), which dmaverify does not write to or replace")) {
      try OutputFile.write("text\n", to: fifo)
    }
    #expect(throws: OutputFile.Failure(path: directory.path, reason: "it is a directory")) {
      try OutputFile.check(directory.path)
    }
  }

  @Test("a directory that does not exist or cannot be written is found by check, which leaves nothing behind")
  func unwritable() throws {
    #expect {
      try OutputFile.check("/nonexistent/dir/out.xml")
    } throws: { error in
      "\(error)" == "/nonexistent/dir/out.xml: error: cannot write the file: No such file or directory (making a new file in /nonexistent/dir)"
    }
    let directory = try Self.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    try OutputFile.check(directory.appendingPathComponent("report.xml").path)
    #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).isEmpty)
  }
}
