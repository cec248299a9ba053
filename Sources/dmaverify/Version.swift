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
}
