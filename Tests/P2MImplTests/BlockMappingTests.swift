import P2MImpl
import Spec
import Testing

/// Chunk orders from `gfn | nr | mfn` (fact sheet §1.5): blocks when
/// aligned, 4K otherwise, and the MFN left out of removals (`3fafdc28eb`).
@Suite("Block mappings and chunk order (§1.5)")
struct BlockMappingTests {
  @Test("a 1 GiB aligned range is one L1 block: one descriptor, no table")
  func gigabyteBlock() throws {
    var p2m = try makeP2M(ipaBits: 40)
    p2m.recordsEvents = true
    try p2m.map(GFN(1 << 18), count: 1 << 18, to: MFN(3 << 18), type: .ramRW)
    #expect(p2m.counters.descriptorWrites == 1)
    #expect(p2m.memory.pagesInUse == 0)
    for gfn: UInt64 in [1 << 18, 1 << 18 + 0x1_2345, 2 << 18 - 1] {
      #expect(p2m.entry(at: GFN(gfn)).order == 18)
      #expect(p2m.lookup(GFN(gfn)) == P2MEntry(mfn: MFN(3 << 18 + gfn - 1 << 18), type: .ramRW))
    }
    #expect(p2m.walk(GFN(1 << 18 + 5).address | 0x7, access: .write)
      == .translated(address: MFN(3 << 18 + 5).address | 0x7, level: 1,
                     permissions: Permissions(read: true, write: true, execute: true), type: .ramRW))
    #expect(p2m.events.contains(.iotlbFlush(IOTLBFlush(gfn: GFN(1 << 18), pageCount: 1 << 18, modified: false, added: true))))
  }

  @Test("a 2 MiB aligned range is one L2 block under one new table")
  func twoMegabyteBlock() throws {
    var p2m = try makeP2M(ipaBits: 40)
    try p2m.map(GFN(0x1200), count: 512, to: MFN(0x5_0000), type: .mmioDirectDev)
    #expect(p2m.counters.descriptorWrites == 2)
    #expect(p2m.memory.pagesInUse == 1)
    #expect(level(p2m, GFN(0x1200)) == 2 && level(p2m, GFN(0x13FF)) == 2)
    #expect(p2m.walk(GFN(0x13FF).address, access: .write)
      == .translated(address: MFN(0x5_01FF).address, level: 2,
                     permissions: Permissions(read: true, write: true, execute: false), type: .mmioDirectDev))
  }

  @Test("nr unaligned by one page degrades the whole range to 4K, as Xen does")
  func unalignedCountDegrades() throws {
    var p2m = try makeP2M(ipaBits: 40)
    try p2m.map(GFN(0x1200), count: 513, to: MFN(0x5_0000), type: .ramRW)
    for gfn in [0x1200, 0x1300, 0x13FF, 0x1400] as [UInt64] { #expect(level(p2m, GFN(gfn)) == 3, "\(GFN(gfn))") }
    // One L2 table, two L3 tables, 513 leaves.
    #expect(p2m.memory.pagesInUse == 3)
    #expect(p2m.counters.descriptorWrites == 1 + 2 + 513)
    #expect(p2m.lookup(GFN(0x1401)) == nil)
  }

  @Test("an MFN that is not block-aligned degrades to 4K even when gfn and nr are aligned")
  func misalignedFrameDegrades() throws {
    var p2m = try makeP2M(ipaBits: 40)
    try p2m.map(GFN(0x1200), count: 512, to: MFN(0x5_0001), type: .ramRW)
    #expect(level(p2m, GFN(0x1200)) == 3)
    #expect(p2m.lookup(GFN(0x13FF))?.mfn == MFN(0x5_0200))
  }

  @Test("removing a 2 MiB block ignores INVALID_MFN in the order: one zero write, no split (3fafdc28eb)")
  func removalKeepsBlockOrder() throws {
    var p2m = try makeP2M(ipaBits: 40)
    try p2m.map(GFN(0x1200), count: 512, to: MFN(0x5_0000), type: .ramRW)
    let before = p2m.counters.descriptorWrites
    try p2m.unmap(GFN(0x1200), count: 512)
    #expect(p2m.counters.descriptorWrites == before + 1)
    #expect(p2m.counters.shattered == [0, 0, 0, 0])
    #expect(p2m.memory.pagesInUse == 1)
    #expect(p2m.lookup(GFN(0x1300)) == nil)
  }

  @Test("mutant: with INVALID_MFN in the mask every removal is 4K, shattering the block and leaving an empty table")
  func removalOrderBugShatters() throws {
    var p2m = try makeP2M(ipaBits: 40)
    try p2m.map(GFN(0x1200), count: 512, to: MFN(0x5_0000), type: .ramRW)
    try SeededBug.removalShattersSuperpages.inject { try p2m.unmap(GFN(0x1200), count: 512) }
    #expect(p2m.counters.shattered[2] == 1)
    #expect(p2m.memory.pagesInUse == 2)
    #expect(p2m.lookup(GFN(0x1300)) == nil)
  }

  @Test("40-bit IPA: GFNs under the second concatenated root page map and walk; VTTBR carries the VMID")
  func concatenatedRoots() throws {
    var p2m = try makeP2M(ipaBits: 40, vmid: 7)
    let high = GFN(512 << 18 + 0x42)
    try p2m.map(high, to: MFN(0x77), type: .grantMapRW)
    #expect(p2m.walk(high.address, access: .write)
      == .translated(address: MFN(0x77).address, level: 3,
                     permissions: Permissions(read: true, write: true, execute: false), type: .grantMapRW))
    #expect(p2m.vttbr == p2m.rootAddress | 7 << 48)
    #expect(p2m.memory.rootPages == 2)
    #expect(p2m.rootGFNLimit == ReferenceP2M(ipaBits: 40).gfnLimit)
  }
}
