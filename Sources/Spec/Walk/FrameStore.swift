/// Concrete machine memory holding page tables: a sparse map from frame to
/// its 512 descriptors. Unwritten memory reads as 0, an invalid descriptor,
/// as freshly scrubbed pages do (Xen clears new table pages with
/// `clear_and_clean_page()` in `p2m_create_table()`).
public struct FrameStore: DescriptorMemory, Hashable, Sendable {
  public typealias W = UInt64

  /// Descriptors per 4K table (`XEN_PT_LPAE_ENTRIES`).
  public static let entriesPerTable = 512

  var tables: [MFN: [UInt64]] = [:]

  public init() {}

  /// Frames that have been written, in ascending order.
  public var frames: [MFN] { tables.keys.sorted() }

  public func loadDescriptor(at physicalAddress: UInt64) -> UInt64 {
    let frame = MFN(physicalAddress >> UInt64(pageShift))
    let index = Int((physicalAddress & (pageSize - 1)) >> 3)
    return tables[frame]?[index] ?? 0
  }

  /// Stores one descriptor at an 8-byte-aligned physical address.
  public mutating func write(_ descriptor: UInt64, at physicalAddress: UInt64) throws(StageTwoError) {
    guard physicalAddress & 7 == 0 else { throw .misalignedDescriptorAddress(physicalAddress) }
    let frame = MFN(physicalAddress >> UInt64(pageShift))
    let index = Int((physicalAddress & (pageSize - 1)) >> 3)
    tables[frame, default: Array(repeating: 0, count: Self.entriesPerTable)][index] = descriptor
  }

  /// Stores entry `index` (0..<512) of the table in `frame`.
  public mutating func write(_ descriptor: UInt64, table frame: MFN, index: Int) throws(StageTwoError) {
    guard (0..<Self.entriesPerTable).contains(index) else { throw .tableIndexOutOfRange(index) }
    try write(descriptor, at: frame.address + UInt64(index) * 8)
  }

  /// The 512 descriptors of `frame` (zeros if never written).
  public func readTable(_ frame: MFN) -> [UInt64] {
    tables[frame] ?? Array(repeating: 0, count: Self.entriesPerTable)
  }

  /// Every non-zero descriptor with its physical address, ascending: what a
  /// symbolic memory must store over a zero array to hold the same tables.
  public var nonZeroDescriptors: [(address: UInt64, descriptor: UInt64)] {
    frames.flatMap { frame in
      tables[frame]!.enumerated().compactMap { index, descriptor in
        descriptor == 0 ? nil : (frame.address + UInt64(index) * 8, descriptor)
      }
    }
  }
}
