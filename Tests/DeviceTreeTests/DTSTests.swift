import Foundation
import Testing

@testable import DeviceTree

/// DTS goes through dtc (and cpp when it has directives). CI installs both
/// (`.ci/run`); elsewhere these tests run only where the tools are
/// installed; the DTB tests do not need them.
@Suite("DTS through dtc")
struct DTSTests {
  /// The tree without offsets, which depend on dtc's layout choices, and
  /// without what `-@` adds: `/__symbols__` and a `phandle` for every
  /// labelled node (the committed DTBs were made without it).
  static func shape(_ tree: FlattenedDeviceTree) -> [String] {
    tree.nodes.filter { $0.path != "/__symbols__" }.map { node in
      node.path + " {"
        + node.properties.filter { $0.name != "phandle" }.map { "\($0.name)=\($0.value.map { String($0, radix: 16) }.joined(separator: "."))" }
        .joined(separator: ";") + "}"
    }
  }

  @Test(
    "each fixture's DTS compiles to the tree of its committed DTB", .enabled(if: Fixtures.dtcInstalled, "dtc (device-tree-compiler) is not installed"),
    arguments: Fixtures.boards)
  func compiledMatchesCommitted(board: String) throws {
    let compiled = try FlattenedDeviceTree.load(file: Fixtures.path(board, "dts"))
    #expect(Self.shape(compiled) == Self.shape(try Fixtures.tree(board)))
    #expect(compiled.reservations == (try Fixtures.tree(board)).reservations)
  }

  @Test("dtc runs with -@: the source's labels are in /__symbols__ and on the platform", .enabled(if: Fixtures.dtcInstalled, "dtc (device-tree-compiler) is not installed"))
  func labels() throws {
    let platform = try Platform(tree: try FlattenedDeviceTree.load(file: Fixtures.path("quarry", "dts")))
    #expect(platform.labels == ["/iommu@2b400000": ["smmu"], "/ethernet@2b000000": ["eth0"], "/usb@2c000000": ["usb0"], "/sata@2d000000": ["ahci"]])
    // A DTB compiled without -@ has none.
    #expect(try Fixtures.platform("quarry").labels.isEmpty)
  }

  static var cppInstalled: Bool { DeviceTreePreprocessor.preprocessorPath() != nil }
  static var toolsInstalled: Bool { Fixtures.dtcInstalled && cppInstalled }

  @Test(
    "a DTS with #include of a .dtsi, a header from -I and #define macros compiles through cpp and dtc",
    .enabled(if: DTSTests.toolsInstalled, "cpp or dtc is not installed"))
  func preprocessed() throws {
    let tree = try FlattenedDeviceTree.load(file: Fixtures.cpp("fallow.dts"), includeDirectories: [Fixtures.cpp("include")])
    let platform = try Platform(tree: tree)
    // FALLOW_USB_STREAM, defined in the .dts, reached the .dtsi's iommus.
    #expect(platform.devices.first { $0.path == "/usb@2c000000" }?.streams.map(\.streamIDs) == [[0x860]])
    #expect(platform.ram.map(\.address) == [0x8000_0000])
    #expect(platform.unsafeDevices.map(\.path) == ["/sata@2d000000"])
    #expect(platform.labels["/sata@2d000000"] == ["sata0"])
    // The header's constants: <FALLOW_SPI 66 FALLOW_LEVEL_HIGH>.
    #expect(tree.node(at: "/sata@2d000000")?.property("interrupts")?.value == [0, 0, 0, 0, 0, 0, 0, 66, 0, 0, 0, 4])
  }

  @Test(
    "without -I, the header is not found: cpp's error names the .dtsi and line that include it",
    .enabled(if: DTSTests.cppInstalled, "cpp is not installed"))
  func includeDirectoryMissing() throws {
    let file = Fixtures.cpp("fallow.dts")
    #expect {
      _ = try FlattenedDeviceTree.load(file: file)
    } throws: { error in
      let text = "\(error)"
      return text.hasPrefix("\(file): error: cpp could not preprocess the source: In file included from \(file):9")
        && text.contains("\(Fixtures.cpp("fallow-soc.dtsi")):4:") && text.contains("fallow-irq.h") && text.hasSuffix("(exit status 1)")
    }
  }

  @Test("an #include that is not there: the error names the .dts and the line of the #include", .enabled(if: DTSTests.cppInstalled, "cpp is not installed"))
  func missingInclude() throws {
    let file = Fixtures.cpp("missing-include.dts")
    #expect {
      _ = try FlattenedDeviceTree.load(file: file)
    } throws: { error in
      guard case .malformed(let inner) = error as? DeviceTreeLoadError else { return false }
      // GCC: "FILE:5:10: fatal error: absent-soc.dtsi: No such file or directory".
      return inner.file == file && inner.message.hasPrefix("cpp could not preprocess the source: \(file):5:")
        && inner.message.contains("absent-soc.dtsi") && !inner.message.contains(" | ")
    }
  }

  @Test(
    "a syntax error inside an included .dtsi: dtc's error names that file and line, not the preprocessed file",
    .enabled(if: DTSTests.toolsInstalled, "cpp or dtc is not installed"))
  func errorInInclude() throws {
    let file = Fixtures.cpp("broken-include.dts")
    #expect {
      _ = try FlattenedDeviceTree.load(file: file)
    } throws: { error in
      guard case .malformed(let inner) = error as? DeviceTreeLoadError else { return false }
      return inner.file == file && inner.message.hasPrefix("dtc could not compile the source: Error: \(Fixtures.cpp("broken-soc.dtsi")):7.")
        && inner.message.contains("syntax error") && !inner.message.contains("preprocessed")
    }
  }

  @Test("a DTS with a directive and no cpp on PATH says to install cpp or pass a DTB (dtc alone is not enough)")
  func missingPreprocessor() throws {
    let directory = try Self.fakeCompiler("exit 0\n")
    defer { try? FileManager.default.removeItem(at: directory) }
    #expect(throws: DeviceTreeError(
      file: "board.dts", offset: nil,
      message: "the source has #include or #define lines, which need the C preprocessor cpp, which is not installed; install it (Debian/Ubuntu: apt-get install cpp) or pass a compiled .dtb")
    ) {
      try DeviceTreeSource.compile(file: "board.dts", preprocess: true, environment: ["PATH": directory.path])
    }
  }

  @Test("-I directories reach dtc as -i, and with cpp the source's own directory too, before '--'")
  func includeDirectoriesReachDTC() throws {
    let directory = try Self.fakeCompiler("for a in \"$@\"; do printf '%s\\n' \"$a\"; done > \"$(dirname \"$0\")/arguments\"; exit 1\n")
    defer { try? FileManager.default.removeItem(at: directory) }
    #expect(throws: DeviceTreeError.self) {
      _ = try DeviceTreeSource.compile(file: "boards/b.dts", includeDirectories: ["inc", "-odd"], environment: ["PATH": directory.path])
    }
    let arguments = try String(contentsOf: directory.appendingPathComponent("arguments"), encoding: .utf8).split(separator: "\n").map(String.init)
    #expect(arguments == ["-q", "-@", "-I", "dts", "-O", "dtb", "-o", "-", "-i", "inc", "-i", "-odd", "--", "boards/b.dts"])
  }

  @Test("a DTS error comes back with dtc's message naming the file", .enabled(if: Fixtures.dtcInstalled, "dtc (device-tree-compiler) is not installed"))
  func sourceError() throws {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("broken-\(UUID().uuidString).dts")
    try "/dts-v1/;\n/ { node { prop = <1 ; }; };\n".write(to: url, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(at: url) }
    #expect {
      _ = try FlattenedDeviceTree.load(file: url.path)
    } throws: { error in
      guard case .malformed(let inner) = error as? DeviceTreeLoadError else { return false }
      return inner.file == url.path && inner.message.hasPrefix("dtc could not compile the source:") && inner.message.contains(url.lastPathComponent)
    }
  }

  @Test("without dtc on PATH, reading DTS says to install device-tree-compiler or pass a DTB")
  func missingCompiler() throws {
    #expect(DeviceTreeSource.compilerPath(environment: ["PATH": "/nonexistent"]) == nil)
    #expect(throws: DeviceTreeError(
      file: "board.dts", offset: nil,
      message: "reading device tree source needs dtc, which is not installed; install it (Debian/Ubuntu: apt-get install device-tree-compiler) or pass a compiled .dtb")
    ) {
      try DeviceTreeSource.compile(file: "board.dts", environment: ["PATH": "/nonexistent"])
    }
  }

  /// A directory holding a fake `dtc` (a shell script), for PATH.
  static func fakeCompiler(_ body: String) throws -> URL {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fake-dtc-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let script = directory.appendingPathComponent("dtc")
    try ("#!/bin/sh\n" + body).write(to: script, atomically: true, encoding: .utf8)
    try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: script.path)
    return directory
  }

  @Test("the file reaches dtc after '--', so a name starting with '-' is never an option")
  func endOfOptions() throws {
    let directory = try Self.fakeCompiler("for a in \"$@\"; do printf '%s\\n' \"$a\"; done > \"$(dirname \"$0\")/arguments\"; exit 1\n")
    defer { try? FileManager.default.removeItem(at: directory) }
    #expect(throws: DeviceTreeError.self) {
      _ = try DeviceTreeSource.compile(file: "-o/tmp/owned.dts", environment: ["PATH": directory.path])
    }
    let arguments = try String(contentsOf: directory.appendingPathComponent("arguments"), encoding: .utf8).split(separator: "\n")
    #expect(arguments.suffix(2) == ["--", "-o/tmp/owned.dts"])
  }

  @Test("a dtc that spins is killed after the timeout, with its process group, and the error says so")
  func timeout() throws {
    let directory = try Self.fakeCompiler("echo 'spinning on #iommu-cells' >&2; sleep 300 & echo $! > \"$(dirname \"$0\")/grandchild\"; sleep 300\n")
    defer { try? FileManager.default.removeItem(at: directory) }
    let start = Date()
    #expect {
      _ = try DeviceTreeSource.compile(file: "board.dts", environment: ["PATH": directory.path], timeout: 1)
    } throws: { error in
      guard let error = error as? DeviceTreeError else { return false }
      return error.file == "board.dts" && error.message.contains("did not finish within 1 s")
        && error.message.contains("killed with its process group") && error.message.contains("spinning on #iommu-cells")
    }
    #expect(Date().timeIntervalSince(start) < 10)
    let grandchild = Int32(try String(contentsOf: directory.appendingPathComponent("grandchild"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
    #expect(grandchild > 0)
    var gone = false
    for _ in 0..<100 where !gone {
      gone = kill(grandchild, 0) != 0
        || (try? String(contentsOfFile: "/proc/\(grandchild)/stat", encoding: .utf8))?.contains(") Z ") == true
      if !gone { usleep(50_000) }
    }
    #expect(gone)
  }

  @Test("dtc's multi-line message comes back on one line, control characters escaped")
  func messageOnOneLine() throws {
    let directory = try Self.fakeCompiler("printf 'Error: board.dts:3.1-5 syntax error\\nFATAL ERROR: \\033[2J unable to parse\\n' >&2; exit 1\n")
    defer { try? FileManager.default.removeItem(at: directory) }
    #expect {
      _ = try DeviceTreeSource.compile(file: "board.dts", environment: ["PATH": directory.path])
    } throws: { error in
      let text = "\(error)"
      return text == "board.dts: error: dtc could not compile the source: Error: board.dts:3.1-5 syntax error; FATAL ERROR: \\x1b[2J unable to parse (exit status 1)"
    }
  }

  @Test("files are told apart by extension, else by the DTB magic")
  func detection() throws {
    let blob = try Fixtures.blob("quarry")
    #expect(DeviceTreeSource.isSource(file: "a.dts", bytes: blob))
    #expect(!DeviceTreeSource.isSource(file: "a.dtb", bytes: []))
    #expect(!DeviceTreeSource.isSource(file: "board", bytes: blob))
    #expect(DeviceTreeSource.isSource(file: "board", bytes: Array("/dts-v1/;".utf8)))
  }

  @Test("an unreadable file is reported as such, not as malformed")
  func unreadable() {
    #expect(throws: DeviceTreeLoadError.self) { try FlattenedDeviceTree.load(file: "/nonexistent/board.dtb") }
    do {
      _ = try FlattenedDeviceTree.load(file: "/nonexistent/board.dtb")
    } catch {
      guard case .unreadable(let file, _) = error else { Issue.record("expected unreadable, got \(error)"); return }
      #expect(file == "/nonexistent/board.dtb")
      #expect(error.description.hasPrefix("/nonexistent/board.dtb: error: cannot read the file"))
    }
  }

  @Test("a malformed DTB file's error names the file and the offset")
  func malformedFile() throws {
    var blob = try Fixtures.blob("quarry")
    blob.setWord(0x7, at: 0x38)
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("bad-\(UUID().uuidString).dtb")
    try Data(blob).write(to: url)
    defer { try? FileManager.default.removeItem(at: url) }
    do {
      _ = try FlattenedDeviceTree.load(file: url.path)
      Issue.record("expected an error")
    } catch {
      #expect(error.description == "\(url.path): error: offset 0x38: expected FDT_BEGIN_NODE (0x1), found 0x7")
    }
  }
}
