import SystemIO
import Foundation

/// Device tree *source* (DTS) is compiled by the Device Tree Compiler, not
/// parsed here: DTS has includes, labels, references, `/delete-node/` and
/// overlays, and dtc is the reference implementation of all of them.
/// Debian and Ubuntu ship it as `device-tree-compiler`.
public enum DeviceTreeSource {
  /// The first executable named `dtc` on `PATH`, if any.
  public static func compilerPath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
    ChildProcess.executable(named: "dtc", environment: environment)
  }

  /// How long dtc may run by default: a real board's source compiles in
  /// well under a second, but a hostile one can make dtc spin.
  public static let defaultTimeout: Double = 30

  /// Runs `dtc -q -@ -I dts -O dtb -o - [-i DIR]… -- FILE` and returns the
  /// blob; with `preprocess`, runs cpp first (``DeviceTreePreprocessor``)
  /// and gives dtc its output, from a file in a new private directory
  /// removed afterwards.
  ///
  /// `-@` makes dtc write the labels into `/__symbols__`, which `platform`
  /// and `check` show beside the nodes. `-i` gives dtc's own `/include/`
  /// the directories of `includeDirectories`, and when preprocessing also
  /// the source's directory (dtc then reads an intermediate file elsewhere),
  /// as the kernel's `cmd_dtc` does.
  ///
  /// `--` ends dtc's options, so a file whose name starts with `-` is read
  /// as a file, never taken as an option (`-o/elsewhere` would make dtc
  /// write there). dtc (and cpp) run each in a process group of its own, at
  /// most `timeout` seconds each, with at most 64 MiB of output
  /// (`/incbin/("/dev/zero")` would have no end); then it is killed with its
  /// group (``ChildProcess``).
  /// - Throws: ``DeviceTreeError`` naming the file when dtc (or cpp) is not
  ///   installed (saying how to install it, or to pass a DTB), rejects the
  ///   source (with its own message, which names file and line), or runs too
  ///   long or too large.
  public static func compile(
    file: String, includeDirectories: [String] = [], preprocess: Bool = false,
    environment: [String: String] = ProcessInfo.processInfo.environment, timeout: Double = defaultTimeout
  ) throws(DeviceTreeError) -> [UInt8] {
    guard let dtc = compilerPath(environment: environment) else {
      throw DeviceTreeError(
        file: file, offset: nil,
        message: "reading device tree source needs dtc, which is not installed; install it (Debian/Ubuntu: apt-get install device-tree-compiler) or pass a compiled .dtb")
    }
    var input = file
    var lineMap: DeviceTreePreprocessor.LineMap?
    var directories: [String] = []
    var scratch: URL?
    defer { if let scratch { try? FileManager.default.removeItem(at: scratch) } }
    if preprocess {
      let output = try DeviceTreePreprocessor.preprocess(file: file, includeDirectories: includeDirectories, environment: environment, timeout: timeout)
      lineMap = DeviceTreePreprocessor.LineMap(output)
      do {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("dmaverify-cpp-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        scratch = directory
        let url = directory.appendingPathComponent("preprocessed.dts")
        try Data(output).write(to: url, options: .withoutOverwriting)
        input = url.path
      } catch {
        throw DeviceTreeError(file: file, offset: nil, message: "cannot write cpp's output for dtc: \(error.localizedDescription)")
      }
      let parent = (file as NSString).deletingLastPathComponent
      directories.append(parent.isEmpty ? "." : parent)
    }
    directories += includeDirectories
    // -q: no warnings on stderr for the binding checks dtc does by default;
    // the platform extraction reports what matters to DMA itself.
    var arguments = ["-q", "-@", "-I", "dts", "-O", "dtb", "-o", "-"]
    for directory in directories { arguments += ["-i", directory] }
    let captured: ChildProcess.Captured
    do {
      captured = try ChildProcess.run(dtc, arguments + ["--", input], timeout: timeout, outputLimit: 64 << 20)
    } catch {
      throw DeviceTreeError(file: file, offset: nil, message: "dtc could not compile the source: \(error)")
    }
    if captured.termination == .exited(0) { return captured.output }
    // dtc's message, one line per line it wrote.
    var message = ChildProcess.text(captured.errorOutput).split(whereSeparator: \.isNewline).joined(separator: "; ")
    if let lineMap { message = lineMap.restoring(message, intermediate: input, original: file) }
    throw DeviceTreeError(
      file: file, offset: nil,
      message: "dtc could not compile the source: " + (message.isEmpty ? "\(captured.termination)" : "\(message) (\(captured.termination))"))
  }

  /// Whether `file` should be compiled first: by extension (`.dts`,
  /// `.dtsi`), or because it does not start with the DTB magic.
  public static func isSource(file: String, bytes: [UInt8]) -> Bool {
    if file.hasSuffix(".dts") || file.hasSuffix(".dtsi") { return true }
    if file.hasSuffix(".dtb") || file.hasSuffix(".dtbo") { return false }
    return !(bytes.count >= 4 && bytes.bigEndianUInt32(at: 0) == FlattenedDeviceTree.magic)
  }
}

extension FlattenedDeviceTree {
  /// Reads a DTB, or a DTS through dtc, from `file`; errors name the file.
  /// - Throws: ``DeviceTreeLoadError/unreadable(file:reason:)`` when the
  ///   file cannot be read, ``DeviceTreeLoadError/malformed(_:)`` otherwise.
  /// A source with preprocessor directives goes through cpp first, with
  /// `includeDirectories` as its `-I` (``DeviceTreePreprocessor``).
  public static func load(
    file: String, includeDirectories: [String] = [], dtcTimeout: Double = DeviceTreeSource.defaultTimeout
  ) throws(DeviceTreeLoadError) -> FlattenedDeviceTree {
    let bytes: [UInt8]
    do {
      // A DTB's size is a 32-bit field, but real ones are kilobytes; a
      // FIFO without a writer reads as empty instead of blocking.
      bytes = try InputFile.read(file, limit: 64 << 20)
    } catch {
      throw .unreadable(file: file, reason: error.reason)
    }
    do throws(DeviceTreeError) {
      let blob =
        DeviceTreeSource.isSource(file: file, bytes: bytes)
        ? try DeviceTreeSource.compile(
          file: file, includeDirectories: includeDirectories, preprocess: DeviceTreePreprocessor.needsPreprocessor(bytes), timeout: dtcTimeout)
        : bytes
      return try FlattenedDeviceTree(bytes: blob)
    } catch {
      throw .malformed(error.file == nil ? error.inFile(file) : error)
    }
  }
}

/// Why a device tree file could not be loaded: unreadable (exit 66 in the
/// CLI) or not a device tree (exit 65).
public enum DeviceTreeLoadError: Error, Hashable, Sendable, CustomStringConvertible {
  case unreadable(file: String, reason: String)
  case malformed(DeviceTreeError)

  public var description: String {
    switch self {
    case .unreadable(let file, let reason): "\(file): error: cannot read the file: \(reason)"
    case .malformed(let error): error.description
    }
  }
}
