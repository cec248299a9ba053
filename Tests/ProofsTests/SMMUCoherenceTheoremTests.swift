import SMMUImpl
import Spec
import Testing

@testable import Proofs

/// `smmu.coherence` (Sources/Proofs/Theorems/SMMUCoherence) is proved for every
/// step on both SMMU versions as the maintenance stands, and each seeded
/// bug in it is refuted on the step it breaks, with a counterexample that
/// replays on the concrete ``XenSMMUPlatform``.
@Suite("smmu.coherence: IOTLB maintenance keeps every IOTLB state coherent")
struct SMMUCoherenceTheoremTests {
  func run(_ theorem: Theorem, seeding bugs: [SeededBug] = []) throws -> [Finding] {
    try CatalogueTheoremTests().run(theorem, seeding: bugs)
  }

  /// Xen's smmu-v3.c frees an S2VMID without invalidating it; every
  /// other step on both drivers keeps the IOTLB coherent.
  @Test("proved on both drivers except SMMUv3 detach, which is refuted and replays")
  func asXenIs() throws {
    let findings = try run(SMMUCoherenceTheorem.theorem())
    #expect(findings.count == 10)
    let detach = "smmu.coherence[v3,detach]"
    #expect(findings.filter { $0.claim != detach }.allSatisfy { $0.verdict == .proved }, "\(findings.map { "\($0.claim) \($0.verdict) \($0.reason)" })")
    let refuted = findings.first { $0.claim == detach }
    #expect(refuted?.verdict == .refuted, "\(String(describing: refuted))")
    #expect(refuted?.replayed == true, "\(String(describing: refuted))")
  }

  /// The fix: smmu-v3.c invalidating the S2VMID it frees, as Linux's
  /// driver does through `free_io_pgtable_ops()`.
  @Test("proved: SMMUv3 detach with the S2VMID invalidated on release")
  func fixedSMMUv3() throws {
    let findings = try run(SMMUCoherenceTheorem.theorem(versions: [.v3], steps: [.detach], fixes: [.v3]))
    #expect(findings.count == 1 && findings.allSatisfy { $0.verdict == .proved }, "\(findings)")
  }

  /// Xen before `9ed527dc95` never flushed the IOTLB after a p2m change
  /// of a domain whose tables the SMMU shares.
  @Test("refuted: no IOTLB flush after a p2m update; replayed", arguments: SymbolicSMMU.Version.allCases)
  func noFlush(version: SymbolicSMMU.Version) throws {
    let findings = try run(SMMUCoherenceTheorem.theorem(versions: [version], steps: [.update, .fill]), seeding: [.iotlbFlushIgnored])
    #expect(findings.first?.verdict == .refuted, "\(findings)")
    #expect(findings.first?.replayed == true, "\(findings)")
    #expect(findings.last?.verdict == .proved, "a fill does not depend on the flush")
  }

  @Test("refuted: a flush that reaches only the first SMMU; replayed", arguments: SymbolicSMMU.Version.allCases)
  func firstSMMUOnly(version: SymbolicSMMU.Version) throws {
    let findings = try run(SMMUCoherenceTheorem.theorem(versions: [version], steps: [.update]), seeding: [.iotlbFlushFirstSMMUOnly])
    #expect(findings.first?.verdict == .refuted, "\(findings)")
    #expect(findings.first?.reason.contains("smmu1") == true, "\(findings)")
    #expect(findings.first?.replayed == true, "\(findings)")
  }

  @Test("refuted: an SMMUv2 bank freed without the TLB nuke; replayed")
  func recycledVMID() throws {
    let findings = try run(SMMUCoherenceTheorem.theorem(versions: [.v2], steps: [.detach, .attach]), seeding: [.vmidFreedWithoutTLBNuke])
    #expect(findings.first?.verdict == .refuted, "\(findings)")
    #expect(findings.first?.replayed == true, "\(findings)")
    #expect(findings.last?.verdict == .proved, "attach invalidates nothing in either driver")
  }

  /// The replays tell the bug from the fix: a p2m update shows no stale
  /// entry unless its flush is dropped; a recycled context shows one on
  /// SMMUv3 as Xen is, on SMMUv2 only without the nuke.
  @Test("the replays show a stale entry only where the maintenance lacks an invalidation", arguments: SymbolicSMMU.Version.allCases)
  func replaysAreSpecific(version: SymbolicSMMU.Version) throws {
    #expect(try SMMUCoherenceTheorem.replayUpdate(version: version, page: 0x1234).1 == false)
    #expect(try SeededBug.iotlbFlushIgnored.inject { try SMMUCoherenceTheorem.replayUpdate(version: version, page: 0x1234) }.1)
    #expect(try SMMUCoherenceTheorem.replayRecycle(version: version, page: 0x1234).1 == (version == .v3))
    #expect(try SeededBug.vmidFreedWithoutTLBNuke.inject { try SMMUCoherenceTheorem.replayRecycle(version: version, page: 0x1234) }.1)
  }
}
