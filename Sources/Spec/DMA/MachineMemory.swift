/// Machine memory with contents, so that a DMA's effect on data can be
/// observed end to end (DESIGN.md §2).
///
/// Sparse: a frame exists once written; unwritten bytes read as 0. Every
/// machine address is memory here: the model does not know where host RAM
/// ends, so a DMA to a hole lands somewhere observable instead of raising
/// a decode error **[derived: what a real interconnect does with such an
/// access is platform-specific]**. Addresses wrap at 2^64.
public struct MachineMemory: Hashable, Sendable {
  public private(set) var frames: [MFN: [UInt8]] = [:]

  public init() {}

  /// The byte at machine address `pa`.
  public func byte(at pa: UInt64) -> UInt8 {
    frames[MFN(pa >> UInt64(pageShift))]?[Int(pa & (pageSize - 1))] ?? 0
  }

  public mutating func setByte(_ value: UInt8, at pa: UInt64) {
    let frame = MFN(pa >> UInt64(pageShift))
    frames[frame, default: Array(repeating: 0, count: Int(pageSize))][Int(pa & (pageSize - 1))] = value
  }

  /// `count` bytes from `pa`, across frames.
  public func read(_ pa: UInt64, count: Int) -> [UInt8] {
    (0..<max(count, 0)).map { byte(at: pa &+ UInt64($0)) }
  }

  /// Writes `bytes` from `pa`, across frames.
  public mutating func write(_ pa: UInt64, bytes: [UInt8]) {
    for (index, value) in bytes.enumerated() { setByte(value, at: pa &+ UInt64(index)) }
  }
}
