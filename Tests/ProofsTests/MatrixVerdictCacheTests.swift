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

  /// As `check` uses the cache: read, else decide and keep.
  static func read(_ cache: MatrixVerdictCache, release: XenVersion, decide: () -> [Finding]) -> [Finding] {
    if let cached = cache.cached(cell, release: release) { return cached }
    let findings = decide()
    cache.store(findings, for: cell, release: release)
    return findings
  }

  /// As `check` writes it (the bytes `contentsToSave` gives, when any).
  static func save(_ cache: MatrixVerdictCache) throws {
    guard let contents = try cache.contentsToSave() else { return }
    try FileManager.default.createDirectory(at: cache.file.deletingLastPathComponent(), withIntermediateDirectories: true)
    try Data(contents).write(to: cache.file)
  }

  func directory() -> URL { FileManager.default.temporaryDirectory.appendingPathComponent("dmaverify-cache-test-\(UUID().uuidString)") }

  @Test("definite findings are kept and read back by the same build, per release; unknowns are asked again; another build reads nothing")
  func roundTrip() throws {
    let directory = directory()
    defer { try? FileManager.default.removeItem(at: directory) }
    let cache = MatrixVerdictCache(directory: directory, build: "b1")
    var asked = 0
    let refuted = Self.read(cache, release: .latest) { asked += 1; return Self.findings(.refuted) }
    _ = Self.read(cache, release: .v4_15) { asked += 1; return Self.findings(.unknown) }
    #expect(Self.read(cache, release: .latest) { asked += 1; return [] } == refuted)
    #expect(asked == 2 && cache.hits == 1 && cache.misses == 2)
    try Self.save(cache)

    let again = MatrixVerdictCache(directory: directory, build: "b1")
    #expect(again.problem == nil)
    #expect(Self.read(again, release: .latest) { asked += 1; return [] } == refuted)
    _ = Self.read(again, release: .v4_15) { asked += 1; return Self.findings(.proved) }
    #expect(asked == 3, "the unknown was not kept")

    let other = MatrixVerdictCache(directory: directory, build: "b2")
    _ = Self.read(other, release: .latest) { asked += 1; return Self.findings(.proved) }
    #expect(asked == 4)
  }

  @Test("a file that names another build inside is not trusted")
  func foreignFile() throws {
    let directory = directory()
    defer { try? FileManager.default.removeItem(at: directory) }
    let cache = MatrixVerdictCache(directory: directory, build: "b1")
    _ = Self.read(cache, release: .latest) { Self.findings(.proved) }
    try Self.save(cache)
    try FileManager.default.moveItem(at: directory.appendingPathComponent("matrix-b1.json"), to: directory.appendingPathComponent("matrix-b3.json"))
    let renamed = MatrixVerdictCache(directory: directory, build: "b3")
    #expect(renamed.problem?.contains("written by another build") == true)
    var asked = false
    _ = Self.read(renamed, release: .latest) { asked = true; return Self.findings(.proved) }
    #expect(asked)
  }
}
