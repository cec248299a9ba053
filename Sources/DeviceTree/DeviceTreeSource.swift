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

  /// Runs `dtc -I dts -O dtb -o - FILE` and returns the blob.
  /// - Throws: ``DeviceTreeError`` naming the file when dtc is not installed
  ///   (saying how to install it, or to pass a DTB) or rejects the source
  ///   (with dtc's own message, which names line and column).
  public static func compile(
    file: String, environment: [String: String] = ProcessInfo.processInfo.environment
  ) throws(DeviceTreeError) -> [UInt8] {
    guard let dtc = compilerPath(environment: environment) else {
      throw DeviceTreeError(
        file: file, offset: nil,
        message: "reading device tree source needs dtc, which is not installed; install it (Debian/Ubuntu: apt-get install device-tree-compiler) or pass a compiled .dtb")
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: dtc)
    // -q: no warnings on stderr for the binding checks dtc does by default;
    // the platform extraction reports what matters to DMA itself.
    process.arguments = ["-q", "-I", "dts", "-O", "dtb", "-o", "-", file]
    let output = Pipe()
    // dtc's messages go to a file, so that neither pipe can fill and block
    // it while the other is read.
    let errorURL = FileManager.default.temporaryDirectory.appendingPathComponent("dtc-\(UUID().uuidString).err")
    defer { try? FileManager.default.removeItem(at: errorURL) }
    let errorData: Data
    do {
      _ = FileManager.default.createFile(atPath: errorURL.path, contents: nil)
      let errors = try FileHandle(forWritingTo: errorURL)
      process.standardOutput = output
      process.standardError = errors
      try process.run()
      let blob = output.fileHandleForReading.readDataToEndOfFile()
      process.waitUntilExit()
      try errors.close()
      errorData = (try? Data(contentsOf: errorURL)) ?? Data()
      if process.terminationStatus == 0 { return [UInt8](blob) }
    } catch {
      throw DeviceTreeError(file: file, offset: nil, message: "cannot run \(dtc): \(error.localizedDescription)")
    }
    let message = String(decoding: errorData, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    throw DeviceTreeError(file: file, offset: nil, message: "dtc could not compile the source: \(message.isEmpty ? "exit status \(process.terminationStatus)" : message)")
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
  public static func load(file: String) throws(DeviceTreeLoadError) -> FlattenedDeviceTree {
    let bytes: [UInt8]
    do {
      bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: file)))
    } catch {
      throw .unreadable(file: file, reason: error.localizedDescription)
    }
    do throws(DeviceTreeError) {
      let blob = DeviceTreeSource.isSource(file: file, bytes: bytes) ? try DeviceTreeSource.compile(file: file) : bytes
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
