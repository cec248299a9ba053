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
  /// The build's identity, which names the file and is written inside it.
  let build: String
  private var entries: [String: [Finding]] = [:]
  private var dirty = false
  /// Workers of one check read and add cells at once.
  private let lock = NSLock()
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
    self.build = build
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

  /// The findings of `cell` on `release` when the cache holds them
  /// (counted as a hit), else nil (counted as a miss).
  package func cached(_ cell: MatrixCell, release: XenVersion) -> [Finding]? {
    lock.withLock {
      let found = entries[Self.key(cell, release: release)]
      if found == nil { misses += 1 } else { hits += 1 }
      return found
    }
  }

  /// Keeps `findings` of `cell` on `release` when every one is definite.
  package func store(_ findings: [Finding], for cell: MatrixCell, release: XenVersion) {
    guard findings.allSatisfy({ [.proved, .refuted, .inapplicable].contains($0.verdict) }) else { return }
    lock.withLock {
      entries[Self.key(cell, release: release)] = findings
      dirty = true
    }
  }

  /// The file's new contents when cells were added since it was read, else
  /// nil. The caller writes them (create-and-rename, `OutputFile`), so a
  /// reader never sees half a file.
  package func contentsToSave() throws -> [UInt8]? {
    let (dirty, cells) = lock.withLock { (self.dirty, entries) }
    guard dirty else { return nil }
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    return Array(try encoder.encode(Stored(format: Self.format, build: build, cells: cells)))
  }
}
