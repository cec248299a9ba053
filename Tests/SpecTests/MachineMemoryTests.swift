import Testing

@testable import Spec

@Suite("Machine memory (DESIGN.md §2)")
struct MachineMemoryTests {
  @Test("unwritten memory reads as 0")
  func unwritten() {
    let memory = MachineMemory()
    #expect(memory.read(0x8000_0000, count: 3) == [0, 0, 0])
    #expect(memory.frames.isEmpty)
  }

  @Test("a write across a frame boundary lands in both frames and reads back")
  func crossFrame() {
    var memory = MachineMemory()
    memory.write(0x1FFE, bytes: [1, 2, 3, 4])
    #expect(memory.read(0x1FFE, count: 4) == [1, 2, 3, 4])
    #expect(Set(memory.frames.keys) == [MFN(1), MFN(2)])
    #expect(memory.byte(at: 0x2001) == 4)
    #expect(memory.byte(at: 0x2002) == 0)
  }

  @Test("the top of the address space wraps to 0")
  func wraps() {
    var memory = MachineMemory()
    memory.write(UInt64.max, bytes: [7, 8])
    #expect(memory.byte(at: .max) == 7)
    #expect(memory.byte(at: 0) == 8)
  }

  @Test("property: memory behaves as a byte dictionary defaulting to 0 (seed 0x3E3)")
  func randomWrites() {
    var random = SplitMix64(seed: 0x3E3)
    var memory = MachineMemory()
    var model: [UInt64: UInt8] = [:]
    for _ in 0..<500 {
      let pa = random.next() % 0x4000
      let bytes = (0..<(random.next() % 20)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
      memory.write(pa, bytes: bytes)
      for (i, value) in bytes.enumerated() { model[pa + UInt64(i)] = value }
    }
    #expect(memory.read(0, count: 0x4020) == (UInt64(0)..<0x4020).map { model[$0] ?? 0 })
  }

  @Test("property: read, write, fill and copy equal their byte loops, wrap and overlap included (seed 0x3E4)")
  func bulkEqualsByteLoops() {
    var random = SplitMix64(seed: 0x3E4)
    var bulk = MachineMemory()
    var loop = MachineMemory()
    // Addresses near a few frame boundaries and the top of the space.
    func address() -> UInt64 {
      let bases: [UInt64] = [0, 0x1000, 0x3000, UInt64.max - 0x1FFF]
      return bases[Int(random.next() % 4)] &+ random.next() % 0x3000
    }
    for _ in 0..<400 {
      let pa = address()
      let count = Int(random.next() % 0x2400)
      switch random.next() % 4 {
      case 0:
        let bytes = (0..<count).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        bulk.write(pa, bytes: bytes)
        for (i, value) in bytes.enumerated() { loop.setByte(value, at: pa &+ UInt64(i)) }
      case 1:
        let value = UInt8(truncatingIfNeeded: random.next())
        bulk.fill(pa, count: count, with: value)
        for i in 0..<count { loop.setByte(value, at: pa &+ UInt64(i)) }
      case 2:
        // Overlapping copies in both directions, and disjoint ones.
        let to = random.next() % 2 == 0 ? pa &+ random.next() % 0x100 &- 0x80 : address()
        bulk.copy(from: pa, to: to, count: count)
        for i in 0..<count { loop.setByte(loop.byte(at: pa &+ UInt64(i)), at: to &+ UInt64(i)) }
      default:
        #expect(bulk.read(pa, count: count) == (0..<count).map { loop.byte(at: pa &+ UInt64($0)) })
      }
      #expect(bulk.frames == loop.frames)
    }
  }

  @Test("equality is by contents: a frame of zeros equals a frame never written")
  func equalityByContents() {
    var written = MachineMemory()
    written.fill(0x5000, count: 0x2000, with: 0)
    #expect(written == MachineMemory())
    #expect(written.hashValue == MachineMemory().hashValue)
    written.setByte(1, at: 0x5FFF)
    var other = MachineMemory()
    other.setByte(1, at: 0x5FFF)
    #expect(written == other)
    #expect(written.hashValue == other.hashValue)
    other.setByte(2, at: 0x9000)
    #expect(written != other)
  }
}
