/// Machine memory with contents, so that a DMA's effect on data can be
/// observed end to end (DESIGN.md §2).
///
/// Sparse: a frame exists once written; unwritten bytes read as 0. Every
/// machine address is memory here: the model does not know where host RAM
/// ends, so a DMA to a hole lands somewhere observable instead of raising
/// a decode error **[derived: what a real interconnect does with such an
/// access is platform-specific]**. Addresses wrap at 2^64.
///
/// The meaning is a total map from 64-bit address to byte, 0 where nothing
/// was written; ``byte(at:)`` and ``setByte(_:at:)`` are that map. The
/// other operations are that map's byte loops done a page at a time
/// (``read(_:count:)``, ``write(_:bytes:)``, ``fill(_:count:with:)``,
/// ``copy(from:to:count:)``): the spec's DMA moves kilobytes per transfer,
/// and the fuzzer runs thousands of transfers a second (BENCHMARKS.md
/// "Fuzzing"). `MachineMemoryTests` checks each against its byte loop.
///
/// **Equality is by contents**: two memories are equal when every address
/// reads the same byte, so a frame that was written with zeros equals one
/// never written. This is what comparing a DMA run on the spec with the
/// same run through an optimized SMMU needs: the observable memory, not
/// which zero pages happen to have been allocated. ``frames`` shows the
/// representation, and may differ between equal memories.
public struct MachineMemory: Hashable, Sendable {
  /// The frames written so far, each ``pageSize`` bytes.
  public private(set) var frames: [MFN: [UInt8]] = [:]

  public init() {}

  /// A frame never written.
  static let zeroFrame = [UInt8](repeating: 0, count: Int(pageSize))

  /// The byte at machine address `pa`.
  public func byte(at pa: UInt64) -> UInt8 {
    frames[MFN(pa >> UInt64(pageShift))]?[Int(pa & (pageSize - 1))] ?? 0
  }

  public mutating func setByte(_ value: UInt8, at pa: UInt64) {
    let frame = MFN(pa >> UInt64(pageShift))
    frames[frame, default: Self.zeroFrame][Int(pa & (pageSize - 1))] = value
  }

  /// `count` bytes from `pa`, across frames: `byte(at: pa &+ i)` for each
  /// `i` below `count`.
  public func read(_ pa: UInt64, count: Int) -> [UInt8] {
    guard count > 0 else { return [] }
    return [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
      var done = 0
      for piece in Self.pieces(pa, count: count) {
        let target = UnsafeMutableBufferPointer(rebasing: buffer[done..<(done + piece.count)])
        if let frame = frames[piece.frame] {
          frame.withUnsafeBufferPointer { source in
            _ = target.initialize(from: source[piece.offset..<(piece.offset + piece.count)])
          }
        } else {
          target.initialize(repeating: 0)
        }
        done += piece.count
      }
      initialized = count
    }
  }

  /// Writes `bytes` from `pa`, across frames: `setByte(bytes[i], at: pa &+ i)`
  /// for each `i` in order.
  public mutating func write(_ pa: UInt64, bytes: [UInt8]) {
    bytes.withUnsafeBufferPointer { write(pa, from: UnsafeRawBufferPointer($0)) }
  }

  /// ``write(_:bytes:)`` from raw memory.
  mutating func write(_ pa: UInt64, from bytes: UnsafeRawBufferPointer) {
    var done = 0
    for piece in Self.pieces(pa, count: bytes.count) {
      frames[piece.frame, default: Self.zeroFrame].withUnsafeMutableBytes { frame in
        frame.baseAddress!.advanced(by: piece.offset).copyMemory(
          from: bytes.baseAddress!.advanced(by: done), byteCount: piece.count)
      }
      done += piece.count
    }
  }

  /// Sets `count` bytes from `pa` to `value`, across frames.
  public mutating func fill(_ pa: UInt64, count: Int, with value: UInt8) {
    for piece in Self.pieces(pa, count: count) {
      frames[piece.frame, default: Self.zeroFrame].withUnsafeMutableBufferPointer { frame in
        UnsafeMutableBufferPointer(rebasing: frame[piece.offset..<(piece.offset + piece.count)]).update(repeating: value)
      }
    }
  }

  /// Copies `count` bytes from `source` to `destination` exactly as the
  /// byte loop `for i in 0..<count { setByte(byte(at: source &+ i), at:
  /// destination &+ i) }` does, overlap included (a destination just above
  /// its source repeats the source's first bytes, as a forward CPU copy
  /// would; this is not `memmove`).
  public mutating func copy(from source: UInt64, to destination: UInt64, count: Int) {
    guard count > 0 else { return }
    let distance = destination &- source
    if distance != 0 && distance < UInt64(count) {
      // The destination overlaps the source from above: later source bytes
      // are overwritten before they are read. Rare (a bounce slot aliasing
      // its own buffer); done as the definition says.
      for i in 0..<count { setByte(byte(at: source &+ UInt64(i)), at: destination &+ UInt64(i)) }
      return
    }
    // Otherwise every source byte is read before (or without) being
    // written, so copying a page-contiguous run at a time is the loop.
    var done = 0
    while done < count {
      let from = source &+ UInt64(done)
      let to = destination &+ UInt64(done)
      let piece = min(count - done, Self.room(from), Self.room(to))
      let sourceFrame = MFN(from >> UInt64(pageShift))
      let targetFrame = MFN(to >> UInt64(pageShift))
      let fromOffset = Int(from & (pageSize - 1))
      let toOffset = Int(to & (pageSize - 1))
      if sourceFrame == targetFrame {
        // Same frame, destination at or below the source: memmove is the
        // forward loop.
        frames[targetFrame, default: Self.zeroFrame].withUnsafeMutableBytes { frame in
          frame.baseAddress!.advanced(by: toOffset).copyMemory(
            from: UnsafeRawPointer(frame.baseAddress!.advanced(by: fromOffset)), byteCount: piece)
        }
      } else if let bytes = frames[sourceFrame] {
        bytes.withUnsafeBytes { bytes in
          frames[targetFrame, default: Self.zeroFrame].withUnsafeMutableBytes { frame in
            frame.baseAddress!.advanced(by: toOffset).copyMemory(
              from: bytes.baseAddress!.advanced(by: fromOffset), byteCount: piece)
          }
        }
      } else {
        fill(to, count: piece, with: 0)
      }
      done += piece
    }
  }

  /// Calls `body` with the bytes `[pa, pa + count)`, which must lie in one
  /// frame, without copying them; an unwritten frame shows zeros.
  func withBytes<Result>(
    _ pa: UInt64, count: Int, _ body: (UnsafeRawBufferPointer) throws -> Result
  ) rethrows -> Result {
    precondition(count <= Self.room(pa), "withBytes crosses a frame boundary")
    let offset = Int(pa & (pageSize - 1))
    let frame = frames[MFN(pa >> UInt64(pageShift))] ?? Self.zeroFrame
    return try frame.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[offset..<(offset + count)])) }
  }

  // MARK: Equality by contents

  public static func == (lhs: MachineMemory, rhs: MachineMemory) -> Bool {
    for (frame, bytes) in lhs.frames where bytes != (rhs.frames[frame] ?? zeroFrame) { return false }
    for (frame, bytes) in rhs.frames where lhs.frames[frame] == nil && bytes != zeroFrame { return false }
    return true
  }

  public func hash(into hasher: inout Hasher) {
    // Order-independent over the frames that hold something, as
    // `Dictionary` hashes its elements.
    var combined = 0
    for (frame, bytes) in frames where bytes != Self.zeroFrame {
      var element = Hasher()
      element.combine(frame)
      element.combine(bytes)
      combined ^= element.finalize()
    }
    hasher.combine(combined)
  }

  // MARK: Pages

  /// Bytes from `pa` to the end of its frame.
  static func room(_ pa: UInt64) -> Int { Int(pageSize - (pa & (pageSize - 1))) }

  /// `[pa, pa + count)` (wrapping at 2^64) cut at frame boundaries.
  static func pieces(_ pa: UInt64, count: Int) -> FramePieces { FramePieces(address: pa, remaining: max(count, 0)) }

  /// The pieces of a range, one per frame, in address order.
  struct FramePieces: Sequence, IteratorProtocol {
    var address: UInt64
    var remaining: Int

    mutating func next() -> (frame: MFN, offset: Int, count: Int)? {
      guard remaining > 0 else { return nil }
      let start = address
      let piece = Swift.min(remaining, MachineMemory.room(start))
      address = start &+ UInt64(piece)
      remaining -= piece
      return (MFN(start >> UInt64(pageShift)), Int(start & (pageSize - 1)), piece)
    }
  }
}
