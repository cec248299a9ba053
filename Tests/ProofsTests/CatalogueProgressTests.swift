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

  @Test("each finished theorem is reported once, counts in order, with the total, also with 2 jobs")
  func reportsEachTheorem() {
    let calls = Calls()
    var options = Catalogue.Options()
    options.filters = ["descriptor.roundtrip", "colour.allocation"]
    options.jobs = 2
    options.progress = { calls.add(($0, $1, $2)) }
    let reports = Catalogue.run(options)
    let seen = calls.all
    #expect(seen.map(\.finished) == Array(1...reports.count))
    #expect(seen.allSatisfy { $0.total == reports.count })
    #expect(Set(seen.map(\.theorem)) == Set(reports.map(\.theorem)))
    #expect(reports.count == Catalogue.selected(by: options.filters).count)
  }
}
