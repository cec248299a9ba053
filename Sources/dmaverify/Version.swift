import Foundation
import Solver
import SystemIO

/// What `dmaverify --version` says: the release, the git commit of the
/// checkout the binary was built in, and the Z3 library it runs with, so
/// that a result can be tied to the code and solver that produced it.
enum Version {
  static let release = "0.1.0"

  static func text() -> String {
    ["dmaverify \(release)", "commit: \(commit())", "Z3: \(Context.z3Version)"].joined(separator: "\n")
  }

  /// The commit of the package checkout that holds this executable (SwiftPM
  /// puts it under `.build/` in the package), with `-dirty` for uncommitted
  /// changes. It describes the tree now, which is the one built unless it
  /// changed since the last build.
  static func commit() -> String {
    var directory = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
    while directory.path != "/" {
      if FileManager.default.fileExists(atPath: directory.appendingPathComponent("Package.swift").path),
        FileManager.default.fileExists(atPath: directory.appendingPathComponent(".git").path)
      {
        break
      }
      directory.deleteLastPathComponent()
    }
    guard directory.path != "/" else { return "unknown (the executable is not inside a git checkout of the package)" }
    guard let git = ["/usr/bin/git", "/usr/local/bin/git", "/bin/git"].first(where: FileManager.default.isExecutableFile(atPath:)) else {
      return "unknown (git is not installed)"
    }
    guard let result = try? ChildProcess.run(git, ["-C", directory.path, "describe", "--always", "--dirty", "--abbrev=12", "--exclude=*"], timeout: 10),
      result.termination == .exited(0)
    else { return "unknown (git could not describe \(directory.path))" }
    return ChildProcess.text(result.output)
  }

  /// A hash of this executable's bytes (64 bits, hex; FNV-1a's mixing over
  /// 8-byte words, then the tail byte by byte): two builds that differ in
  /// any byte (or run with another Z3 library) differ here but for a 2^-64
  /// chance, so what one build decided is never read by another
  /// (``MatrixVerdictCache``). Nil when the executable cannot be read.
  static func buildIdentity() -> String? {
    guard let data = try? Data(contentsOf: URL(fileURLWithPath: "/proc/self/exe"), options: .alwaysMapped) else { return nil }
    let prime: UInt64 = 0x0000_0100_0000_01B3
    var hash: UInt64 = 0xCBF2_9CE4_8422_2325
    data.withUnsafeBytes { bytes in
      let words = bytes.count / 8
      for index in 0..<words {
        hash = (hash ^ bytes.loadUnaligned(fromByteOffset: index * 8, as: UInt64.self)) &* prime
        hash ^= hash >> 29
      }
      for byte in bytes[(words * 8)...] { hash = (hash ^ UInt64(byte)) &* prime }
      hash ^= UInt64(bytes.count)
    }
    // The Z3 library is not in the executable; its counterexamples are.
    for byte in Context.z3Version.utf8 { hash = (hash ^ UInt64(byte)) &* prime }
    return String(hash, radix: 16)
  }
}
