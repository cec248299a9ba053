import Foundation

/// What `dmaverify minimize` calls a regression scenario and where it puts
/// it.
///
/// The name comes from the failure's signature, whose property may be a
/// DMA-matrix claim such as `dma.matrix[global-flag/coloured/…].integrity`:
/// a `/` there would be a directory, so the name keeps only characters that
/// mean nothing to a shell or a file system, and stays well inside
/// `NAME_MAX`.
package enum RegressionFile {
  /// Where regression scenarios live, relative to the package root;
  /// `swift test` replays every file there.
  package static let directory = "corpus/regressions"

  /// The longest name, before `-N` and `.scn`: far below the 255 bytes of
  /// common file systems.
  package static let maximumNameLength = 120

  /// `text` as a single path component: every character outside
  /// `[A-Za-z0-9._-]` becomes `_` (runs of them one `_`), a leading `.` or
  /// `-` too (no hidden files, nothing a tool reads as an option). A name
  /// longer than ``maximumNameLength`` is cut and ends in a hash of the
  /// whole text, so different long names stay different.
  package static func safeName(_ text: String) -> String {
    var name = ""
    for scalar in text.unicodeScalars {
      let allowed = scalar.isASCII && (CharacterSet.alphanumerics.contains(scalar) || "._-".unicodeScalars.contains(scalar))
      if allowed {
        name.unicodeScalars.append(scalar)
      } else if !name.hasSuffix("_") {
        name += "_"
      }
    }
    if let first = name.first, first == "." || first == "-" { name = "_" + name.dropFirst() }
    if name.isEmpty { name = "_" }
    guard name.count > maximumNameLength else { return name }
    let hash = String(fnv1a(text), radix: 16)
    return String(name.prefix(maximumNameLength - hash.count - 1)) + "-" + hash
  }

  /// `<oracle>-<property>-<operation>`, made safe.
  package static func name(for signature: FuzzFailure.Signature) -> String {
    safeName("\(signature.oracle.rawValue)-\(signature.property)-\(signature.operation.replacingOccurrences(of: " ", with: "-"))")
  }

  /// The package root: the nearest of `directory` and its ancestors that
  /// holds both `Package.swift` and `corpus/`, or nil outside the package.
  package static func packageRoot(from directory: URL) -> URL? {
    var candidate = directory.standardizedFileURL.path
    while true {
      var isDirectory: ObjCBool = false
      if FileManager.default.fileExists(atPath: (candidate as NSString).appendingPathComponent("Package.swift")),
        FileManager.default.fileExists(atPath: (candidate as NSString).appendingPathComponent("corpus"), isDirectory: &isDirectory),
        isDirectory.boolValue
      {
        return URL(fileURLWithPath: candidate, isDirectory: true)
      }
      let parent = (candidate as NSString).deletingLastPathComponent
      if parent == candidate || parent.isEmpty { return nil }
      candidate = parent
    }
  }

  /// 32-bit FNV-1a: stable across runs and platforms, unlike `Hasher`.
  static func fnv1a(_ text: String) -> UInt32 {
    var hash: UInt32 = 0x811C_9DC5
    for byte in text.utf8 {
      hash ^= UInt32(byte)
      hash = hash &* 0x0100_0193
    }
    return hash
  }
}
