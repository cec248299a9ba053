import Spec
import Testing

@Suite("Frame store: concrete descriptor memory")
struct FrameStoreTests {
  @Test("unwritten memory reads 0; a write is read back at its address only")
  func readBack() throws {
    var store = FrameStore()
    #expect(store.loadDescriptor(at: 0x1234_5000) == 0)
    try store.write(0xAB, at: 0x1234_5018)
    #expect(store.loadDescriptor(at: 0x1234_5018) == 0xAB)
    #expect(store.loadDescriptor(at: 0x1234_5010) == 0)
    #expect(store.loadDescriptor(at: 0x1234_6018) == 0)
    #expect(store.readTable(MFN(0x12345))[3] == 0xAB)
    try store.write(0xCD, table: MFN(0x12345), index: 511)
    #expect(store.loadDescriptor(at: 0x1234_5FF8) == 0xCD)
    #expect(store.frames == [MFN(0x12345)])
    #expect(store.nonZeroDescriptors.map(\.address) == [0x1234_5018, 0x1234_5FF8])
  }

  @Test("a load ignores address bits 2:0 (descriptors are 8-byte aligned)")
  func alignedLoads() throws {
    var store = FrameStore()
    try store.write(0x77, at: 0x2008)
    #expect(store.loadDescriptor(at: 0x200F) == 0x77)
  }

  @Test("misaligned writes and indices outside a table are refused")
  func badWrites() {
    var store = FrameStore()
    #expect(throws: StageTwoError.misalignedDescriptorAddress(0x2004)) { try store.write(1, at: 0x2004) }
    #expect(throws: StageTwoError.tableIndexOutOfRange(512)) { try store.write(1, table: MFN(2), index: 512) }
    #expect(throws: StageTwoError.tableIndexOutOfRange(-1)) { try store.write(1, table: MFN(2), index: -1) }
    #expect(store.frames.isEmpty)
  }
}
