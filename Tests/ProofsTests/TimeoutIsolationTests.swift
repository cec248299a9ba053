import Solver
import Spec
import SymbolicWord
import Testing

@testable import Proofs

/// A timeout is `unknown` for its own claim and changes no other claim's
/// answer: the session's solver is replaced after an unknown, and every
/// refutation is checked against its model.
@Suite("Timeouts stay with their claim")
struct TimeoutIsolationTests {
  func verdicts(_ findings: [Finding]) -> [String: Verdict] {
    Dictionary(uniqueKeysWithValues: findings.map { ($0.claim, $0.verdict) })
  }

  /// Factoring a 62-bit semiprime by bit-blasting: far beyond a short timeout.
  func factoringClaim(_ session: ProofSession) throws -> Finding {
    let x = try session.word("x")
    let y = try session.word("y")
    let product: UInt64 = 2_147_483_647 * 2_147_483_629
    return try session.decide(
      "factoring", claim: (x &* y) != product,
      hypotheses: [x > 1, y > 1, x < UInt64(1) << 32, y < UInt64(1) << 32])
  }

  @Test("descriptor.roundtrip with a 1 ms timeout answers only proved or unknown, run after run", arguments: 1...4)
  func shortTimeout(run: Int) throws {
    let session = try ProofSession(timeout: .milliseconds(1), seed: UInt32(run), dumpDirectory: nil)
    let findings = try DescriptorRoundtripTheorem.theorem().body(session)
    #expect(findings.count == 72)
    #expect(findings.allSatisfy { $0.verdict == .proved || $0.verdict == .unknown })
  }

  @Test("after a timeout mid-session, the next claims answer as in a fresh session")
  func timeoutMidSession() throws {
    // The encoder with the type one bit low: 66 claims refuted, 6 proved,
    // so both answers are compared after the timeout.
    let broken = DescriptorRoundtripTheorem.theorem { frame, type, level, valid in
      frame | (XenDescriptor.attributeBits(type: type, level: level, hardwareValid: valid) & ~(UInt64(0xF) << 55))
        | frame.constant(UInt64(type.rawValue) << 54)
    }
    let fresh = try broken.body(try ProofSession(timeout: .seconds(2), seed: 1, dumpDirectory: nil))

    let session = try ProofSession(timeout: .seconds(2), seed: 1, dumpDirectory: nil)
    let interrupted = session.solver
    #expect(try factoringClaim(session).verdict == .unknown)
    #expect(session.solver !== interrupted, "the interrupted solver is replaced")
    let after = try broken.body(session)

    #expect(verdicts(after) == verdicts(fresh))
    #expect(after.filter { $0.verdict == .refuted }.count == 66)
    // Every refutation's frame satisfies the claims' hypothesis.
    #expect(after.filter { $0.verdict == .refuted }.allSatisfy { ($0.values["frame"] ?? .max) < 1 << 36 })
  }
}
