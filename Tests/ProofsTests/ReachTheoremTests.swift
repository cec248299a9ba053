import Spec
import Testing

@testable import Proofs

/// `dma.reach` proves the reach oracle's rule for every dom0 entry after
/// any short history; its broken variant is Xen's unmap with a
/// `mapkind()` that still counts the map being removed.
@Suite("dma.reach: every dom0 entry covered by a right")
struct ReachTheoremTests {
  @Test("proved on a direct-mapped and a coloured dom0 after any history of three operations")
  func proved() throws {
    let findings = try CatalogueTheoremTests().run(ReachTheorem.theorem())
    #expect(findings.map(\.claim) == ["dma.reach[direct-mapped]", "dma.reach[coloured]"])
    #expect(findings.allSatisfy { $0.verdict == .proved }, "\(findings)")
  }

  @Test("refuted with an unmap whose mapkind() counts the removed map: the 1:1 entry outlives its grant, replayed")
  func brokenVariant() throws {
    let session = try ProofSession(timeout: .seconds(60), seed: 1, dumpDirectory: nil)
    let finding = try SeededBug.unmapCountsRemovedMap.inject {
      try ReachTheorem.decide(session: session, layout: .direct, historyLength: 2)
    }
    #expect(finding.verdict == .refuted, "\(finding)")
    #expect(finding.replayed == true, "\(finding.reason)")
    #expect(finding.reason.contains("iommu_map"), "\(finding.reason)")
    let scenario = try #require(finding.counterexample)
    #expect(scenario.contains("ungrant"), "\(scenario)")
  }
}
