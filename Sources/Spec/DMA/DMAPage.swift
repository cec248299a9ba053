/// The page of dom0 memory a DMA reads the buffer's bytes from, or the
/// device's page of bus addresses.
public struct DMAPage<W: Word>: Mergeable {
  /// Whether the range has bytes in this page.
  public var active: W.Condition
  /// Index of the range's first byte in this page.
  public var firstByte: W
  /// How many of the range's bytes lie in this page (meaningless when not
  /// active).
  public var count: W
  /// The machine frame of ``firstByte`` (dom0 pages: through dom0's p2m;
  /// device pages: where the transaction landed) and its offset in the
  /// frame. Held apart, not as one address, so that the judgement compares
  /// frames and 12-bit offsets: the same statement, far cheaper for Z3
  /// than sums of 64-bit addresses.
  public var frame: W
  public var offset: W

  /// The machine address of ``firstByte``.
  public var address: W { (frame << pageShift) | offset }

  public static func select(_ condition: W.Condition, _ whenTrue: Self, _ whenFalse: Self) -> Self {
    Self(
      active: .select(condition, whenTrue.active, whenFalse.active),
      firstByte: .select(condition, whenTrue.firstByte, whenFalse.firstByte),
      count: .select(condition, whenTrue.count, whenFalse.count),
      frame: .select(condition, whenTrue.frame, whenFalse.frame),
      offset: .select(condition, whenTrue.offset, whenFalse.offset))
  }
}
