/// A word that may mean nothing: `present` says whether `value` does.
///
/// What a lookup in the DMA's world answers: a p2m entry's frame (absent:
/// no entry), where a device transaction landed (absent: it faulted), a
/// bounce slot (absent: the pool is full).
public struct GuardedWord<W: Word>: Mergeable {
  public var present: W.Condition
  public var value: W

  public init(present: W.Condition, value: W) {
    self.present = present
    self.value = value
  }

  /// Absent. The value is 0, a constant, so that merging an absent answer
  /// adds no term to a symbolic one; `context` only gives the word's
  /// context.
  public static func absent(_ context: W) -> Self { Self(present: context.condition(false), value: context.constant(0)) }

  public static func select(_ condition: W.Condition, _ whenTrue: Self, _ whenFalse: Self) -> Self {
    Self(
      present: W.Condition.select(condition, whenTrue.present, whenFalse.present),
      value: W.select(condition, whenTrue.value, whenFalse.value))
  }
}

/// What the page-level DMA (``runDMAPages(_:buffer:size:path:device:options:access:ideal:maximumPages:maximumSlotPages:)``)
/// reads of the world it runs in, and nothing more: dom0's p2m, Linux's
/// grant tree, the SMMU's answer to a transaction and the swiotlb pool.
///
/// The scenario runner and the fuzzers run the DMA over the concrete world
/// (`UInt64`, the spec's Xen state, stream resolution and stage-2 walk);
/// the proofs run the same function over a symbolic one (Z3 bit-vectors),
/// so what is proved is what runs (DESIGN.md §3, "One source, two
/// semantics").
public protocol DMAWorld {
  associatedtype Address: Word

  /// Dom0's p2m at `gfn` as dom0's CPU reads it: the machine frame that
  /// holds the page, the ideal location of its bytes (DESIGN.md §2).
  func dom0Frame(_ gfn: Address) -> GuardedWord<Address>

  /// Linux's `pfn_to_bfn(pfn)` (include/xen/arm/page.h, §3.2).
  func pfnToBfn(_ pfn: Address) -> Address

  /// The machine address a transaction of the DMA's device to
  /// `busAddress` reaches, or absent when the SMMU faults or aborts it
  /// (§6.1, §6.4). A world may record what happened (the stream, the
  /// fault) for its report.
  mutating func deviceTransaction(_ busAddress: Address, access: Access) throws(DMARequestError) -> GuardedWord<Address>

  /// `swiotlb_tbl_map_single()`'s slot for a mapping of `size` bytes: the
  /// dom0 physical address of the slot, or absent when the pool cannot
  /// hold it. Called only when swiotlb-xen bounces.
  mutating func mapBounceSlot(size: Address) -> GuardedWord<Address>
}
