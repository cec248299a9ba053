import Solver
import Spec
import SymbolicWord
import Testing

@testable import Proofs

/// A refutation is reported only when its model satisfies every hypothesis
/// and breaks the claim: a solver that hands back anything else gets
/// `unknown`, never `refuted`.
@Suite("Refutations are checked against their model")
struct CheckedRefutationTests {
  /// A model in which `frame` is `value`, from a solver of the session's
  /// own context: the kind of model a confused solver could return for a
  /// query that never asked for it.
  func model(_ session: ProofSession, _ frame: SymbolicWord, equal value: UInt64) throws -> Model {
    let other = try Solver(context: session.context)
    try other.assert((frame == value).term)
    return try #require(try other.check().model)
  }

  /// Lets the hypotheses' check through and answers the claim's query with `model`.
  func answerQuery(with model: Model, in session: ProofSession) {
    var checks = 0
    session.checkOverride = { solver in
      checks += 1
      return checks == 1 ? try solver.check() : .sat(model)
    }
  }

  @Test("a model that violates a hypothesis is unknown, with the reason, and explain is never called")
  func hypothesisViolated() throws {
    let session = try ProofSession(timeout: .seconds(10), seed: 1, dumpDirectory: nil)
    let frame = try session.word("frame")
    answerQuery(with: try model(session, frame, equal: 1 << 40), in: session)
    var explained = false
    let finding = try session.decide("bogus", claim: frame != 7, hypotheses: [frame < UInt64(1) << 36]) { _ in
      explained = true
      return ("", nil, nil, [:])
    }
    #expect(finding.verdict == .unknown)
    #expect(finding.reason.contains("hypothesis 1 of 1"))
    #expect(!explained)
  }

  @Test("a model in which the claim holds is unknown")
  func claimHolds() throws {
    let session = try ProofSession(timeout: .seconds(10), seed: 1, dumpDirectory: nil)
    let frame = try session.word("frame")
    answerQuery(with: try model(session, frame, equal: 3), in: session)
    let finding = try session.decide("bogus", claim: frame != 7, hypotheses: [frame < UInt64(1) << 36])
    #expect(finding.verdict == .unknown)
    #expect(finding.reason.contains("negated claim"))
  }

  @Test("a model that satisfies the hypotheses and breaks the claim is refuted")
  func genuineCounterexample() throws {
    let session = try ProofSession(timeout: .seconds(10), seed: 1, dumpDirectory: nil)
    let frame = try session.word("frame")
    answerQuery(with: try model(session, frame, equal: 7), in: session)
    let finding = try session.decide("genuine", claim: frame != 7, hypotheses: [frame < UInt64(1) << 36])
    #expect(finding.verdict == .refuted)
  }

  @Test("a bad model handed to minimize inside explain makes the claim unknown")
  func minimizedModelChecked() throws {
    let session = try ProofSession(timeout: .seconds(10), seed: 1, dumpDirectory: nil)
    let frame = try session.word("frame")
    let bogus = try model(session, frame, equal: 1 << 40)
    let finding = try session.decide("explained", claim: frame != 7, hypotheses: [frame < UInt64(1) << 36]) { _ in
      // An explanation that swaps in another model, as the DMA matrix does
      // when it looks for a silent corruption.
      _ = try session.minimize(bogus, variables: [(frame, [0])])
      return ("", nil, nil, [:])
    }
    #expect(finding.verdict == .unknown)
    #expect(finding.reason.contains("hypothesis"))
  }

  @Test("minimize keeps the counterexample's obligation: pinned values still refute the claim")
  func minimizeStaysACounterexample() throws {
    let session = try ProofSession(timeout: .seconds(10), seed: 1, dumpDirectory: nil)
    let frame = try session.word("frame")
    var values: [String: UInt64] = [:]
    let finding = try session.decide("small", claim: frame < 100, hypotheses: [frame < 1000]) { model in
      let small = try session.minimize(model, variables: [(frame, [0, 1, 100, 101])])
      values["frame"] = try small.value(of: frame.term)
      return ("", nil, nil, values)
    }
    #expect(finding.verdict == .refuted)
    #expect(finding.values["frame"] == 100)
  }
}
