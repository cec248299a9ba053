import Foundation
import Solver
import Testing

@Suite("Solver")
struct SolverTests {
  let context = Context()

  @Test("x + 1 == 5 is satisfiable and the model reads back x = 4")
  func satisfiableWithModel() throws {
    let x = try context.bitVectorConstant("x", width: 64)
    let solver = try Solver(context: context)
    try solver.assert(x + 1 == 5)
    let model = try #require(try solver.check().model)
    #expect(try model.value(of: x) == 4)
    #expect(try model.assignments().map(\.name) == ["x"])
  }

  @Test("x < 3 and x > 5 (unsigned) is unsat")
  func unsatisfiable() throws {
    let x = try context.bitVectorConstant("x", width: 16)
    let solver = try Solver(context: context)
    try solver.assert(x.ult(context.bitVector(3, width: 16)) && x.ugt(context.bitVector(5, width: 16)))
    #expect(try solver.check().isUnsat)
  }

  @Test("signed and unsigned comparisons differ on 0x80")
  func signedVersusUnsigned() throws {
    let big = try context.bitVector(0x80, width: 8)
    let one = try context.bitVector(1, width: 8)
    let solver = try Solver(context: context)
    #expect(try solver.prove(one.ult(big)).isProved)
    #expect(try solver.prove(big.slt(one)).isProved)
    #expect(try solver.prove(big.sge(one)).counterexample != nil)
  }

  @Test("push and pop drop the inner assertions")
  func scopes() throws {
    let x = try context.bitVectorConstant("x", width: 8)
    let solver = try Solver(context: context)
    try solver.assert(x == 1)
    try solver.withScope {
      try solver.assert(x == 2)
      #expect(try solver.check().isUnsat)
      #expect(solver.scopeCount == 1)
    }
    #expect(solver.scopeCount == 0)
    #expect(try solver.check().model != nil)
    #expect(throws: SolverError.self) { try solver.pop() }
  }

  @Test("a hard query under a 1 ms timeout is unknown, never proved")
  func timeoutIsUnknown() throws {
    // Factoring a 64-bit semiprime (two 32-bit primes): far beyond 1 ms.
    let width = 64
    let p = try context.bitVectorConstant("p", width: width)
    let q = try context.bitVectorConstant("q", width: width)
    let n: UInt64 = 4_294_967_291 &* 4_294_967_279
    let bound = try context.bitVector(1 << 32, width: width)
    let two = try context.bitVector(2, width: width)
    let hypotheses = [try p.ult(bound), try q.ult(bound), try p.uge(two), try q.uge(two)]
    let solver = try Solver(context: context, timeout: .milliseconds(1), randomSeed: 7)
    let result = try solver.prove(p * q != n, assuming: hypotheses)
    guard case .unknown(let reason) = result else {
      Issue.record("expected unknown under a 1 ms timeout, got \(result)")
      return
    }
    #expect(!reason.isEmpty)
  }

  @Test("contradictory hypotheses are vacuous, not proved")
  func vacuousProof() throws {
    let x = try context.bitVectorConstant("x", width: 8)
    let solver = try Solver(context: context)
    let result = try solver.prove(x == 7, assuming: [x == 1, x == 2])
    guard case .vacuous = result else {
      Issue.record("expected vacuous, got \(result)")
      return
    }
  }

  @Test("a sort mismatch throws with Z3's message")
  func sortMismatchThrows() throws {
    let wide = try context.bitVectorConstant("wide", width: 32)
    let narrow = try context.bitVectorConstant("narrow", width: 8)
    let error = #expect(throws: SolverError.self) { try wide + narrow }
    #expect(error?.kind == .sortMismatch)
    // Z3's own wording (4.8.12): the argument "does not match declaration"
    // of bvadd over two 32-bit vectors.
    #expect(error?.message.contains("does not match declaration") == true)
    #expect(error?.message.contains("(_ BitVec 32)") == true)
    let boolean = try context.bool(true)
    #expect(throws: SolverError.self) { try wide == boolean }
  }

  @Test("a bad extract throws instead of aborting")
  func badExtractThrows() throws {
    let x = try context.bitVectorConstant("x", width: 8)
    #expect(throws: SolverError.self) { try x.extract(high: 8, low: 0) }
    #expect(throws: SolverError.self) { try x.extract(high: 2, low: 3) }
    #expect(try x.extract(high: 7, low: 4).bitVectorWidth == 4)
  }

  @Test("literals that do not fit are rejected")
  func literalRange() throws {
    #expect(throws: SolverError.self) { try context.bitVector(256, width: 8) }
    #expect(throws: SolverError.self) { try context.bitVector(0, width: 65) }
    #expect(throws: SolverError.self) { try context.bitVectorSort(width: 0) }
    #expect(try context.bitVector(255, width: 8).literalValue == 255)
  }

  @Test("terms from two contexts are refused")
  func contextMixing() throws {
    let other = Context()
    let a = try context.bitVectorConstant("a", width: 8)
    let b = try other.bitVectorConstant("b", width: 8)
    let error = #expect(throws: SolverError.self) { try a + b }
    #expect(error?.kind == .invalidUsage)
  }

  @Test("width changes: concat, zero and sign extension")
  func widthChanges() throws {
    let high = try context.bitVector(0xAB, width: 8)
    let low = try context.bitVector(0xCD, width: 8)
    let solver = try Solver(context: context)
    #expect(try solver.prove(high.concat(low) == context.bitVector(0xABCD, width: 16)).isProved)
    #expect(try solver.prove(high.zeroExtended(by: 8) == context.bitVector(0x00AB, width: 16)).isProved)
    #expect(try solver.prove(high.signExtended(by: 8) == context.bitVector(0xFFAB, width: 16)).isProved)
  }

  @Test("arrays: select of store, constant arrays")
  func arrays() throws {
    let bv64 = try context.bitVectorSort(width: 64)
    let memory = try context.constant("memory", sort: context.arraySort(domain: bv64, range: bv64))
    let address = try context.bitVectorConstant("address", width: 64)
    let other = try context.bitVectorConstant("other", width: 64)
    let value = try context.bitVector(42, width: 64)
    let stored = try memory.store(address, value)
    let solver = try Solver(context: context)
    #expect(try solver.prove(stored.select(address) == 42).isProved)
    #expect(try solver.prove((address != other).implies(stored.select(other) == memory.select(other))).isProved)
    let zeros = try context.constantArray(domain: bv64, value: context.bitVector(0, width: 64))
    #expect(try solver.prove(zeros.select(other) == 0).isProved)
  }

  @Test("fresh constants are distinct from named ones")
  func freshConstants() throws {
    let sort = try context.bitVectorSort(width: 8)
    let a = try context.freshConstant("v", sort: sort)
    let b = try context.freshConstant("v", sort: sort)
    #expect(!a.isIdentical(to: b))
    let solver = try Solver(context: context)
    #expect(try solver.prove(a == b).counterexample != nil)
  }

  @Test("a query dumps as SMT-LIB 2 that names it and ends in check-sat")
  func smtLibDump() throws {
    let x = try context.bitVectorConstant("x", width: 8)
    let solver = try Solver(context: context, randomSeed: 3)
    try solver.assert(x == 9)
    let text = solver.smtLib2(named: "walk.equivalence")
    #expect(text.hasPrefix("; query: walk.equivalence\n"))
    #expect(text.contains("(declare-fun x () (_ BitVec 8))"))
    #expect(text.hasSuffix("(check-sat)\n"))
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("dmaverify-smt-\(UInt32.random(in: 0...UInt32.max))")
    defer { try? FileManager.default.removeItem(at: directory) }
    let url = try solver.dumpSMTLib2(named: "walk equivalence", into: directory)
    #expect(url.lastPathComponent == "walk_equivalence.smt2")
    #expect(try String(contentsOf: url, encoding: .utf8) == solver.smtLib2(named: "walk equivalence"))
  }

  @Test("firstViolated names the first condition a model does not satisfy, with model completion")
  func modelChecking() throws {
    let x = try context.bitVectorConstant("x", width: 64)
    let y = try context.bitVectorConstant("y", width: 64)
    let solver = try Solver(context: context)
    try solver.assert(x == 9)
    let model = try #require(try solver.check().model)
    let nine = try context.bitVector(9, width: 64)
    let ten = try context.bitVector(10, width: 64)
    #expect(try Solver.firstViolated([try x == nine, try x.ult(ten)], by: model) == nil)
    #expect(try Solver.firstViolated([try x == nine, try x.ugt(ten), try x == ten], by: model) == 1)
    // y is not in the model: completion makes it 0, so y == 0 holds.
    #expect(try Solver.firstViolated([try y == 0], by: model) == nil)
  }
}
