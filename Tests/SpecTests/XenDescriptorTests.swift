import Spec
import Testing

@Suite("Xen stage-2 descriptor, lpae_p2m_t (§1.2)")
struct XenDescriptorTests {
  /// The first frame of a block at `level`, so every level accepts it.
  static let gigabyteAlignedMFN = MFN(0x8_0000)  // 0x8000_0000, 1 GiB aligned

  @Test("every type × level × hardware-valid bit round-trips through mfn_to_p2m_entry()", arguments: P2MType.allCases)
  func roundTrip(type: P2MType) throws {
    for level in 1...3 {
      for hardwareValid in [true, false] {
        let entry = P2MEntry(mfn: Self.gigabyteAlignedMFN, type: type, hardwareValid: hardwareValid)
        let descriptor = try XenDescriptor.leaf(for: entry, level: level)
        #expect(try XenDescriptor.decodeLeaf(descriptor, level: level) == entry, "L\(level) \(entry)")
        // Fields read back with the generic accessors.
        #expect(XenDescriptor.isValid(descriptor) == hardwareValid)
        #expect(XenDescriptor.isMapping(descriptor, level: level))
        #expect(XenDescriptor.isTable(descriptor, level: level) == false)
        #expect(XenDescriptor.accessFlag(descriptor))
        #expect(XenDescriptor.read(descriptor))
        #expect(XenDescriptor.write(descriptor) == type.permissions.write)
        #expect(XenDescriptor.executeNever(descriptor) == !type.permissions.execute)
        #expect(XenDescriptor.memoryAttributes(descriptor) == type.memoryAttributes)
        #expect(XenDescriptor.shareability(descriptor) == type.shareability)
        #expect(XenDescriptor.softwareType(descriptor) == UInt64(type.rawValue))
        #expect(XenDescriptor.outputBase(descriptor) == Self.gigabyteAlignedMFN.address)
        // §1.2: the contiguous bit is never set by the p2m code.
        #expect(!XenDescriptor.contiguous(descriptor))
        #expect(descriptor & bitMask(high: 63, low: 59) == 0 && descriptor & bitMask(high: 53, low: 48) == 0)
      }
    }
  }

  @Test("hand-computed descriptors from the §1.1/§1.2 tables")
  func handComputed() throws {
    // ram_rw page: valid|table|MATTR_MEM<<2|read|write|inner<<8|af = 0x7FF, type 1 << 55, xn 0.
    #expect(try XenDescriptor.leaf(for: P2MEntry(mfn: MFN(0x8_0000), type: .ramRW), level: 3) == 0x0080_0000_8000_07FF)
    // grant_map_ro page: no write (0x77F), xn bit 54, type 9 << 55.
    #expect(try XenDescriptor.leaf(for: P2MEntry(mfn: MFN(0x1_2345), type: .grantMapRO), level: 3) == 0x04C0_0000_1234_577F)
    // mmio_direct_dev 2 MiB block: table bit 0, MATTR_DEV 1<<2, outer (2)<<8, read|write|af = 0x6C5; xn; type 3.
    #expect(try XenDescriptor.leaf(for: P2MEntry(mfn: MFN(0x400), type: .mmioDirectDev), level: 2) == 0x01C0_0000_0040_06C5)
    // mmio_direct_nc 1 GiB block: MATTR_MEM_NC 5<<2 = 0x14, outer: 0x6D5; type 4.
    #expect(try XenDescriptor.leaf(for: P2MEntry(mfn: MFN(0x4_0000), type: .mmioDirectNC), level: 1) == 0x0240_0000_4000_06D5)
    // A Set/Way-tracked ram_ro entry: only the valid bit differs (§1.2, XSA-393).
    #expect(try XenDescriptor.leaf(for: P2MEntry(mfn: MFN(1), type: .ramRO, hardwareValid: false), level: 3) == 0x0100_0000_0000_177E)
  }

  @Test("P2M_PERM_MASK = 0x00400000000000C0 selects xn, write and read (§1.2)")
  func permissionMask() throws {
    #expect(XenDescriptor.permissionMask == 0x0040_0000_0000_00C0)
    let rw = try XenDescriptor.leaf(for: P2MEntry(mfn: MFN(7), type: .ramRW), level: 3)
    let foreignRO = try XenDescriptor.leaf(for: P2MEntry(mfn: MFN(7), type: .mapForeignRO), level: 3)
    #expect(rw & XenDescriptor.permissionMask == 0xC0)
    #expect(foreignRO & XenDescriptor.permissionMask == 0x0040_0000_0000_0040)
  }

  @Test("a table descriptor is page_to_p2m_table(): the ram_rw encoding with table = 1 (§1.1)")
  func tableDescriptor() throws {
    let table = try XenDescriptor.table(next: MFN(0x1234))
    #expect(table == 0x0080_0000_0123_47FF)
    for level in 0...2 { #expect(XenDescriptor.isTable(table, level: level)) }
    #expect(!XenDescriptor.isTable(table, level: 3))
    #expect(XenDescriptor.outputBase(table) == MFN(0x1234).address)
    #expect(throws: StageTwoError.notALeaf(table, level: 2)) { try XenDescriptor.decodeLeaf(table, level: 2) }
  }

  @Test("software types 12–15 are not p2m types (p2m_max_real_type = 12)", arguments: UInt64(12)...15)
  func unknownSoftwareType(raw: UInt64) throws {
    let descriptor = try XenDescriptor.leaf(for: P2MEntry(mfn: MFN(1), type: .ramRW), level: 3) & ~bitMask(high: 58, low: 55) | raw << 55
    #expect(throws: StageTwoError.unknownSoftwareType(raw)) { try XenDescriptor.decodeLeaf(descriptor, level: 3) }
  }

  @Test("bad encoder input is refused")
  func badInput() throws {
    let entry = P2MEntry(mfn: MFN(0x200), type: .ramRW)
    #expect(throws: StageTwoError.levelOutOfRange(0)) { try XenDescriptor.leaf(for: entry, level: 0) }
    #expect(throws: StageTwoError.levelOutOfRange(4)) { try XenDescriptor.leaf(for: entry, level: 4) }
    #expect(throws: StageTwoError.levelOutOfRange(0)) { try XenDescriptor.decodeLeaf(0, level: 0) }
    // 0x200 is 2 MiB aligned, not 1 GiB aligned.
    #expect(try XenDescriptor.leaf(for: entry, level: 2) & 3 == 1)
    #expect(throws: StageTwoError.misalignedBlock(MFN(0x200), level: 1)) { try XenDescriptor.leaf(for: entry, level: 1) }
    let huge = P2MEntry(mfn: MFN(1 << 36), type: .ramRW)
    #expect(throws: StageTwoError.frameOutOfRange(MFN(1 << 36))) { try XenDescriptor.leaf(for: huge, level: 3) }
    #expect(throws: StageTwoError.frameOutOfRange(MFN(1 << 36))) { try XenDescriptor.table(next: MFN(1 << 36)) }
  }
}
