/// Dom0 Linux's side of a running scenario, for oracles that must know
/// which DMA path and bounce pool a DMA will meet before it runs.
extension ScenarioExecution {
  /// The DMA policy dom0's Linux follows (`linux` statement).
  public var linuxPolicy: DMAPolicy { machine.policy }

  /// Whether Xen offers `GNTTABOP_cache_flush` (`hypercall-cflush`).
  public var offersHypercallCacheFlush: Bool { machine.hypercallCacheFlush }

  /// Linux's swiotlb bounce pool, once dom0 exists.
  public var bouncePool: SwiotlbPool? { machine.system?.pool }
}
