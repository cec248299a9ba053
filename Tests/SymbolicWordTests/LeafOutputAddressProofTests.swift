import Solver
import Spec
import SymbolicWord
import Testing

/// The output-address rule written independently of ``leafOutputAddress``:
/// with Z3's own extract and concat rather than masks (fact sheet §7.1:
/// L1 block OA[47:30], L2 block OA[47:21], L3 page OA[47:12]).
func referenceOutputAddress(descriptor: Term, inputAddress: Term, level: Int) throws -> Term {
  let offsetBits = [1: 30, 2: 21, 3: 12][level]!
  let frame = try descriptor.extract(high: 47, low: offsetBits)
  let offset = try inputAddress.extract(high: offsetBits - 1, low: 0)
  return try frame.concat(offset).zeroExtended(by: 16)
}

/// A deliberately wrong variant: the frame field starts one bit too low, as
/// if an L2 block were decoded with a 20-bit offset.
func misplacedOutputAddress<W: Word>(descriptor: W, inputAddress: W, level: Int) -> W {
  let offsetBits = 12 + 9 * (3 - level) - 1
  return (descriptor & bitMask(high: 47, low: offsetBits)) | (inputAddress & bitMask(high: offsetBits - 1, low: 0))
}

@Suite("Leaf output address: one function, run and proved")
struct LeafOutputAddressProofTests {
  let context = Context()

  @Test("proved equal to the extract/concat formula for every descriptor and address", arguments: [1, 2, 3])
  func provedForAllInputs(level: Int) throws {
    let descriptor = try SymbolicWord.variable("descriptor", in: context)
    let address = try SymbolicWord.variable("address", in: context)
    let generic = leafOutputAddress(descriptor: descriptor, inputAddress: address, level: level)
    let reference = try referenceOutputAddress(descriptor: descriptor.term, inputAddress: address.term, level: level)
    let solver = try Solver(context: context, timeout: .seconds(30), randomSeed: 1)
    let result = try solver.prove(generic.term == reference)
    #expect(result.isProved, "level \(level): \(result)")
  }

  @Test("a wrong variant is refuted, and its counterexample differs when run concretely", arguments: [1, 2, 3])
  func wrongVariantRefuted(level: Int) throws {
    let descriptor = try SymbolicWord.variable("descriptor", in: context)
    let address = try SymbolicWord.variable("address", in: context)
    let wrong = misplacedOutputAddress(descriptor: descriptor, inputAddress: address, level: level)
    let reference = try referenceOutputAddress(descriptor: descriptor.term, inputAddress: address.term, level: level)
    let solver = try Solver(context: context, timeout: .seconds(30), randomSeed: 1)
    let model = try #require(try solver.prove(wrong.term == reference).counterexample)
    let d = try model.value(of: descriptor.term)
    let a = try model.value(of: address.term)
    // Replayed on the concrete word, the counterexample shows the bug.
    #expect(
      misplacedOutputAddress(descriptor: d, inputAddress: a, level: level)
        != leafOutputAddress(descriptor: d, inputAddress: a, level: level),
      "descriptor \(d) address \(a)")
    #expect(try model.value(of: reference) == leafOutputAddress(descriptor: d, inputAddress: a, level: level))
  }
}
