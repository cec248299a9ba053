import Claims
import Foundation
import Spec
import Testing

@testable import Proofs

/// The verdicts `check` keeps between runs of one build.
@Suite("Matrix verdict cache")
struct MatrixVerdictCacheTests {
  static let cell = MatrixCell(policy: .globalFlag, layout: .direct, device: .untranslated, page: .grant, shape: .onePage, xen: .after)

  static func findings(_ verdict: Verdict) -> [Finding] {
    DMAProperty.allCases.map { Finding(claim: cell.claimName($0), verdict: verdict, reason: "", seconds: 1, counterexample: verdict == .refuted ? "dma dev from-device 0x80000000 4K" : nil) }
  }

  func directory() -> URL { FileManager.default.temporaryDirectory.appendingPathComponent("dmaverify-cache-test-\(UUID().uuidString)") }

  @Test("definite findings are kept and read back by the same build, per release; unknowns are asked again; another build reads nothing")
  func roundTrip() throws {
    let directory = directory()
    defer { try? FileManager.default.removeItem(at: directory) }
    let cache = MatrixVerdictCache(directory: directory, build: "b1")
    var asked = 0
    let refuted = cache.findings(Self.cell, release: .latest) { asked += 1; return Self.findings(.refuted) }
    _ = cache.findings(Self.cell, release: .v4_15) { asked += 1; return Self.findings(.unknown) }
    #expect(cache.findings(Self.cell, release: .latest) { asked += 1; return [] } == refuted)
    #expect(asked == 2 && cache.hits == 1 && cache.misses == 2)
    try cache.save()

    let again = MatrixVerdictCache(directory: directory, build: "b1")
    #expect(again.problem == nil)
    #expect(again.findings(Self.cell, release: .latest) { asked += 1; return [] } == refuted)
    _ = again.findings(Self.cell, release: .v4_15) { asked += 1; return Self.findings(.proved) }
    #expect(asked == 3, "the unknown was not kept")

    let other = MatrixVerdictCache(directory: directory, build: "b2")
    _ = other.findings(Self.cell, release: .latest) { asked += 1; return Self.findings(.proved) }
    #expect(asked == 4)
  }

  @Test("a file that names another build inside is not trusted")
  func foreignFile() throws {
    let directory = directory()
    defer { try? FileManager.default.removeItem(at: directory) }
    let cache = MatrixVerdictCache(directory: directory, build: "b1")
    _ = cache.findings(Self.cell, release: .latest) { Self.findings(.proved) }
    try cache.save()
    try FileManager.default.moveItem(at: directory.appendingPathComponent("matrix-b1.json"), to: directory.appendingPathComponent("matrix-b3.json"))
    let renamed = MatrixVerdictCache(directory: directory, build: "b3")
    #expect(renamed.problem?.contains("written by another build") == true)
    var asked = false
    _ = renamed.findings(Self.cell, release: .latest) { asked = true; return Self.findings(.proved) }
    #expect(asked)
  }
}
