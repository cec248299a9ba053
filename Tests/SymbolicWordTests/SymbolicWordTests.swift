import Solver
import Spec
import SymbolicWord
import Testing

/// One generic body, run on the concrete and the symbolic word.
func everyOperation<W: Word>(_ a: W, _ b: W, shift: W) -> [(String, W)] {
  [
    ("add", a &+ b), ("sub", a &- b), ("mul", a &* b),
    ("and", a & b), ("or", a | b), ("xor", a ^ b), ("not", ~a),
    ("shl", a.shiftedLeft(by: shift)), ("lshr", a.logicalShiftedRight(by: shift)),
    ("ashr", a.arithmeticShiftedRight(by: shift)),
    ("shl-any", a.shiftedLeft(by: b)), ("lshr-any", a.logicalShiftedRight(by: b)),
    ("extract", a.extract(high: 47, low: 12)), ("extract-all", a.extract(high: 63, low: 0)),
    ("extract-bit", a.extract(high: 63, low: 63)),
    ("concat", a.concat(low: b, lowWidth: 21)), ("zext", a.zeroExtended(fromWidth: 36)),
    ("sext", a.signExtended(fromWidth: 40)), ("sext-1", a.signExtended(fromWidth: 1)),
    ("const-and", a & 0xFFFF_F000), ("const-add", a &+ 0x1000),
    ("select", W.select(a.ult(b), a, b)),
  ]
}

func everyComparison<W: Word>(_ a: W, _ b: W) -> [(String, W.Condition)] {
  [
    ("eq", a == b), ("ne", a != b), ("ult", a.ult(b)), ("ule", a.ule(b)), ("ugt", a.ugt(b)),
    ("uge", a.uge(b)), ("slt", a.slt(b)), ("sle", a.sle(b)), ("sgt", a.sgt(b)), ("sge", a.sge(b)),
    ("and", a.ult(b) && a.bit(3)), ("or", a.ult(b) || a.bit(3)), ("not", !a.bit(0)),
    ("iff", a.ult(b).isEqual(to: a.bit(3))),
  ]
}

@Suite("Symbolic word")
struct SymbolicWordTests {
  let context = Context()

  /// Interesting values first (edges of signed and unsigned ranges), then random.
  static func samples(seed: UInt64, count: Int) -> [(UInt64, UInt64, UInt64)] {
    var random = SplitMix64(seed: seed)
    let edges: [UInt64] = [0, 1, 63, 64, 65, 0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000, .max]
    var result: [(UInt64, UInt64, UInt64)] = []
    for a in edges { for b in edges { result.append((a, b, b & 127)) } }
    while result.count < count {
      result.append((random.next(), random.next() >> (random.next() % 64), random.next() % 80))
    }
    return result
  }

  @Test("every operation gives the same answer concretely and by evaluating its term (seed 0x5eed)")
  func concreteEqualsSymbolic() throws {
    let a = try SymbolicWord.variable("a", in: context)
    let b = try SymbolicWord.variable("b", in: context)
    let shift = try SymbolicWord.variable("shift", in: context)
    let symbolic = everyOperation(a, b, shift: shift)
    let comparisons = everyComparison(a, b)
    let solver = try Solver(context: context)
    for (va, vb, vs) in Self.samples(seed: 0x5eed, count: 200) {
      let concrete = everyOperation(va, vb, shift: vs)
      let concreteComparisons = everyComparison(va, vb)
      try solver.withScope {
        try solver.assert(a.term == va)
        try solver.assert(b.term == vb)
        try solver.assert(shift.term == vs)
        let model = try #require(try solver.check().model)
        for ((name, term), (_, value)) in zip(symbolic, concrete) {
          #expect(try model.value(of: term.term) == value, "\(name)(\(va), \(vb), shift \(vs))")
        }
        for ((name, term), (_, value)) in zip(comparisons, concreteComparisons) {
          #expect(try model.bool(of: term.term) == value, "\(name)(\(va), \(vb))")
        }
      }
    }
  }

  @Test("known words fold without building a single Z3 term")
  func concreteRunBuildsNoTerms() {
    let baseline = context.liveReferences
    let descriptor = SymbolicWord(0x0000_0040_8765_4F7F, in: context)
    let address = SymbolicWord(0x1234_5678, in: context)
    let everything = everyOperation(descriptor, address, shift: descriptor.constant(9))
    let result = leafOutputAddress(descriptor: descriptor, inputAddress: address, level: 3)
    #expect(everything.allSatisfy { $0.1.knownValue != nil })
    #expect(result.knownValue == leafOutputAddress(descriptor: UInt64(0x0000_0040_8765_4F7F), inputAddress: 0x1234_5678, level: 3))
    #expect(context.liveReferences == baseline)
  }

  @Test("branch runs one side for a known condition and merges both for a symbolic one")
  func branchCombinator() throws {
    var sidesRun = 0
    let x = try SymbolicWord.variable("x", in: context)
    let known: SymbolicWord = branch(x.constant(1) == 1, then: { sidesRun += 1; return x }, else: { sidesRun += 1; return x.constant(0) })
    #expect(sidesRun == 1)
    #expect(known.term.isIdentical(to: x.term))

    sidesRun = 0
    let merged: SymbolicWord = branch(x.ult(x.constant(10)), then: { sidesRun += 1; return x &+ 1 }, else: { sidesRun += 1; return x.constant(0) })
    #expect(sidesRun == 2)
    let solver = try Solver(context: context)
    let expected = try Term.ite(x.term.ult(context.bitVector(10, width: 64)), x.term + 1, context.bitVector(0, width: 64))
    #expect(try solver.prove(merged.term == expected).isProved)

    var concreteSides = 0
    let concrete: UInt64 = branch(UInt64(3) < 10, then: { concreteSides += 1; return 4 }, else: { concreteSides += 1; return 0 })
    #expect(concrete == 4 && concreteSides == 1)
  }

  @Test("a pair of words merges component-wise")
  func mergeablePair() throws {
    let x = try SymbolicWord.variable("x", in: context)
    let condition = x == 5
    let pair = MergeablePair.select(condition, MergeablePair(x, x.constant(1)), MergeablePair(x.constant(2), x))
    let solver = try Solver(context: context)
    try solver.assert(x.term == 5)
    let model = try #require(try solver.check().model)
    #expect(try model.value(of: pair.first.term) == 5)
    #expect(try model.value(of: pair.second.term) == 1)
  }

  @Test("a word must be a 64-bit bit-vector")
  func wrongWidthRejected() throws {
    let narrow = try context.bitVectorConstant("narrow", width: 32)
    #expect(throws: SolverError.self) { try SymbolicWord(narrow) }
    #expect(throws: SolverError.self) { try SymbolicBool(narrow) }
  }
}
