import Spec

/// Per stream ID below 2^16: the context slot and VMID a translating stream
/// reaches, so that a transaction's route costs two loads instead of the
/// SMR or STE lookup (``SMMUInstance/route(_:)``), which stays the answer
/// for every stream not in the table.
///
/// The table is kept in chunks of 256 streams that all share one empty
/// chunk until a stream in them is set. An SMMU has few translating
/// streams, and the fuzzer copies a booted platform for every input: a
/// flat 2^16-entry table was copied whole (256 KiB, with its twin for the
/// VMIDs) on an input's first attach or detach, where now one chunk is
/// (BENCHMARKS.md, Fuzzing).
@usableFromInline
struct StreamContextTable {
  @usableFromInline
  struct Entry: Sendable {
    @usableFromInline var slot: Int32
    @usableFromInline var vmid: Int32
    static let none = Entry(slot: -1, vmid: -1)
  }

  @usableFromInline static var chunkShift: Int { 8 }
  /// Streams covered: those below this are in the table.
  @usableFromInline let count: Int
  @usableFromInline var chunks: ContiguousArray<ContiguousArray<Entry>>
  /// The streams set since the last ``clear()``.
  private(set) var setStreams: [Int] = []

  init(streams: Int) {
    count = max(streams, 0)
    let chunkSize = 1 << Self.chunkShift
    let empty = ContiguousArray(repeating: Entry.none, count: min(chunkSize, count))
    chunks = ContiguousArray(repeating: empty, count: (count + chunkSize - 1) >> Self.chunkShift)
  }

  /// The entry of a stream that translates through a context; nil for any
  /// other stream.
  @inlinable
  func entry(of stream: StreamID) -> Entry? {
    guard Int(stream) < count else { return nil }
    let entry = chunks[Int(stream) &>> Self.chunkShift][Int(stream) & ((1 << Self.chunkShift) - 1)]
    return entry.slot >= 0 ? entry : nil
  }

  mutating func set(_ stream: Int, slot: Int, vmid: Int) {
    // Slots index a bank array and VMIDs are below 2^16.
    chunks[stream >> Self.chunkShift][stream & ((1 << Self.chunkShift) - 1)] = Entry(slot: Int32(slot), vmid: Int32(vmid))
    setStreams.append(stream)
  }

  /// Unsets every stream set since the last clear.
  mutating func clear() {
    for stream in setStreams { chunks[stream >> Self.chunkShift][stream & ((1 << Self.chunkShift) - 1)] = .none }
    setStreams.removeAll(keepingCapacity: true)
  }
}
