import P2MImpl
import Spec
import Testing

@testable import Proofs

/// `p2m.step` is decided for every state satisfying the invariant; each
/// known bug in the step it runs makes it refuted, on the property the
/// bug breaks. The whole theorem runs in CI's `prove`; here one order and
/// operation each, on a 32-bit IPA.
@Suite("p2m.step: inductive refinement of the chunk step")
struct P2MStepTheoremTests {
  func step(_ findings: [Finding]) -> [Finding] { findings.filter { $0.claim.hasPrefix("p2m.step[") } }

  @Test("p2m.init and p2m.abstraction are proved, and a 1 GiB insertion is proved on every path")
  func provedLemmasAndBlockInsertion() throws {
    let findings = try CatalogueTheoremTests().run(P2MStepTheorem.theorem(orders: [18], operations: [.insert]))
    #expect(findings.count == 3)
    #expect(findings.allSatisfy { $0.verdict == .proved }, "\(findings)")
    #expect(step(findings).allSatisfy { $0.reason.hasSuffix("paths") })
  }

  @Test("releasing before the IOTLB flush (before 6718787797) breaks the flush order")
  func releaseBeforeFlush() throws {
    let findings = step(try CatalogueTheoremTests().run(P2MStepTheorem.theorem(orders: [18], operations: [.insert]), seeding: [.freeBeforeIOTLBFlush]))
    #expect(findings.count == 1 && findings.allSatisfy { $0.verdict == .refuted }, "\(findings)")
    #expect(findings.allSatisfy { $0.reason.contains("flush order") })
  }

  @Test("a removal that keeps a hardware-invalid entry (before XSA-393) breaks the abstraction")
  func removalKeepsHardwareInvalid() throws {
    let findings = step(try CatalogueTheoremTests().run(P2MStepTheorem.theorem(orders: [18], operations: [.remove]), seeding: [.removalKeepsHWInvalidEntry]))
    #expect(findings.count == 1 && findings.allSatisfy { $0.verdict == .refuted }, "\(findings)")
    #expect(findings.allSatisfy { $0.reason.contains("abstraction") })
  }

  @Test("split children that lose the parent's type and permissions (97323702bf) break the abstraction")
  func splitWithoutInheritance() throws {
    let findings = step(try CatalogueTheoremTests().run(P2MStepTheorem.theorem(orders: [9], operations: [.remove]), seeding: [.splitChildrenLosePermissions]))
    #expect(findings.count == 1 && findings.allSatisfy { $0.verdict == .refuted }, "\(findings)")
    #expect(findings.allSatisfy { $0.reason.contains("abstraction") })
  }

  @Test("an update beyond the root tables that aliases a low GFN (XSA-301) breaks the abstraction")
  func aliasedTopBits() throws {
    let findings = step(try CatalogueTheoremTests().run(P2MStepTheorem.theorem(orders: [18], operations: [.insert]), seeding: [.gfnTopBitsAliased]))
    #expect(findings.count == 1 && findings.allSatisfy { $0.verdict == .refuted }, "\(findings)")
  }

  /// Xen before `9ed527dc95` decided the IOTLB flush with
  /// `need_iommu_pt_sync()`, false when the SMMU shares the p2m: an
  /// update that changes a cached translation owes no flush, and the
  /// SMMU's entry goes stale (`smmu.coherence`'s `p2m update` hypothesis).
  @Test("an update that never flushes the IOTLB breaks the IOTLB part")
  func noIOTLBFlush() throws {
    let findings = step(try CatalogueTheoremTests().run(P2MStepTheorem.theorem(orders: [18], operations: [.insert], iommuEnabled: false, parts: ["IOTLB"])))
    #expect(findings.count == 1 && findings.allSatisfy { $0.verdict == .refuted }, "\(findings)")
    #expect(findings.allSatisfy { $0.reason.contains("IOTLB") }, "\(findings.map(\.reason))")
  }
}
