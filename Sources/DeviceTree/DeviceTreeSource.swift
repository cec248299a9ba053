import SystemIO
import Foundation

/// Device tree *source* (DTS) is compiled by the Device Tree Compiler, not
/// parsed here: DTS has includes, labels, references, `/delete-node/` and
/// overlays, and dtc is the reference implementation of all of them.
/// Debian and Ubuntu ship it as `device-tree-compiler`.
public enum DeviceTreeSource {
  /// The first executable named `dtc` on `PATH`, if any.
  public static func compilerPath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
    let directories = (environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":")
    return directories.map { "\($0)/dtc" }.first { FileManager.default.isExecutableFile(atPath: $0) }
  }

  /// How long dtc may run by default: a real board's source compiles in
  /// well under a second, but a hostile one can make dtc spin.
  public static let defaultTimeout: Double = 30

  /// Runs `dtc -I dts -O dtb -o - -- FILE` and returns the blob.
  ///
  /// `--` ends dtc's options, so a file whose name starts with `-` is read
  /// as a file, never taken as an option (`-o/elsewhere` would make dtc
  /// write there). dtc runs in its own process group, at most `timeout`
  /// seconds, with at most 64 MiB of output (`/incbin/("/dev/zero")` would
  /// have no end); then it is killed with its group (``ChildProcess``).
  /// - Throws: ``DeviceTreeError`` naming the file when dtc is not installed
  ///   (saying how to install it, or to pass a DTB), rejects the source
  ///   (with dtc's own message, which names line and column), or runs too
  ///   long or too large.
  public static func compile(
    file: String, environment: [String: String] = ProcessInfo.processInfo.environment, timeout: Double = defaultTimeout
  ) throws(DeviceTreeError) -> [UInt8] {
    guard let dtc = compilerPath(environment: environment) else {
      throw DeviceTreeError(
        file: file, offset: nil,
        message: "reading device tree source needs dtc, which is not installed; install it (Debian/Ubuntu: apt-get install device-tree-compiler) or pass a compiled .dtb")
    }
    // -q: no warnings on stderr for the binding checks dtc does by default;
    // the platform extraction reports what matters to DMA itself.
    let captured: ChildProcess.Captured
    do {
      captured = try ChildProcess.run(dtc, ["-q", "-I", "dts", "-O", "dtb", "-o", "-", "--", file], timeout: timeout, outputLimit: 64 << 20)
    } catch {
      throw DeviceTreeError(file: file, offset: nil, message: "dtc could not compile the source: \(error)")
    }
    if captured.termination == .exited(0) { return captured.output }
    // dtc's message, one line per line it wrote.
    let message = ChildProcess.text(captured.errorOutput).split(whereSeparator: \.isNewline).joined(separator: "; ")
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
  public static func load(file: String, dtcTimeout: Double = DeviceTreeSource.defaultTimeout) throws(DeviceTreeLoadError) -> FlattenedDeviceTree {
    let bytes: [UInt8]
    do {
      // A DTB's size is a 32-bit field, but real ones are kilobytes; a
      // FIFO without a writer reads as empty instead of blocking.
      bytes = try InputFile.read(file, limit: 64 << 20)
    } catch {
      throw .unreadable(file: file, reason: error.reason)
    }
    do throws(DeviceTreeError) {
      let blob = DeviceTreeSource.isSource(file: file, bytes: bytes) ? try DeviceTreeSource.compile(file: file, timeout: dtcTimeout) : bytes
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
