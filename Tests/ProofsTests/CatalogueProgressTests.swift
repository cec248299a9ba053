import Foundation
import Testing

@testable import Proofs

/// The catalogue runner tells its caller as each theorem finishes, so that
/// `prove` can show where a long run is.
@Suite("Catalogue progress")
struct CatalogueProgressTests {
  final class Calls: @unchecked Sendable {
    private let lock = NSLock()
    private var calls: [(finished: Int, total: Int, theorem: String)] = []
    func add(_ call: (Int, Int, String)) { lock.withLock { calls.append(call) } }
    var all: [(finished: Int, total: Int, theorem: String)] { lock.withLock { calls } }
  }

  /// Theorems that check nothing, so the test measures the runner, not Z3.
  @Test("each finished theorem is reported once, counts in order, with the total, also with 3 jobs")
  func reportsEachTheorem() {
    let theorems = (0..<12).map { index in
      Theorem(name: "t\(index)", summary: "") { _ in
        Thread.sleep(forTimeInterval: Double(index % 3) / 1000)
        return []
      }
    }
    let calls = Calls()
    var options = Catalogue.Options()
    options.jobs = 3
    options.progress = { calls.add(($0, $1, $2)) }
    let reports = Catalogue.run(theorems, options: options)
    let seen = calls.all
    #expect(reports.map(\.theorem) == theorems.map(\.name))
    #expect(seen.map(\.finished) == Array(1...12))
    #expect(seen.allSatisfy { $0.total == 12 })
    #expect(Set(seen.map(\.theorem)) == Set(theorems.map(\.name)))
  }
}
