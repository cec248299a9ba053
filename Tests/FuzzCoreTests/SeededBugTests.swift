import Foundation
import FuzzCore
import SMMUImpl
import P2MImpl
import Scenario
import Spec
import Testing
import TestSupport

/// Seeded bugs found by search: with a broken implementation plugged in, a
/// bounded in-process search from the committed corpus finds the bug, and
/// the minimizer reduces it to at most five operations failing the same
/// way; the same scenario passes on the real implementation, so it can be
/// committed as a regression.
@Suite("Seeded bugs are found from the corpus and minimized")
struct SeededBugTests {
  static let maximumRuns = 2_000

  /// A seeded bug whose hook was refactored away would silently drop out
  /// of the mutation score and the time-to-detect table: each must be
  /// asked for (`SeededBug.x.isActive`) somewhere in the running code.
  @Test("every seeded bug has a hook in Sources, outside its own declaration")
  func everyBugHooked() throws {
    let sources = repository.appendingPathComponent("Sources")
    let files = try #require(FileManager.default.subpaths(atPath: sources.path)).filter { $0.hasSuffix(".swift") && !$0.hasPrefix("Spec/SeededBugs/") }
    let text = try files.map { try String(contentsOf: sources.appendingPathComponent($0), encoding: .utf8) }.joined(separator: "\n")
    for bug in SeededBug.allCases {
      #expect(text.contains("SeededBug.\(bug).isActive"), "\(bug.rawValue) has no hook")
    }
  }

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

    try expectMinimized(finding.result.scenario, on: broken, failingAs: failure)
  }

  /// The raw-p2m seed maps a hardware-invalid entry and removes it, so
  /// the corpus itself catches the mutant (a search from the corpus
  /// without that seed needs ~10⁴ runs: too slow for every CI run).
  @Test("the XSA-393 mutant (a removal keeps a hardware-invalid entry) is caught by the committed corpus")
  func xsa393() throws {
    let broken = ScenarioChecker()
    var search = MutationSearch(checker: broken, seed: 0x5EED_B393)
    let corpus = try committedCorpus()
    let found = SeededBug.removalKeepsHWInvalidEntry.inject { search.run(corpus: corpus, maximumRuns: 100) }
    let finding = try #require(found, "not found in the corpus")
    let failure = try #require(finding.result.failure)
    #expect(failure.oracle == .specVersusImplementation)
    try expectMinimized(finding.result.scenario, on: broken, seeding: [.removalKeepsHWInvalidEntry], failingAs: failure)
  }

  /// P2MImpl mutants only the newer oracle checks and vocabulary see:
  /// - `97323702bf`, a split gives the new 4K entries the default type and
  ///   access instead of the block's: invisible on `ram_rw` blocks, so it
  ///   takes a 2 MiB raw map of another type (seed
  ///   `raw-p2m-2m-block-split`), then the neighbour's lookup shows it;
  /// - `14c57887f3`, `p2m_invalidate_root()` clears only the first page of
  ///   a concatenated root: seed `setway-iommu-off` maps a page at the top
  ///   of a 40-bit IPA (under the second root page) and flushes by set/way;
  /// - `6718787797`, the entry a foreign unmap replaces is released before
  ///   the IOTLB flush: translations are the same either way, so only the
  ///   effect-order check sees it.
  enum OracleMutant: String, CaseIterable, Sendable {
    case splitWithoutInheritance, invalidatesFirstRootPageOnly, freeBeforeIOTLBFlush

    var bug: SeededBug {
      switch self {
      case .splitWithoutInheritance: .splitChildrenLosePermissions
      case .invalidatesFirstRootPageOnly: .setWayRootPartlyInvalidated
      case .freeBeforeIOTLBFlush: .freeBeforeIOTLBFlush
      }
    }
    var property: String {
      switch self {
      case .splitWithoutInheritance: "lookup"
      case .invalidatesFirstRootPageOnly: "setway"
      case .freeBeforeIOTLBFlush: "flush-order"
      }
    }
    /// Text the minimized scenario must keep: what makes the bug reachable.
    var reachedThrough: String {
      switch self {
      case .splitWithoutInheritance: " size 2M"
      case .invalidatesFirstRootPageOnly: "setway "
      case .freeBeforeIOTLBFlush: "foreign "
      }
    }
  }

  @Test("found from the committed corpus by the property it breaks, minimized to at most five operations", arguments: OracleMutant.allCases)
  func oracleMutant(mutant: OracleMutant) throws {
    let broken = ScenarioChecker()
    var search = MutationSearch(checker: broken, seed: 0x5EED_0A00)
    let corpus = try committedCorpus()
    let found = mutant.bug.inject { search.run(corpus: corpus, maximumRuns: Self.maximumRuns) }
    let finding = try #require(found, "not found in \(Self.maximumRuns) runs")
    let failure = try #require(finding.result.failure)
    #expect(failure.oracle == .specVersusImplementation)
    #expect(failure.property == mutant.property)
    let text = try expectMinimized(finding.result.scenario, on: broken, seeding: [mutant.bug], failingAs: failure)
    #expect(text.contains(mutant.reachedThrough), "\(text)")
  }
}

/// The same for bugs put back into `XenSMMUPlatform`: the SMMU oracle sees
/// them from the committed corpus, and the minimized scenario fails the
/// same way on the mutant and passes on the real implementation.
@Suite("Seeded SMMU bugs are found from the corpus and minimized")
struct SeededSMMUBugTests {
  static let maximumRuns = 2_000

  enum Mutant: String, CaseIterable, Sendable {
    case ignoresIOTLBFlush, iotlbIgnoresVMID, flushesFirstSMMUOnly

    var bug: SeededBug {
      switch self {
      case .ignoresIOTLBFlush: .iotlbFlushIgnored
      case .iotlbIgnoresVMID: .iotlbIgnoresVMID
      case .flushesFirstSMMUOnly: .iotlbFlushFirstSMMUOnly
      }
    }
  }

  /// A real search: the seeds that already fail on the mutant are left
  /// out, so the search has to build the trigger itself (a DMA that fills
  /// an IOTLB, then a p2m change or a second context on the same SMMU).
  /// Runs needed with these seeds: 9, 194 and 226 of 2 000.
  @Test("found by a bounded search from the seeds that pass on the mutant, minimized to at most five operations", arguments: Mutant.allCases)
  func search(mutant: Mutant) throws {
    let broken = ScenarioChecker()
    let all = try committedCorpus()
    let corpus = mutant.bug.inject { all.filter { broken.check(bytes: $0).passed } }
    #expect(!corpus.isEmpty)
    var search = MutationSearch(checker: broken, seed: 0x5EED_5330)
    // Only SMMU failures: the search may meet a DMA-property failure of the
    // spec on the way (not this mutant's), and must go on past it.
    let found = mutant.bug.inject { search.run(corpus: corpus, maximumRuns: Self.maximumRuns) { $0.oracle == .smmu } }
    let finding = try #require(found, "not found in \(Self.maximumRuns) runs")
    let failure = try #require(finding.result.failure)
    #expect(failure.oracle == .smmu)
    try expectMinimized(finding.result.scenario, on: broken, seeding: [mutant.bug], failingAs: failure)
  }

  @Test("the committed SMMU seed alone catches the missing flush and the flush that reaches one SMMU")
  func corpusCatches() throws {
    let seed = try FuzzInput.load(repository.appendingPathComponent("corpus/fuzz/two-smmus-iotlb-remap-attach-guest").path)
    #expect(seed.check().passed)
    for mutant in [Mutant.ignoresIOTLBFlush, .flushesFirstSMMUOnly] {
      let failure = mutant.bug.inject { seed.check(with: ScenarioChecker()).failure }
      #expect(failure?.signature.oracle == .smmu, "\(mutant)")
      #expect(failure?.property == "iotlb-coherence", "\(mutant)")
    }
  }
}

/// The minimization requirement for a failure a seeded bug caused:
/// the minimizer keeps the same failure (oracle, property, operation kind)
/// in at most five operations, and the real implementation passes the
/// result, so it can be committed as a regression. Returns the minimized
/// scenario as text.
@discardableResult
func expectMinimized(
  _ scenario: Scenario, on broken: ScenarioChecker, seeding bugs: [SeededBug] = [], failingAs failure: FuzzFailure
) throws -> String {
  let minimized = try #require(SeededBug.inject(bugs) { Minimizer(checker: broken).minimize(scenario) })
  let text = ScenarioPrinter.print(minimized.scenario)
  #expect(minimized.failure.signature == failure.signature, "\(text)")
  #expect(minimized.scenario.statements.filter { FuzzEncoder.isOperation($0.kind) }.count <= 5, "\(text)")
  #expect(ScenarioChecker().check(minimized.scenario).passed, "the real implementation passes the minimized scenario:\n\(text)")
  return text
}
