import Spec

/// An SMMUv2's stream mapping (SMRs and S2CRs) with a precomputed answer
/// to "which stream map entry does stream *s* hit", so resolving a stream
/// is one table load instead of a scan of every SMR.
///
/// Matching is the architecture's (ARM IHI 0062, stream mapping): a valid
/// SMR matches when `(stream ^ SMR.ID) & ~SMR.MASK == 0`; no match →
/// sCR0.USFCFG decides (Xen: 1, fault); two or more → stream match
/// conflict, modelled as a fault as the spec does [uncertain there too].
/// Xen writes `{id, mask 0}` up to 4.19 ("We don't currently share SMRs",
/// `arm_smmu_master_alloc_smes()`) and a device tree's `{id, mask}` from
/// 4.20 (`ef3b4768b3`); arbitrary registers are accepted too, so a
/// scenario can show what any masks do.
///
/// The table covers streams below 2^min(streamIDBits, 16) — all of an
/// SMMUv2's, whose SMR.ID is 15 bits (16 with EXIDS). A wider stream, which
/// only hand-set registers could match, is resolved by scanning. The table
/// is kept exact incrementally: writing SMR *i* recomputes only the streams
/// its old and new values match (2^popcount(mask) each).
struct StreamMatchTable: Sendable {
  private(set) var smrs: [StreamMatchRegister?]
  /// Per stream below `coverage`: the matching SME, `none` or `conflict`.
  private var entryOf: ContiguousArray<Int16>
  let coverage: UInt32

  static let none: Int16 = -1
  static let conflict: Int16 = -2

  /// The largest number of SMEs the Int16 table can name; SMMUv2 has at
  /// most 128 (SMMU_IDR0.NUMSMRG).
  static let maximumEntries = Int(Int16.max)

  /// - Precondition: `smrs.count <= maximumEntries` (callers refuse more).
  init(smrs: [StreamMatchRegister?], streamIDBits: Int) {
    self.smrs = smrs
    coverage = UInt32(1) << UInt32(min(max(streamIDBits, 0), 16))
    entryOf = ContiguousArray(repeating: Self.none, count: Int(coverage))
    for index in smrs.indices { refresh(smrs[index]) }
  }

  /// The SME `stream` hits, `none` or `conflict`.
  @inline(__always)
  func entry(for stream: StreamID) -> Int16 {
    stream < coverage ? entryOf[Int(stream)] : scan(stream)
  }

  /// Every SME whose SMR matches `stream`, for a conflict's report.
  func matchingEntries(_ stream: StreamID) -> [Int] {
    smrs.indices.filter { smrs[$0]?.matches(stream) ?? false }
  }

  private func scan(_ stream: StreamID) -> Int16 {
    var found = Self.none
    for (index, smr) in smrs.enumerated() where smr?.matches(stream) ?? false {
      if found != Self.none { return Self.conflict }
      found = Int16(index)
    }
    return found
  }

  /// `arm_smmu_find_sme()` over the SMRs with `pending` written over them
  /// (the SMRs Xen has claimed but not yet written to the hardware):
  /// the first valid SMR entirely matching `request`, −EINVAL for one
  /// overlapping it otherwise, else the first invalid entry
  /// (``SMMU/findStreamMapEntry(for:in:)`` is the spec's).
  func find(_ request: StreamMatchRegister, pending: [Int: StreamMatchRegister]) -> StreamMapEntrySearch {
    var free: Int?
    for index in smrs.indices {
      guard let smr = pending[index] ?? smrs[index] else {
        if free == nil { free = index }
        continue
      }
      // Inside: every bit the request leaves free, the SMR leaves free too,
      // and they agree on the bits the SMR fixes.
      let inside = request.mask & ~smr.mask == 0 && (request.id ^ smr.id) & ~smr.mask == 0
      if inside { return .entry(index) }
      if (request.id ^ smr.id) & ~(smr.mask | request.mask) == 0 { return .partialOverlap(entry: index) }
    }
    if let free { return .entry(free) }
    return .full
  }

  /// Writes SMR `index` (SMR.VALID = 0 when nil).
  mutating func set(_ smr: StreamMatchRegister?, at index: Int) {
    let old = smrs[index]
    smrs[index] = smr
    refresh(old)
    refresh(smr)
  }

  /// Recomputes the table for every covered stream `smr` matches.
  private mutating func refresh(_ smr: StreamMatchRegister?) {
    guard let smr else { return }
    let coverage = coverage
    Self.forEachStream(matching: smr, below: coverage) { entryOf[Int($0)] = scan($0) }
  }

  /// Calls `body` with every stream below `coverage` (a power of two) that
  /// `smr` matches: 2^popcount(mask) of them at most.
  static func forEachStream(matching smr: StreamMatchRegister, below coverage: UInt32, _ body: (StreamID) -> Void) {
    let fixed = smr.id & ~smr.mask
    // A covered stream has no bits at or above `coverage`, so the SMR's
    // unmasked high ID bits must be zero for it to match any.
    guard fixed < coverage else { return }
    let free = smr.mask & (coverage - 1)
    // Enumerate the subsets of `free` (Gosper-style submask walk).
    var subset: UInt32 = 0
    repeat {
      body(fixed | subset)
      subset = (subset &- free) & free
    } while subset != 0
  }
}
