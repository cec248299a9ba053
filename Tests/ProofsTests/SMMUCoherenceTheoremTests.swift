import SMMUImpl
import Spec
import Testing

@testable import Proofs

/// `smmu.coherence` (Sources/Proofs/SMMUCoherence) is proved for every
/// step on both SMMU versions as the maintenance stands, and each seeded
/// bug in it is refuted on the step it breaks, with a counterexample that
/// replays on the concrete ``XenSMMUPlatform``.
@Suite("smmu.coherence: IOTLB maintenance keeps every IOTLB state coherent")
struct SMMUCoherenceTheoremTests {
  func run(_ theorem: Theorem) throws -> [Finding] {
    let session = try ProofSession(timeout: theorem.timeout, seed: 1, dumpDirectory: nil)
    return try theorem.body(session)
  }

  @Test("proved: reset, fill, p2m update, attach and detach on SMMUv2 and SMMUv3")
  func proved() throws {
    let findings = try run(SMMUCoherenceTheorem.theorem())
    #expect(findings.count == 10)
    #expect(findings.allSatisfy { $0.verdict == .proved }, "\(findings.map { "\($0.claim) \($0.verdict) \($0.reason)" })")
  }

  /// Xen before `9ed527dc95` never flushed the IOTLB after a p2m change
  /// of a domain whose tables the SMMU shares.
  @Test("refuted: no IOTLB flush after a p2m update; replayed", arguments: SymbolicSMMU.Version.allCases)
  func noFlush(version: SymbolicSMMU.Version) throws {
    let findings = try run(SMMUCoherenceTheorem.theorem(mutants: .ignoresIOTLBFlush, versions: [version], steps: [.update, .fill]))
    #expect(findings.first?.verdict == .refuted, "\(findings)")
    #expect(findings.first?.replayed == true, "\(findings)")
    #expect(findings.last?.verdict == .proved, "a fill does not depend on the flush")
  }

  @Test("refuted: a flush that reaches only the first SMMU; replayed", arguments: SymbolicSMMU.Version.allCases)
  func firstSMMUOnly(version: SymbolicSMMU.Version) throws {
    let findings = try run(SMMUCoherenceTheorem.theorem(mutants: .flushesFirstSMMUOnly, versions: [version], steps: [.update]))
    #expect(findings.first?.verdict == .refuted, "\(findings)")
    #expect(findings.first?.reason.contains("smmu1") == true, "\(findings)")
    #expect(findings.first?.replayed == true, "\(findings)")
  }

  @Test("refuted: a VMID recycled without invalidation; replayed", arguments: SymbolicSMMU.Version.allCases)
  func recycledVMID(version: SymbolicSMMU.Version) throws {
    let findings = try run(SMMUCoherenceTheorem.theorem(mutants: .recyclesVMIDWithoutInvalidation, versions: [version], steps: [.detach, .attach]))
    #expect(findings.first?.verdict == .refuted, "\(findings)")
    #expect(findings.first?.replayed == true, "\(findings)")
  }

  /// The replays tell the bug from the fix: on the maintenance as it
  /// stands, neither shows an incoherent entry.
  @Test("the replays show nothing on the correct maintenance", arguments: SymbolicSMMU.Version.allCases)
  func replaysAreSpecific(version: SymbolicSMMU.Version) throws {
    #expect(try SMMUCoherenceTheorem.replayUpdate(version: version, mutants: [], page: 0x1234).1 == false)
    #expect(try SMMUCoherenceTheorem.replayRecycle(version: version, mutants: [], page: 0x1234).1 == false)
    #expect(try SMMUCoherenceTheorem.replayUpdate(version: version, mutants: .ignoresIOTLBFlush, page: 0x1234).1)
    #expect(try SMMUCoherenceTheorem.replayRecycle(version: version, mutants: .recyclesVMIDWithoutInvalidation, page: 0x1234).1)
  }
}
