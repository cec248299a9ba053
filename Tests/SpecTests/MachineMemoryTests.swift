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
}
