/// Xen's stage-2 descriptor, `lpae_p2m_t` (xen/arch/arm/include/asm/lpae.h;
/// fact sheet §1.2): the architectural VMSAv8-64 fields (§7.1) plus the p2m
/// type in the software bits 58:55.
///
/// The field readers are generic over ``Word`` so that the walk decodes
/// descriptors once for both the concrete and the symbolic run; the
/// encoders are concrete, as Xen's `mfn_to_p2m_entry()` and
/// `page_to_p2m_table()` (xen/arch/arm/mmu/p2m.c) build them.
public enum XenDescriptor {
  /// `P2M_PERM_MASK`: xn (54), write (7) and read (6).
  public static let permissionMask: UInt64 = 0x0040_0000_0000_00C0

  // MARK: Fields (generic)

  /// `lpae_is_valid()`: the hardware valid bit 0. Distinct from
  /// `p2m_is_valid()` (type ≠ invalid): Xen keeps type-valid entries with
  /// this bit clear to track Set/Way emulation (§1.2, XSA-393).
  @inlinable public static func isValid<W: Word>(_ descriptor: W) -> W.Condition { descriptor.bit(0) }

  /// Bit 1: table at L0–L2 or page at L3; 0 is a block (or reserved at L3).
  @inlinable public static func tableBit<W: Word>(_ descriptor: W) -> W.Condition { descriptor.bit(1) }

  /// `lpae_is_table(pte, level)`: `level < 3 && table bit`. Like Xen's, it
  /// does not look at the valid bit.
  @inlinable public static func isTable<W: Word>(_ descriptor: W, level: Int) -> W.Condition {
    level < 3 ? descriptor.bit(1) : descriptor.condition(false)
  }

  /// `lpae_is_mapping(pte, level)`: the table bit at L3, its absence above.
  @inlinable public static func isMapping<W: Word>(_ descriptor: W, level: Int) -> W.Condition {
    level == 3 ? descriptor.bit(1) : !descriptor.bit(1)
  }

  /// MemAttr[3:0], bits 5:2.
  @inlinable public static func memoryAttributes<W: Word>(_ descriptor: W) -> W { descriptor.extract(high: 5, low: 2) }
  /// S2AP[0], bit 6: reads allowed.
  @inlinable public static func read<W: Word>(_ descriptor: W) -> W.Condition { descriptor.bit(6) }
  /// S2AP[1], bit 7: writes allowed.
  @inlinable public static func write<W: Word>(_ descriptor: W) -> W.Condition { descriptor.bit(7) }
  /// SH[1:0], bits 9:8.
  @inlinable public static func shareability<W: Word>(_ descriptor: W) -> W { descriptor.extract(high: 9, low: 8) }
  /// The access flag, bit 10.
  @inlinable public static func accessFlag<W: Word>(_ descriptor: W) -> W.Condition { descriptor.bit(10) }
  /// The contiguous hint, bit 52; Xen's p2m never sets it (§1.2, §7.3).
  @inlinable public static func contiguous<W: Word>(_ descriptor: W) -> W.Condition { descriptor.bit(52) }
  /// XN[1], bit 54: Xen uses only this bit, making the page
  /// non-executable at every EL (§7.1, FEAT_XNX).
  @inlinable public static func executeNever<W: Word>(_ descriptor: W) -> W.Condition { descriptor.bit(54) }
  /// The p2m type, software bits 58:55 (a raw `p2m_type_t`).
  @inlinable public static func softwareType<W: Word>(_ descriptor: W) -> W { descriptor.extract(high: 58, low: 55) }

  /// The base field, bits 47:12, in place: the output frame of a page, the
  /// block base (low bits RES0) or the next table's address.
  @inlinable public static func outputBase<W: Word>(_ descriptor: W) -> W { descriptor & bitMask(high: 47, low: 12) }

  // MARK: Encoding (concrete)

  /// The leaf `__p2m_set_entry()` writes for `entry` at `level`:
  /// `mfn_to_p2m_entry(mfn, t, p2m_access_rwx)` (AF = 1, read = 1,
  /// table = 1, valid = 1, type in 58:55, MemAttr and SH from the type,
  /// write and XN from `p2m_set_permission()`), then `table = 0` for a
  /// superpage (`level < 3`), and the valid bit cleared when the entry is
  /// hardware-invalid (`p2m_invalidate_table()` for Set/Way, §1.2).
  public static func leaf(for entry: P2MEntry, level: Int) throws(StageTwoError) -> UInt64 {
    guard (1...3).contains(level) else { throw .levelOutOfRange(level) }
    try checkFits(entry.mfn)
    let blockPages = UInt64(1) << UInt64(9 * (3 - level))
    guard entry.mfn.rawValue % blockPages == 0 else { throw .misalignedBlock(entry.mfn, level: level) }
    return leaf(frameAddress: entry.mfn.address, type: entry.type, level: level, hardwareValid: entry.hardwareValid)
  }

  /// The leaf descriptor for the frame at `frameAddress` (4K aligned, below
  /// 2^48), generic over the word so that `descriptor.roundtrip` proves the
  /// encoder itself: the frame's address with the attribute bits
  /// `mfn_to_p2m_entry()` sets for `type` (fact sheet §1.1, §1.2).
  @inlinable
  public static func leaf<W: Word>(frameAddress: W, type: P2MType, level: Int, hardwareValid: Bool) -> W {
    frameAddress | attributeBits(type: type, level: level, hardwareValid: hardwareValid)
  }

  /// Everything of a leaf descriptor but its output address.
  @inlinable
  public static func attributeBits(type: P2MType, level: Int, hardwareValid: Bool) -> UInt64 {
    let permissions = type.permissions
    var bits: UInt64 = hardwareValid ? 1 : 0
    bits |= level == 3 ? 1 << 1 : 0
    bits |= type.memoryAttributes << 2
    bits |= permissions.read ? 1 << 6 : 0
    bits |= permissions.write ? 1 << 7 : 0
    bits |= type.shareability << 8
    bits |= 1 << 10
    bits |= permissions.execute ? 0 : 1 << 54
    bits |= UInt64(type.rawValue) << 55
    return bits
  }

  /// A table descriptor pointing at `next`, as `page_to_p2m_table()`: the
  /// `p2m_ram_rw` encoding with table = 1 and valid = 1, so that
  /// `p2m_is_valid()` holds for it; the hardware ignores the attribute
  /// fields of a stage-2 table descriptor (Arm ARM D4.3.1, cited there).
  public static func table(next: MFN) throws(StageTwoError) -> UInt64 {
    try leaf(for: P2MEntry(mfn: next, type: .ramRW), level: 3)
  }

  // MARK: Decoding (concrete)

  /// The entry a leaf descriptor at `level` holds, as `p2m_get_entry()`
  /// reads it: the type from bits 58:55, the frame from the base field
  /// (the block's first frame for a superpage), the hardware valid bit.
  /// A table descriptor above L3 is not a leaf; raw types 12–15 are not
  /// `p2m_type_t` values (`p2m_max_real_type` is 12).
  public static func decodeLeaf(_ descriptor: UInt64, level: Int) throws(StageTwoError) -> P2MEntry {
    guard (1...3).contains(level) else { throw .levelOutOfRange(level) }
    if isTable(descriptor, level: level) { throw .notALeaf(descriptor, level: level) }
    let raw = softwareType(descriptor)
    guard let type = P2MType(rawValue: UInt8(raw)) else { throw .unknownSoftwareType(raw) }
    return P2MEntry(
      mfn: MFN(outputBase(descriptor) >> UInt64(pageShift)), type: type,
      hardwareValid: isValid(descriptor))
  }

  static func checkFits(_ mfn: MFN) throws(StageTwoError) {
    guard mfn.rawValue >> 36 == 0 else { throw .frameOutOfRange(mfn) }
  }
}
