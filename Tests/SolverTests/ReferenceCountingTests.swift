import Solver
import Testing

@Suite("Reference counting")
struct ReferenceCountingTests {
  @Test("10,000 terms created and dropped leave no Swift-held reference behind")
  func referencesReturnToBaseline() throws {
    let context = Context()
    let x = try context.bitVectorConstant("x", width: 64)
    let baseline = context.liveReferences
    for value in 0..<10_000 {
      _ = try (x + UInt64(value)) * UInt64(value | 1) == UInt64(value)
    }
    #expect(context.liveReferences == baseline)
  }

  /// Z3 reuses the ids of freed ASTs, so the largest id handed out bounds
  /// the number of ASTs alive in the context. If dropped terms were never
  /// released (a missing `Z3_dec_ref`), every round would take ~50,000 new
  /// ids and the bound would grow tenfold over ten rounds.
  @Test("repeating 10,000 fresh terms does not grow Z3's live term count")
  func liveTermsStayBounded() throws {
    let context = Context()
    let x = try context.bitVectorConstant("x", width: 64)
    func round(_ base: UInt64) throws -> UInt32 {
      var largest: UInt32 = 0
      for value in base..<(base + 10_000) {
        let term = try (x + value) * (value | 1) == value
        largest = max(largest, term.z3Identifier)
      }
      return largest
    }
    let afterFirst = try round(0)
    var afterEleven = afterFirst
    for index in 1...10 { afterEleven = max(afterEleven, try round(UInt64(index) * 1_000_000)) }
    #expect(afterEleven < afterFirst * 2, "largest AST id \(afterFirst) after one round, \(afterEleven) after eleven")
  }
}
