import Claims
import Spec

/// What every platform of the matrix shares.
enum MatrixConstants {
  /// Linux's swiotlb pool, 256 KiB: the largest single bounce
  /// (`IO_TLB_SEGSIZE` slots), so a larger pool adds only slots a fresh
  /// pool never uses.
  static let poolPages: UInt64 = 64
  /// The stream ID of the cell's device.
  static let stream: UInt64 = 0x10
  /// The guest that grants and lends its pages to dom0.
  static let guest = DomainID(1)
  /// The most host RAM a counterexample's platform may have for the spec
  /// to boot it (64 GiB): a direct-mapped boot costs the same at any size
  /// (the spec's p2m holds ranges), a coloured one about 40 ms and 4 MB per
  /// GiB, as the allocator places each page (BENCHMARKS.md, "Bounded
  /// resources"); a coloured counterexample boots twice (to narrow its
  /// frames, then in the replay).
  static let replayRAMPages: UInt64 = 0x100_0000
}
