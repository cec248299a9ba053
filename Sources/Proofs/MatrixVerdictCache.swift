import Claims
import Foundation
import Spec

/// Matrix cells decided before by this very build, so that `check` on a
/// second board (or the same board again) reads them instead of asking the
/// solvers again.
///
/// A cell's findings do not depend on the board: ``PlatformCheck`` decides
/// the matrix's cells for the board's device classes and Xen release, on
/// the matrix's own class of platforms, and only the board replay uses the
/// board's addresses. So a verdict can be reused by any board, as long as
/// the code that decided it is the code that runs — the file is keyed by
/// the build's identity (a hash of the executable, computed by the
/// caller), and a rebuilt binary starts a new file. Only proved, refuted
/// and inapplicable findings are kept: an `unknown` (a timeout, perhaps
/// under load) is asked again next time.
package final class MatrixVerdictCache: @unchecked Sendable {
  /// The file this build reads and writes.
  package let file: URL
  private var entries: [String: [Finding]] = [:]
  private var dirty = false
  /// How many cells were read from the cache and how many decided.
  package private(set) var hits = 0
  package private(set) var misses = 0
  /// Why an existing file was not read (it is then rewritten), if so.
  package private(set) var problem: String?

  private struct Stored: Codable {
    var format: Int
    var build: String
    var cells: [String: [Finding]]
  }
  private static let format = 1

  /// Opens `directory/matrix-<build>.json` if it exists. A file that does
  /// not decode, or names another build or format, is ignored (and said in
  /// ``problem``), never trusted.
  package init(directory: URL, build: String) {
    file = directory.appendingPathComponent("matrix-\(build).json")
    guard let data = try? Data(contentsOf: file) else { return }
    do {
      let stored = try JSONDecoder().decode(Stored.self, from: data)
      guard stored.format == Self.format, stored.build == build else {
        problem = "\(file.path): written by another build or format; decided again"
        return
      }
      entries = stored.cells
    } catch {
      problem = "\(file.path): not a verdict cache this build can read (\(error)); decided again"
    }
  }

  static func key(_ cell: MatrixCell, release: XenVersion) -> String { "\(cell.description)@\(release.name)" }

  /// The findings of `cell` on `release`: from the cache, or from `decide`
  /// (kept when every finding is definite).
  package func findings(_ cell: MatrixCell, release: XenVersion, decide: () throws -> [Finding]) rethrows -> [Finding] {
    let key = Self.key(cell, release: release)
    if let cached = entries[key] {
      hits += 1
      return cached
    }
    misses += 1
    let findings = try decide()
    if findings.allSatisfy({ [.proved, .refuted, .inapplicable].contains($0.verdict) }) {
      entries[key] = findings
      dirty = true
    }
    return findings
  }

  /// Writes the file when something was added (a new file renamed over
  /// the old one, so a reader never sees half of it).
  package func save() throws {
    guard dirty else { return }
    try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    let data = try encoder.encode(Stored(format: Self.format, build: file.deletingPathExtension().lastPathComponent.dropFirst("matrix-".count).description, cells: entries))
    let temporary = file.deletingLastPathComponent().appendingPathComponent(".\(file.lastPathComponent).\(getpid()).tmp")
    try data.write(to: temporary)
    if rename(temporary.path, file.path) != 0 {
      let reason = String(cString: strerror(errno))
      try? FileManager.default.removeItem(at: temporary)
      throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: "\(file.path): cannot write the verdict cache: \(reason)"])
    }
    dirty = false
  }
}
