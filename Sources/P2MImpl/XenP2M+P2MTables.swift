import Spec

/// The concrete world of the chunk step: the p2m's own flat table array,
/// FIFO pool, TLB, event log and counters. Every requirement is the
/// function the p2m used before the step became generic, so the specialised
/// step is the same code path (BENCHMARKS.md, P2MBenchmarks).
extension XenP2M: P2MTables {
  public typealias Condition = Bool
  package typealias W = UInt64

  /// Never called concretely: ``P2MTables/when(_:_:)`` runs one side.
  public static func select(_ condition: Bool, _ whenTrue: XenP2M, _ whenFalse: XenP2M) -> XenP2M {
    condition ? whenTrue : whenFalse
  }

  package var rootPageCount: Int { memory.rootPages }
  package var zeroWord: UInt64 { 0 }

  package func load(_ index: UInt64) -> UInt64 { memory.storage[Int(truncatingIfNeeded: index)] }

  package mutating func write(_ index: UInt64, _ descriptor: UInt64) {
    writeEntry(Int(truncatingIfNeeded: index), descriptor)
  }

  package mutating func fillTable(slot: UInt64, with entry: @escaping (UInt64) -> UInt64) {
    let first = Int(truncatingIfNeeded: slot) << 9
    for child in 0..<TablePool.entriesPerTable { writeEntry(first | child, entry(UInt64(child))) }
  }

  /// A table entry the p2m itself wrote; one pointing outside the region
  /// is corruption.
  package func slot(ofTable descriptor: UInt64) -> UInt64 {
    guard let slot = memory.slot(of: MFN(XenDescriptor.outputBase(descriptor) >> pageShift)) else {
      preconditionFailure("a table entry \(hex(descriptor)) points outside the p2m's table region")
    }
    return UInt64(slot)
  }

  package func frameAddress(ofSlot slot: UInt64) -> UInt64 { memory.frame(ofSlot: Int(truncatingIfNeeded: slot)).address }

  package mutating func allocateTable(level: Int, gfn: UInt64) -> (slot: UInt64, allocated: Bool) {
    guard let slot = allocateTable() else { return (0, false) }
    return (UInt64(slot), true)
  }

  package mutating func releaseEntry(_ descriptor: UInt64, level: Int) { freeEntry(descriptor, level: level) }

  package var flushOwed: Bool {
    get { needFlush }
    set { needFlush = newValue }
  }

  package mutating func flushIOTLB(gfn: UInt64, order: Int, modified: Bool, added: Bool) {
    flushIOTLB(IOTLBFlush(gfn: GFN(gfn), pageCount: 1 << UInt64(order), modified: modified, added: added))
  }

  package var highestMapped: UInt64 {
    get { rawMaxMappedGFN }
    set { rawMaxMappedGFN = newValue }
  }

  package var lowestMapped: UInt64 {
    get { rawLowestMappedGFN }
    set { rawLowestMappedGFN = newValue }
  }

  package func leafTemplate(type: UInt64) -> UInt64 { leafTemplates[Int(truncatingIfNeeded: type & 0xF)] }

  package mutating func countMapping(level: Int, _ delta: Int) { counters.mappings[level] += delta }

  package mutating func countShattered(level: Int) {
    counters.shattered[level] += 1
    counters.mappings[level] -= 1
    counters.mappings[level + 1] += TablePool.entriesPerTable
  }
}
