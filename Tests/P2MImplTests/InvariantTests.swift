@testable import P2MImpl
import Spec
import Testing

/// ``XenP2M/checkInvariants()`` finds each kind of corruption. These
/// tables are damaged behind the p2m's back (a `package` hook), as a bug
/// in the update code would.
@Suite("Invariant checker", .enabled(if: XenP2M.internalChecksEnabled, "P2M_INTERNAL_CHECKS is off in this build"))
struct InvariantTests {
  /// GFN 0x10 and 0x210 mapped 4K: one L2 table (slot 2), L3 tables in slots 3 and 4.
  static func twoTables() throws -> XenP2M {
    var p2m = try makeP2M(ipaBits: 40, poolPages: 8)
    try p2m.map(GFN(0x10), to: MFN(0x500), type: .ramRW)
    try p2m.map(GFN(0x210), to: MFN(0x600), type: .ramRW)
    expectNoViolations(p2m, "before corruption")
    return p2m
  }

  static var l2: MFN { tableBase(ipaBits: 40).advanced(by: 2) }

  func kinds(_ p2m: XenP2M) -> Set<P2MInvariantViolation.Kind> { Set(p2m.checkInvariants().map(\.kind)) }

  @Test("two entries pointing at one table")
  func reachedTwice() throws {
    var p2m = try Self.twoTables()
    let l2 = p2m.memory.table(slot: 2)
    p2m.corruptDescriptor(table: Self.l2, index: 1, with: l2[l2.startIndex])
    #expect(kinds(p2m).contains(.tableReachedTwice))
  }

  @Test("an entry pointing at a free pool page, outside the pool, or at a root")
  func badTablePointers() throws {
    var p2m = try Self.twoTables()
    p2m.corruptDescriptor(table: Self.l2, index: 5, with: try XenDescriptor.table(next: tableBase(ipaBits: 40).advanced(by: 7)))
    #expect(kinds(p2m).contains(.freedTableReachable))
    p2m.corruptDescriptor(table: Self.l2, index: 5, with: try XenDescriptor.table(next: MFN(0x1234)))
    #expect(kinds(p2m).contains(.tableOutsidePool))
    p2m.corruptDescriptor(table: Self.l2, index: 5, with: try XenDescriptor.table(next: tableBase(ipaBits: 40)))
    #expect(kinds(p2m).contains(.tableOutsidePool))
  }

  @Test("a leaf whose permissions disagree with its type, a non-zero invalid-type entry, an L3 0b01")
  func badEncodings() throws {
    var p2m = try Self.twoTables()
    let l3 = tableBase(ipaBits: 40).advanced(by: 3)
    let leaf = p2m.memory.table(slot: 3)[0x10]
    p2m.corruptDescriptor(table: l3, index: 0x10, with: leaf & ~(1 << 7))
    #expect(kinds(p2m) == [.badEncoding, .staleTLBEntry] || kinds(p2m) == [.badEncoding])
    p2m.corruptDescriptor(table: l3, index: 0x10, with: leaf & ~bitMask(high: 58, low: 55))
    #expect(kinds(p2m).contains(.badEncoding))
    p2m.corruptDescriptor(table: l3, index: 0x10, with: leaf & ~2)
    #expect(kinds(p2m).contains(.badEncoding))
  }

  @Test("an unhooked table is a leak; a mapping above max_mapped_gfn is out of the bookkeeping")
  func leakAndBookkeeping() throws {
    var p2m = try Self.twoTables()
    // GFN 0x3FF, in 0x210's L3 table: above max_mapped_gfn = 0x210.
    let l3 = tableBase(ipaBits: 40).advanced(by: 4)
    p2m.corruptDescriptor(table: l3, index: 0x1FF, with: p2m.memory.table(slot: 3)[0x10] + (1 << 12))
    #expect(kinds(p2m) == [.mappingOutsideBookkeeping])
    p2m.corruptDescriptor(table: Self.l2, index: 0, with: 0)
    #expect(kinds(p2m).contains(.leakedTable))
  }

  @Test("a TLB entry the tables no longer give is stale")
  func staleTLB() throws {
    var p2m = try Self.twoTables()
    _ = p2m.translate(GFN(0x10).address, access: .read)
    let l3 = tableBase(ipaBits: 40).advanced(by: 3)
    p2m.corruptDescriptor(table: l3, index: 0x10, with: 0)
    #expect(kinds(p2m) == [.staleTLBEntry])
  }
}
