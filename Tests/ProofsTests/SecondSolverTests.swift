import Solver
import Spec
import SymbolicWord
import Testing

@testable import Proofs

/// Bitwuzla answers yes or no on the query Z3 holds; Z3 keeps every
/// counterexample. CI installs Bitwuzla (`pip install bitwuzla==0.10.0`),
/// so these tests require it.
@Suite("A second solver")
struct SecondSolverTests {
  @Test("Bitwuzla starts, names its version and decides sat and unsat on Z3's query text")
  func oracle() throws {
    let oracle = try SMTLibOracle.bitwuzla()
    defer { oracle.stop() }
    #expect(oracle.name.hasPrefix("Bitwuzla "))
    let context = Context()
    let x = try context.bitVectorConstant("x", width: 64)
    let sat = try Solver(context: context)
    try sat.assert(x * 3 == 21)
    #expect(oracle.check(sat, timeout: .seconds(10)) == .sat)
    let unsat = try Solver(context: context)
    try unsat.assert((x * 2) & 1 == 1)
    #expect(oracle.check(unsat, timeout: .seconds(10)) == .unsat)
    // The helper serves query after query.
    #expect(oracle.check(sat, timeout: .seconds(10)) == .sat)
  }

  @Test("a Python that cannot run the helper is unavailable, with the reason")
  func unavailable() {
    #expect {
      try SMTLibOracle.bitwuzla(python: "/bin/false")
    } throws: { error in
      (error as? SolverError)?.kind == .unavailable
    }
  }

  @Test("a proof Bitwuzla answers is counted as Bitwuzla's; a refutation is Z3's model, checked")
  func deciders() throws {
    let session = try ProofSession(timeout: .seconds(10), seed: 1, dumpDirectory: nil, secondSolver: .on)
    let frame = try session.word("frame")
    let proved = try session.decide("proved", claim: (frame &* 2) != 7, hypotheses: [frame < 100], freshSolvers: true)
    #expect(proved.verdict == .proved)
    let refuted = try session.decide("refuted", claim: frame != 7, hypotheses: [frame < 100], freshSolvers: true) { model in
      ("", nil, nil, ["frame": try model.value(of: frame.term)])
    }
    #expect(refuted.verdict == .refuted)
    #expect(refuted.values["frame"] == 7)
    #expect(session.deciders.count == 2)
    #expect(session.deciders.keys.contains { $0.hasPrefix("Bitwuzla ") })
    #expect(session.deciders.keys.contains { $0.hasPrefix("Z3 ") })
  }

  @Test("with the second solver off, Z3 decides everything")
  func off() throws {
    let session = try ProofSession(timeout: .seconds(10), seed: 1, dumpDirectory: nil, secondSolver: .off)
    let frame = try session.word("frame")
    #expect(try session.decide("proved", claim: (frame &* 2) != 7, hypotheses: [frame < 100], freshSolvers: true).verdict == .proved)
    #expect(session.deciders.keys.allSatisfy { $0.hasPrefix("Z3 ") })
  }

  @Test("when the solvers disagree the claim is unknown, never proved or refuted")
  func disagreement() throws {
    let session = try ProofSession(timeout: .seconds(10), seed: 1, dumpDirectory: nil, secondSolver: .on)
    session.secondOpinionOverride = { _ in .sat }
    let frame = try session.word("frame")
    let finding = try session.decide("true claim", claim: (frame &* 2) != 7, hypotheses: [frame < 100], freshSolvers: true)
    #expect(finding.verdict == .unknown)
    #expect(finding.reason.contains("disagree"))
  }

  @Test("Bitwuzla's unsat on the hypotheses is not taken alone: Z3 confirms a vacuous claim")
  func vacuousConfirmed() throws {
    let session = try ProofSession(timeout: .seconds(10), seed: 1, dumpDirectory: nil, secondSolver: .on)
    session.secondOpinionOverride = { _ in .unsat }
    let frame = try session.word("frame")
    // Satisfiable hypotheses: Z3's check overrules a (wrong) unsat, and the
    // claim's unsat from the "second solver" proves it.
    let finding = try session.decide("claim", claim: frame != 200, hypotheses: [frame < 100], freshSolvers: true)
    #expect(finding.verdict == .proved)
  }
}
