/// What dom0 Linux knows of the platform when it maps for DMA
/// (``SwiotlbXenOptions``), as conditions a proof may leave open.
public struct DMALinuxSettings<W: Word> {
  /// Xen implements GNTTABOP_cache_flush (probed by `xen_mm_init()`).
  public var hypercallCacheFlush: W.Condition
  /// `swiotlb=force`.
  public var forceBounce: W.Condition

  public init(hypercallCacheFlush: W.Condition, forceBounce: W.Condition) {
    self.hypercallCacheFlush = hypercallCacheFlush
    self.forceBounce = forceBounce
  }

  /// The concrete options.
  public init(_ options: SwiotlbXenOptions) where W == UInt64 {
    self.init(hypercallCacheFlush: options.hypercallCacheFlush, forceBounce: options.forceBounce)
  }
}
