import Solver
import Spec

/// Descriptor memory as a Z3 array from 64-bit physical address to 64-bit
/// descriptor: the symbolic instance of ``Spec/DescriptorMemory`` (DESIGN.md
/// §3, "a concrete frame store, or a Z3 array").
///
/// A load reads the aligned doubleword containing the address: the array is
/// indexed by the address with bits 2:0 cleared, matching ``Spec/FrameStore``.
package struct SymbolicDescriptorMemory: DescriptorMemory {
  package typealias W = SymbolicWord

  package let context: Context
  /// The array term (sort `(Array (_ BitVec 64) (_ BitVec 64))`).
  package let array: Term
  /// The concrete tables this memory was built from, if any: loads at a
  /// known address are answered from them without building a term.
  let concrete: FrameStore?

  /// Memory with arbitrary contents: every descriptor unconstrained.
  package static func unconstrained(named name: String, in context: Context) throws(SolverError) -> SymbolicDescriptorMemory {
    let word = try context.bitVectorSort(width: 64)
    let sort = try context.arraySort(domain: word, range: word)
    return SymbolicDescriptorMemory(context: context, array: try context.constant(name, sort: sort), concrete: nil)
  }

  /// The tables of `store`: its non-zero descriptors stored over the
  /// all-zero array, so unwritten memory reads 0 as it does concretely.
  package init(_ store: FrameStore, in context: Context) throws(SolverError) {
    let word = try context.bitVectorSort(width: 64)
    var array = try context.constantArray(domain: word, value: context.bitVector(0, width: 64))
    for (address, descriptor) in store.nonZeroDescriptors {
      array = try array.store(context.bitVector(address, width: 64), context.bitVector(descriptor, width: 64))
    }
    self.init(context: context, array: array, concrete: store)
  }

  init(context: Context, array: Term, concrete: FrameStore?) {
    self.context = context
    self.array = array
    self.concrete = concrete
  }

  package func loadDescriptor(at physicalAddress: SymbolicWord) -> SymbolicWord {
    precondition(physicalAddress.context === context, "an address from another Z3 context")
    if let store = concrete, let address = physicalAddress.knownValue {
      return SymbolicWord(store.loadDescriptor(at: address), in: context)
    }
    let aligned = (physicalAddress & ~UInt64(7)).term
    return must { () throws(SolverError) in try SymbolicWord(array.select(aligned)) }
  }
}
