import Claims
import Spec
import Testing

@testable import Proofs

/// `dma.class`: cells decided for every platform of the class at once.
@Suite("DMA cells for every platform of the class")
struct PlatformClassTheoremTests {
  func decide(_ name: String, seeding bugs: [SeededBug] = []) throws -> [DMAProperty: Finding] {
    let cell = try #require(MatrixCell(name: name))
    let session = try ProofSession(timeout: .seconds(60), seed: 1, dumpDirectory: nil)
    let findings = try SeededBug.inject(bugs) {
      try DMAMatrixTheorem.decide(cell, session: session, releases: [.latest], scope: .everyPlatform, history: .none)
    }
    return Dictionary(uniqueKeysWithValues: zip(DMAProperty.allCases, findings).map { ($0, $1) })
  }

  /// The flag's dma-direct has no bounce for a 32-bit device whose buffer
  /// lies above 4 GiB: a platform the reference one is not. Z3 must find
  /// it, name it, and the scenario on that platform must replay.
  @Test("a refutation is on the platform the model chose, named and replayed")
  func refutedOnAnotherPlatform() throws {
    let findings = try decide("global-flag/direct-mapped/attached/local/one-page/after-fix")
    let liveness = try #require(findings[.liveness])
    #expect(liveness.verdict == .refuted)
    #expect(liveness.replayed == true, "\(liveness.reason)")
    #expect(liveness.reason.contains("[platform: RAM"))
    let scenario = try #require(liveness.counterexample)
    #expect(!liveness.reason.contains(MatrixPlatform<UInt64>.reference(.direct).summary), "\(liveness.reason)")
    // Any mask narrower than the buffer's address will do, and which one
    // Z3's model picks varies with its search (32 and 38 were both seen):
    // some device's mask must be below 64 bits.
    let masks = scenario.split(separator: "\n").compactMap { line in
      line.split(separator: " ").split(separator: "dma-mask").dropFirst().first?.first.flatMap { Int($0) }
    }
    #expect(masks.contains { $0 < 64 }, "\(scenario)")
    #expect(findings[.isolation]?.verdict == .proved)
  }

  /// The broken variant: a spec DMA path that bounces one page off is
  /// refuted for the class too, and replays.
  @Test("swiotlb-xen on a direct-mapped dom0 is proved for every platform; a broken bounce slot is refuted")
  func brokenVariant() throws {
    let cell = "legacy/direct-mapped/attached/local/one-page/after-fix"
    #expect(try decide(cell).values.allSatisfy { $0.verdict == .proved })
    let broken = try decide(cell, seeding: [.bounceSlotOnePageOff])
    let refuted = broken.values.filter { $0.verdict == .refuted }
    #expect(!refuted.isEmpty)
    #expect(refuted.allSatisfy { $0.replayed == true }, "\(broken)")
  }

  /// The class's hypotheses hold together (else every claim would be
  /// vacuous), on each layout, with the history the matrix uses.
  @Test("the class's hypotheses are satisfiable", arguments: MatrixCell.Layout.allCases)
  func satisfiable(_ layout: MatrixCell.Layout) throws {
    let session = try ProofSession(timeout: .seconds(60), seed: 1, dumpDirectory: nil)
    let state = try SymbolicDMAState(
      session: session, layout: layout, page: .grant, shape: .straddling, version: .latest, scope: .everyPlatform)
    let named = try state.namedHypotheses()
    #expect(named.count >= 10)
    #expect(try session.isSatisfiable(named.map(\.holds)))
  }
}
