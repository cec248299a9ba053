import P2MImpl
import Solver
import Spec
import SymbolicWord

/// The proofs' world for ``setEntryChunk(_:gfn:order:mfn:type:)``: every
/// part of a p2m's state that the step reads is a Z3 term, so `p2m.step`
/// quantifies over all of them at once (DESIGN.md §4: assume the invariant
/// and abstraction = spec, step, prove both again).
///
/// - descriptor memory: an unconstrained array from storage index
///   (`slot << 9 | entry`) to descriptor, constrained only by
///   ``P2MRepresentation``;
/// - the pool: which slots are free (an array), and the region's size
///   (``slotLimit``, symbolic);
/// - ghost state, which the concrete p2m does not keep but which exists for
///   every state the invariant admits: the level and GFN prefix each pool
///   page serves (`owner`), the tree shape Xen's walk relies on;
/// - `need_flush`, `max_mapped_gfn`, `lowest_mapped_gfn`;
/// - monitors of the order of effects: whether an IOTLB flush is owed
///   (a hardware-valid descriptor was replaced since the last one) and
///   whether something was released while it was (``P2MEvent/releaseBeforeIOTLBFlush(in:)``
///   on the concrete event log), and whether the CPU TLB was flushed.
///
/// Two operations are specified by their effect rather than executed
/// entry by entry, and the theorem's scope says so:
/// - allocation picks *any* free pool page, or fails (`p2m_alloc_page()`
///   on an empty list), as a fresh choice: the concrete FIFO is one of
///   the choices, so what holds here holds for it;
/// - `p2m_free_entry()` of a subtable returns every page whose owner lies
///   under the released entry to the pool (the concrete recursion frees
///   the reachable ones, a subset) and counts as one release, after a CPU
///   TLB flush if one is owed, as the recursion's `p2m_tlb_flush_sync()`.
struct SymbolicP2MTables: P2MTables {
  typealias W = SymbolicWord
  typealias Condition = SymbolicBool

  let geometry: StageTwoGeometry
  let rootPageCount: Int
  let iommuEnabled: Bool
  /// The latest releases' removal (from XSA-393, RELEASE-4.17.0): the
  /// step theorem is about Xen as it is now.
  let zeroesRemovedHardwareInvalidEntries = true
  let tableTemplate: UInt64
  let baseFrame: UInt64
  let templates: [(raw: UInt64, template: UInt64)]
  /// Follows one path per run; holds the run's fresh choices.
  let explorer: PathExplorer
  let context: Context
  /// Slots in the region: roots, then the pool (`p2m_total_pages`).
  let slotLimit: SymbolicWord

  /// The state's functions, each the unconstrained Z3 array it started
  /// from with this path's changes laid over it as `ite`s: a load is a
  /// chain as long as the writes to it, with no array stores or lambdas
  /// for the solver to reason about.
  var memory: (SymbolicWord) -> SymbolicWord
  var free: (SymbolicWord) -> SymbolicBool
  var ownerLevel: (SymbolicWord) -> SymbolicWord
  var ownerPrefix: (SymbolicWord) -> SymbolicWord
  var flushOwed: SymbolicBool
  var highestMapped: SymbolicWord
  var lowestMapped: SymbolicWord
  /// A hardware-valid descriptor was replaced and no IOTLB flush followed yet.
  var iotlbFlushOwed: SymbolicBool
  /// Something was released while ``iotlbFlushOwed`` held.
  var releasedBeforeIOTLBFlush: SymbolicBool
  /// `p2m_force_tlb_flush_sync()` ran.
  var tlbFlushed: SymbolicBool
  /// `iommu_iotlb_flush()` ran.
  var iotlbFlushed: SymbolicBool

  var zeroWord: SymbolicWord { SymbolicWord(0, in: context) }

  /// Every part of the state a fresh constant named after `prefix`.
  init(
    prefix: String, ipaBits: Int, baseFrame: UInt64, iommuEnabled: Bool, explorer: PathExplorer, context: Context
  ) throws {
    let geometry = try StageTwoGeometry(ipaBits: ipaBits)
    self.geometry = geometry
    rootPageCount = geometry.concatenatedRootTables
    self.iommuEnabled = iommuEnabled
    tableTemplate = try XenDescriptor.table(next: MFN(0))
    self.baseFrame = baseFrame
    templates = try P2MType.allCases.filter(\.isValid).map {
      (UInt64($0.rawValue), try XenDescriptor.leaf(for: P2MEntry(mfn: MFN(0), type: $0), level: 3))
    }
    self.explorer = explorer
    self.context = context
    let word = try context.bitVectorSort(width: 64)
    let words = try context.arraySort(domain: word, range: word)
    slotLimit = try SymbolicWord.variable("\(prefix).slots", in: context)
    let memoryArray = try context.constant("\(prefix).memory", sort: words)
    let freeArray = try context.constant("\(prefix).free", sort: context.arraySort(domain: word, range: context.boolSort))
    let levelArray = try context.constant("\(prefix).ownerLevel", sort: words)
    let prefixArray = try context.constant("\(prefix).ownerPrefix", sort: words)
    memory = { index in z3 { () throws(SolverError) in try SymbolicWord(memoryArray.select(index.term)) } }
    free = { slot in z3 { () throws(SolverError) in try SymbolicBool(freeArray.select(slot.term)) } }
    ownerLevel = { slot in z3 { () throws(SolverError) in try SymbolicWord(levelArray.select(slot.term)) } }
    ownerPrefix = { slot in z3 { () throws(SolverError) in try SymbolicWord(prefixArray.select(slot.term)) } }
    flushOwed = try SymbolicBool.variable("\(prefix).needFlush", in: context)
    highestMapped = try SymbolicWord.variable("\(prefix).maxMapped", in: context)
    lowestMapped = try SymbolicWord.variable("\(prefix).lowestMapped", in: context)
    let no = SymbolicBool(false, in: context)
    iotlbFlushOwed = no
    releasedBeforeIOTLBFlush = no
    tlbFlushed = no
    iotlbFlushed = no
  }

  static func select(_ c: SymbolicBool, _ a: SymbolicP2MTables, _ b: SymbolicP2MTables) -> SymbolicP2MTables {
    var merged = b
    merged.memory = { index in .select(c, a.memory(index), b.memory(index)) }
    merged.free = { slot in .select(c, a.free(slot), b.free(slot)) }
    merged.ownerLevel = { slot in .select(c, a.ownerLevel(slot), b.ownerLevel(slot)) }
    merged.ownerPrefix = { slot in .select(c, a.ownerPrefix(slot), b.ownerPrefix(slot)) }
    merged.flushOwed = .select(c, a.flushOwed, b.flushOwed)
    merged.highestMapped = .select(c, a.highestMapped, b.highestMapped)
    merged.lowestMapped = .select(c, a.lowestMapped, b.lowestMapped)
    merged.iotlbFlushOwed = .select(c, a.iotlbFlushOwed, b.iotlbFlushOwed)
    merged.releasedBeforeIOTLBFlush = .select(c, a.releasedBeforeIOTLBFlush, b.releasedBeforeIOTLBFlush)
    merged.tlbFlushed = .select(c, a.tlbFlushed, b.tlbFlushed)
    merged.iotlbFlushed = .select(c, a.iotlbFlushed, b.iotlbFlushed)
    return merged
  }

  // MARK: Reading

  func load(_ index: SymbolicWord) -> SymbolicWord { memory(index) }
  func isFree(_ slot: SymbolicWord) -> SymbolicBool { free(slot) }
  func owner(_ slot: SymbolicWord) -> (level: SymbolicWord, prefix: SymbolicWord) { (ownerLevel(slot), ownerPrefix(slot)) }

  /// A pool slot: after the roots, inside the region.
  func isPoolSlot(_ slot: SymbolicWord) -> SymbolicBool {
    slot >= UInt64(rootPageCount) && slot < slotLimit
  }

  func slot(ofTable descriptor: SymbolicWord) -> SymbolicWord {
    (XenDescriptor.outputBase(descriptor) >> pageShift) &- baseFrame
  }

  func frameAddress(ofSlot slot: SymbolicWord) -> SymbolicWord { (slot &+ baseFrame) << pageShift }

  func leafTemplate(type: SymbolicWord) -> SymbolicWord {
    var template = zeroWord
    for (raw, bits) in templates { template = .select(type == raw, zeroWord.constant(bits), template) }
    return template
  }

  // MARK: Changing

  mutating func write(_ index: SymbolicWord, _ descriptor: SymbolicWord) {
    iotlbFlushOwed = iotlbFlushOwed || XenDescriptor.isValid(load(index))
    let old = memory
    memory = { at in .select(at == index, descriptor, old(at)) }
  }

  /// `memory` with every entry of `slot` replaced by `entry(i)`. The page
  /// was zeroed when allocated, so no hardware-valid descriptor is
  /// replaced (the flush-order monitor needs no update).
  mutating func fillTable(slot: SymbolicWord, with entry: @escaping (SymbolicWord) -> SymbolicWord) {
    let old = memory
    memory = { at in .select((at >> 9) == slot, entry(at & 511), old(at)) }
  }

  mutating func allocateTable(level: Int, gfn: SymbolicWord) -> (slot: SymbolicWord, allocated: SymbolicBool) {
    let context = self.context
    explorer.freshCount += 1
    let n = explorer.freshCount
    let (slot, allocated) = z3 { () throws(SolverError) in
      (try SymbolicWord.variable("alloc\(n).slot", in: context), try SymbolicBool.variable("alloc\(n).ok", in: context))
    }
    explorer.assume(allocated.implies(isFree(slot) && isPoolSlot(slot)))
    guard explorer.decide(allocated) else { return (slot, allocated) }
    let (oldFree, oldLevel, oldPrefix) = (free, ownerLevel, ownerPrefix)
    let prefix = P2MRepresentation.prefix(of: gfn, tableLevel: level)
    free = { at in .select(at == slot, at.condition(false), oldFree(at)) }
    ownerLevel = { at in .select(at == slot, at.constant(UInt64(level)), oldLevel(at)) }
    ownerPrefix = { at in .select(at == slot, prefix, oldPrefix(at)) }
    fillTable(slot: slot) { index in index.constant(0) }
    return (slot, allocated)
  }

  mutating func releaseEntry(_ descriptor: SymbolicWord, level: Int) {
    let valid = isTypeValid(descriptor)
    let table = level < 3 ? valid && XenDescriptor.tableBit(descriptor) : valid.constant(false)
    let foreign = valid && (XenDescriptor.softwareType(descriptor) == UInt64(P2MType.mapForeignRW.rawValue)
      || XenDescriptor.softwareType(descriptor) == UInt64(P2MType.mapForeignRO.rawValue))
    let releases = table || (level >= 2 ? foreign : valid.constant(false))
    releasedBeforeIOTLBFlush = releasedBeforeIOTLBFlush || (releases && iotlbFlushOwed)
    guard level < 3, explorer.decide(table) else { return }
    // The recursion's p2m_tlb_flush_sync() before each page is freed.
    tlbFlushed = tlbFlushed || flushOwed
    flushOwed = flushOwed.constant(false)
    let top = slot(ofTable: descriptor)
    let topPrefix = ownerPrefix(top)
    let (oldFree, levels, prefixes) = (free, ownerLevel, ownerPrefix)
    let released = level + 1
    let (roots, limit) = (UInt64(rootPageCount), slotLimit)
    // Pages under the released entry: a deeper owner whose prefix, cut to
    // the released table's level, is that table's.
    free = { page in
      let pageLevel = levels(page)
      let pagePrefix = prefixes(page)
      // Levels are Swift integers here, so each cut is a shift by a constant.
      var under = page.condition(false)
      for deeper in released...3 {
        under = under || (pageLevel == UInt64(deeper) && (pagePrefix >> (9 * (deeper - released))) == topPrefix)
      }
      let pool: SymbolicBool = page >= roots && page < limit
      return oldFree(page) || (pool && under)
    }
  }

  /// One side per run: the explorer says which.
  mutating func when(_ condition: SymbolicBool, _ body: (inout SymbolicP2MTables) -> Void) {
    if explorer.decide(condition) { body(&self) }
  }

  mutating func forceTLBFlush() {
    tlbFlushed = tlbFlushed.constant(true)
    flushOwed = flushOwed.constant(false)
  }

  mutating func flushIOTLB(gfn: SymbolicWord, order: Int, modified: SymbolicBool, added: SymbolicBool) {
    iotlbFlushOwed = iotlbFlushOwed.constant(false)
    iotlbFlushed = iotlbFlushed.constant(true)
  }

  mutating func countMapping(level: Int, _ delta: Int) {}
  mutating func countShattered(level: Int) {}
}

/// The symbolic world's descriptor memory as the architectural walk reads
/// it: a physical address inside the region is its storage entry; outside,
/// memory reads as 0 (``TablePool/loadDescriptor(at:)``).
struct SymbolicP2MMemory: DescriptorMemory {
  let tables: SymbolicP2MTables

  func loadDescriptor(at physicalAddress: SymbolicWord) -> SymbolicWord {
    let slot = (physicalAddress >> pageShift) &- tables.baseFrame
    let index = (slot << 9) | ((physicalAddress >> 3) & 511)
    return .select(slot < tables.slotLimit, tables.load(index), tables.zeroWord)
  }
}

/// Runs a Z3 construction that cannot fail for well-formed terms of one
/// context; a failure is a bug in the proof code, reported with Z3's message.
func z3<T>(_ body: () throws(SolverError) -> T) -> T {
  do {
    return try body()
  } catch {
    preconditionFailure("Z3 rejected a well-formed construction: \(error)")
  }
}
