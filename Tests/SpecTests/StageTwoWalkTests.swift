import Spec
import Testing

/// Tables built by hand in a ``FrameStore``. The descriptors are written
/// as literals where the point is the bit pattern (fact sheet §7.1), and
/// with ``XenDescriptor`` where it is Xen's encoding.
@Suite("Architectural stage-2 walk (§7.1, §7.2)")
struct StageTwoWalkTests {
  static let root = MFN(0x100)
  static let level2 = MFN(0x101)
  static let level3 = MFN(0x102)

  /// 36-bit IPA: root L1, one table (fact sheet §1.3).
  let geometry36: StageTwoGeometry

  init() throws {
    geometry36 = try StageTwoGeometry(ipaBits: 36)
  }

  /// A ram_rw page at L3 for IPA 0x4020_3123: L1 index 1 (bits 35:30),
  /// L2 index 1 (bits 29:21), L3 index 3 (bits 20:12), offset 0x123.
  static let ipa: UInt64 = 0x4020_3123
  static let ramRWPage: UInt64 = 0x0080_0000_8000_07FF  // mfn 0x80000

  static func threeLevels(leaf: UInt64 = ramRWPage) throws -> FrameStore {
    var store = FrameStore()
    try store.write(XenDescriptor.table(next: level2), table: root, index: 1)
    try store.write(XenDescriptor.table(next: level3), table: level2, index: 1)
    try store.write(leaf, table: level3, index: 3)
    return store
  }

  func walk(_ store: FrameStore, _ ipa: UInt64, _ access: Access = .read, geometry: StageTwoGeometry? = nil, root: MFN = root) -> WalkResult {
    stageTwoWalk(memory: store, geometry: geometry ?? geometry36, rootAddress: root.address, inputAddress: ipa, access: access).result
  }

  static func fault(_ kind: StageTwoFault.Kind, _ level: Int) -> WalkResult { .fault(StageTwoFault(kind: kind, level: level)) }

  @Test("an L3 page translates to base | IPA[11:0] with the leaf's permissions and type (§7.1)")
  func pageTranslation() throws {
    let store = try Self.threeLevels()
    let expected = WalkResult.translated(
      address: 0x8000_0123, level: 3, permissions: Permissions(read: true, write: true, execute: true), type: .ramRW)
    #expect(walk(store, Self.ipa) == expected)
    #expect(walk(store, Self.ipa, .write) == expected)
    // The neighbouring page (L3 index 4) is not mapped.
    #expect(walk(store, Self.ipa + 0x1000) == Self.fault(.translation, 3))
  }

  @Test("an invalid descriptor faults at its level: L1, L2, L3 (§7.2 translation)")
  func invalidAtEachLevel() throws {
    var store = FrameStore()
    #expect(walk(store, Self.ipa) == Self.fault(.translation, 1))
    try store.write(XenDescriptor.table(next: Self.level2), table: Self.root, index: 1)
    #expect(walk(store, Self.ipa) == Self.fault(.translation, 2))
    try store.write(XenDescriptor.table(next: Self.level3), table: Self.level2, index: 1)
    #expect(walk(store, Self.ipa) == Self.fault(.translation, 3))
    // A hardware-invalid, type-valid leaf (Set/Way tracking, §1.2) faults too.
    try store.write(Self.ramRWPage & ~1, table: Self.level3, index: 3)
    #expect(walk(store, Self.ipa) == Self.fault(.translation, 3))
    // Only bit 0 counts: a table descriptor with bit 0 clear is invalid.
    try store.write(XenDescriptor.table(next: Self.level3) & ~1, table: Self.level2, index: 1)
    #expect(walk(store, Self.ipa) == Self.fault(.translation, 2))
  }

  @Test("0b01 at L3 is reserved: translation fault at L3 (§7.1)")
  func level3Reserved() throws {
    let store = try Self.threeLevels(leaf: Self.ramRWPage & ~2)
    #expect(walk(store, Self.ipa) == Self.fault(.translation, 3))
  }

  @Test("a block at L0 is a translation fault at L0 (§7.1)")
  func level0Block() throws {
    let geometry = try StageTwoGeometry(ipaBits: 48)
    var store = FrameStore()
    // IPA 0x80_0000_0000: L0 index 1 (bits 47:39). A would-be 512 GiB block.
    try store.write(0x0080_0000_0000_07FD, table: Self.root, index: 1)
    #expect(walk(store, 0x80_0000_0000, geometry: geometry) == Self.fault(.translation, 0))
  }

  @Test("AF = 0 is an access-flag fault, before the permission check (§7.2 order)")
  func accessFlag() throws {
    let noAF = try Self.threeLevels(leaf: Self.ramRWPage & ~(1 << 10))
    #expect(walk(noAF, Self.ipa) == Self.fault(.accessFlag, 3))
    let roNoAF = try Self.threeLevels(leaf: Self.ramRWPage & ~(1 << 10) & ~(1 << 7))
    #expect(walk(roNoAF, Self.ipa, .write) == Self.fault(.accessFlag, 3))
  }

  @Test("S2AP: a write needs bit 7, a read bit 6 (§7.1, §7.2 permission)")
  func permissions() throws {
    let readOnly = try Self.threeLevels(leaf: XenDescriptor.leaf(for: P2MEntry(mfn: MFN(0x8_0000), type: .ramRO), level: 3))
    #expect(walk(readOnly, Self.ipa, .write) == Self.fault(.permission, 3))
    #expect(walk(readOnly, Self.ipa, .read) == .translated(
      address: 0x8000_0123, level: 3, permissions: Permissions(read: true, write: false, execute: true), type: .ramRO))
    // S2AP = 0b10, write-only: Xen never builds it, the architecture allows it.
    let writeOnly = try Self.threeLevels(leaf: Self.ramRWPage & ~(1 << 6))
    #expect(walk(writeOnly, Self.ipa, .read) == Self.fault(.permission, 3))
    #expect(walk(writeOnly, Self.ipa, .write) == .translated(
      address: 0x8000_0123, level: 3, permissions: Permissions(read: false, write: true, execute: true), type: .ramRW))
  }

  @Test("XN is reported, not checked, for DMA (§7.1)")
  func executeNeverReported() throws {
    let grant = try Self.threeLevels(leaf: XenDescriptor.leaf(for: P2MEntry(mfn: MFN(0x8_0000), type: .grantMapRW), level: 3))
    #expect(walk(grant, Self.ipa, .write) == .translated(
      address: 0x8000_0123, level: 3, permissions: Permissions(read: true, write: true, execute: false), type: .grantMapRW))
  }

  @Test("address-size faults: next table, leaf and root above the PA size (§7.2)")
  func addressSize() throws {
    var store = try Self.threeLevels()
    // A next-level table at PA bit 36 of a 36-bit PA: fault at the level holding it.
    try store.write(XenDescriptor.table(next: MFN(1 << 24)), table: Self.root, index: 1)
    #expect(walk(store, Self.ipa) == Self.fault(.addressSize, 1))
    store = try Self.threeLevels(leaf: Self.ramRWPage | 1 << 40)
    #expect(walk(store, Self.ipa) == Self.fault(.addressSize, 3))
    // The same leaf under a 48-bit PA is fine (no address-size fault at 48).
    var wide = FrameStore()
    try wide.write(XenDescriptor.table(next: Self.root), table: MFN(0x200), index: 0)
    for (index, page) in [Self.root, Self.level2, Self.level3].enumerated() {
      try wide.write(store.readTable(page)[[1, 1, 3][index]], table: page, index: [1, 1, 3][index])
    }
    #expect(walk(wide, Self.ipa, geometry: try StageTwoGeometry(ipaBits: 48), root: MFN(0x200))
      == .translated(address: 0x100_8000_0123, level: 3, permissions: Permissions(read: true, write: true, execute: true), type: .ramRW))
    // A root beyond the PA size faults at the start level, before any load.
    #expect(walk(try Self.threeLevels(), Self.ipa, root: MFN(1 << 24)) == Self.fault(.addressSize, 1))
  }

  @Test("an IPA at or above 2^ipaBits is a translation fault at level 0 (§7.2 [uncertain level])")
  func ipaOutOfRange() throws {
    let store = try Self.threeLevels()
    #expect(walk(store, Self.ipa | 1 << 36) == Self.fault(.translation, 0))
    #expect(walk(store, 1 << 63) == Self.fault(.translation, 0))
    #expect(walk(store, 1 << 48, geometry: try StageTwoGeometry(ipaBits: 48)) == Self.fault(.translation, 0))
  }

  @Test("a 1 GiB block at L1 (§7.1: OA[47:30] from the descriptor)")
  func level1Block() throws {
    var store = FrameStore()
    try store.write(XenDescriptor.leaf(for: P2MEntry(mfn: MFN(0x4_0000), type: .ramRW), level: 1), table: Self.root, index: 2)
    #expect(walk(store, 0x8123_4567) == .translated(
      address: 0x4123_4567, level: 1, permissions: Permissions(read: true, write: true, execute: true), type: .ramRW))
  }

  @Test("a 2 MiB block at L2 (§7.1: OA[47:21] from the descriptor)")
  func level2Block() throws {
    var store = FrameStore()
    try store.write(XenDescriptor.table(next: Self.level2), table: Self.root, index: 0)
    // mmio_direct_dev block at 0x60_0000, by hand: valid|0<<1|DEV<<2|rw|outer|af, xn, type 3.
    try store.write(0x01C0_0000_0060_06C5, table: Self.level2, index: 5)
    #expect(walk(store, 0x00A1_2345, .write) == .translated(
      address: 0x0061_2345, level: 2, permissions: Permissions(read: true, write: true, execute: false), type: .mmioDirectDev))
  }

  @Test("40-bit IPA: two concatenated L1 roots, IPA bit 39 selects the second page (§1.3, §7.1)")
  func concatenatedRoot40() throws {
    let geometry = try StageTwoGeometry(ipaBits: 40)
    let root = MFN(0x200)  // 2-page aligned
    var store = FrameStore()
    // Root index = IPA[39:30]; 0x80_4000_0000 has index 0x201: page 2, entry 1.
    try store.write(XenDescriptor.leaf(for: P2MEntry(mfn: MFN(0xC_0000), type: .ramRW), level: 1), table: MFN(0x201), index: 1)
    try store.write(XenDescriptor.leaf(for: P2MEntry(mfn: MFN(0x4_0000), type: .ramRO), level: 1), table: root, index: 1)
    let high = walk(store, 0x80_4000_0ABC, geometry: geometry, root: root)
    #expect(high == .translated(address: 0xC000_0ABC, level: 1, permissions: Permissions(read: true, write: true, execute: true), type: .ramRW))
    let low = walk(store, 0x4000_0ABC, geometry: geometry, root: root)
    #expect(low == .translated(address: 0x4000_0ABC, level: 1, permissions: Permissions(read: true, write: false, execute: true), type: .ramRO))
  }

  @Test("42-bit IPA: eight concatenated L1 roots, IPA[41:39] picks the page (§1.3)")
  func concatenatedRoot42() throws {
    let geometry = try StageTwoGeometry(ipaBits: 42)
    var store = FrameStore()
    // 0x3C0_4000_0000: index 0xF01 → page 7 of the roots at 0x400, entry 0x101.
    try store.write(XenDescriptor.leaf(for: P2MEntry(mfn: MFN(0x4_0000), type: .ramRW), level: 1), table: MFN(0x407), index: 0x101)
    #expect(walk(store, 0x3C0_4000_0001, geometry: geometry, root: MFN(0x400)) == .translated(
      address: 0x4000_0001, level: 1, permissions: Permissions(read: true, write: true, execute: true), type: .ramRW))
    #expect(walk(store, 0x1C0_4000_0001, geometry: geometry, root: MFN(0x400)) == Self.fault(.translation, 1))
  }

  @Test("48-bit IPA: a four-level walk from an L0 root (§1.3)")
  func fourLevels() throws {
    let geometry = try StageTwoGeometry(ipaBits: 48)
    var store = FrameStore()
    // IPA 0xFF80_4020_3123: L0 index 0x1FF (47:39), L1 index 1 (38:30), then as threeLevels.
    try store.write(XenDescriptor.table(next: Self.root), table: MFN(0x200), index: 0x1FF)
    try store.write(XenDescriptor.table(next: Self.level2), table: Self.root, index: 1)
    try store.write(XenDescriptor.table(next: Self.level3), table: Self.level2, index: 1)
    try store.write(Self.ramRWPage, table: Self.level3, index: 3)
    let result = walk(store, 0xFF80_4020_3123, geometry: geometry, root: MFN(0x200))
    #expect(result == .translated(address: 0x8000_0123, level: 3, permissions: Permissions(read: true, write: true, execute: true), type: .ramRW))
    #expect(walk(store, 0x7F80_4020_3123, geometry: geometry, root: MFN(0x200)) == Self.fault(.translation, 0))
  }

  @Test("the root may be given as a whole VTTBR: the VMID bits are ignored")
  func vttbrAsRoot() throws {
    let store = try Self.threeLevels()
    let vttbr = try geometry36.vttbr(rootAddress: Self.root.address, vmid: 7)
    let outcome = stageTwoWalk(memory: store, geometry: geometry36, rootAddress: vttbr, inputAddress: Self.ipa, access: .read)
    #expect(outcome.result == walk(store, Self.ipa))
    #expect(!outcome.faulted)
  }

  @Test("a fault's status code is ESR DFSC 0bKKKKLL (§7.2)")
  func statusCodes() throws {
    let store = try Self.threeLevels(leaf: Self.ramRWPage & ~(1 << 10))
    let outcome = stageTwoWalk(memory: store, geometry: geometry36, rootAddress: Self.root.address, inputAddress: Self.ipa, access: .read)
    #expect(outcome.faultStatusCode == 0b001011)
    #expect(StageTwoFault(kind: .addressSize, level: 2).statusCode == 0b000010)
    #expect(StageTwoFault(kind: .translation, level: 0).statusCode == 0b000100)
    #expect(StageTwoFault(kind: .permission, level: 3).statusCode == 0b001111)
  }
}
