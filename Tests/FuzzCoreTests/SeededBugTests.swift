import FuzzCore
import P2MImpl
import Spec
import Testing

/// Issue 7's seeded-bug test: with a broken implementation plugged in, a
/// bounded in-process search from the committed corpus finds the bug, and
/// the minimizer reduces it to at most five operations failing the same
/// way; the same scenario passes on the real implementation, so it can be
/// committed as a regression.
@Suite("Seeded bugs are found from the corpus and minimized")
struct SeededBugTests {
  static let maximumRuns = 2_000

  @Test("a TLB not invalidated on unmap", arguments: [UInt64(0x5EED_B001), 0x5EED_B002])
  func staleTLB(seed: UInt64) throws {
    let broken = ScenarioChecker(makeP2M: StaleOnUnmapP2M.make)
    // Without the seeds that unmap what they mapped, so the search has to
    // make an unmap follow a map itself.
    let corpus = try committedCorpus().filter { broken.check(bytes: $0).passed }
    #expect(!corpus.isEmpty)
    var search = MutationSearch(checker: broken, seed: seed)
    let found = search.run(corpus: corpus, maximumRuns: Self.maximumRuns)
    let finding = try #require(found, "not found in \(Self.maximumRuns) runs (seed \(hex(seed)))")
    let failure = try #require(finding.result.failure)
    #expect(failure.oracle == .specVersusImplementation)
    #expect(failure.property == "tlb")

    let minimized = try #require(Minimizer(checker: broken).minimize(finding.result.scenario))
    let operations = minimized.scenario.statements.filter { FuzzEncoder.isOperation($0.kind) }
    #expect(operations.count <= 5, "\(ScenarioPrinter.print(minimized.scenario))")
    #expect(minimized.failure.signature == failure.signature)
    #expect(ScenarioChecker().check(minimized.scenario).passed, "the real XenP2M passes the minimized scenario")
  }

  /// The raw-p2m seed maps a hardware-invalid entry and removes it, so
  /// the corpus itself catches the mutant (a search from the corpus
  /// without that seed needs ~10⁴ runs: too slow for every CI run).
  @Test("the XSA-393 mutant (a removal keeps a hardware-invalid entry) is caught by the committed corpus")
  func xsa393() throws {
    let broken = ScenarioChecker(makeP2M: P2MFactory.xen(withMutants: .removalKeepsHardwareInvalid))
    var search = MutationSearch(checker: broken, seed: 0x5EED_B393)
    let found = search.run(corpus: try committedCorpus(), maximumRuns: 100)
    let finding = try #require(found, "not found in the corpus")
    let minimized = try #require(Minimizer(checker: broken).minimize(finding.result.scenario))
    #expect(minimized.failure.signature.oracle == .specVersusImplementation)
    #expect(minimized.scenario.statements.filter { FuzzEncoder.isOperation($0.kind) }.count <= 5)
    #expect(ScenarioChecker().check(minimized.scenario).passed)
  }
}
