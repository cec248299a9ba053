/// The shape of a 4K-granule stage-2 translation for one IPA size: where the
/// walk starts and how many root tables are concatenated there.
///
/// Xen picks the row from `pa_range_info[]` in `setup_virt_paging()`
/// (xen/arch/arm/mmu/p2m.c; fact sheet §1.3) and programs VTCR_EL2 with
/// T0SZ and SL0; the root level is `2 − SL0` for the 4K granule (Arm ARM
/// DDI 0487H.a Table D5-6, cited by Xen). The IPA size equals the PA size
/// (`p2m_ipa_bits`), so the same number bounds output addresses.
public struct StageTwoGeometry: Hashable, Sendable, CustomStringConvertible {
  /// Input (and, for Xen, output) address size in bits.
  public let ipaBits: Int
  /// The start level of the walk: 1 up to 42 bits, 0 for 44 and 48.
  public let rootLevel: Int
  /// Root tables concatenated at the start level (`P2M_ROOT_PAGES`): 2 for a
  /// 40-bit IPA, 8 for 42 bits, 1 otherwise.
  public let concatenatedRootTables: Int
  /// VTCR_EL2.SL0 for the 4K granule.
  public let sl0: Int

  /// The sizes a 4K-granule Xen p2m can use. The 52-bit row of
  /// `pa_range_info[]` needs a concatenated level-0 root, which Xen's
  /// `BUG_ON` forbids (fact sheet §1.3, [uncertain whether reachable]).
  public static let supportedIPABits = [32, 36, 40, 42, 44, 48]

  public init(ipaBits: Int) throws(StageTwoError) {
    // (T0SZ is derived; root order and SL0 are the `pa_range_info[]` columns.)
    let rows: [Int: (rootOrder: Int, sl0: Int)] = [
      32: (0, 1), 36: (0, 1), 40: (1, 1), 42: (3, 1), 44: (0, 2), 48: (0, 2),
    ]
    guard let row = rows[ipaBits] else { throw .unsupportedIPASize(ipaBits) }
    self.ipaBits = ipaBits
    self.sl0 = row.sl0
    self.rootLevel = 2 - row.sl0
    self.concatenatedRootTables = 1 << row.rootOrder
  }

  /// VTCR_EL2.T0SZ: the IPA size is `64 − T0SZ`.
  public var t0sz: Int { 64 - ipaBits }

  /// The lowest IPA bit that indexes the table at `level`: 39, 30, 21, 12
  /// for levels 0–3 (9 bits per level, 4K pages).
  @usableFromInline
  static func indexShift(level: Int) -> Int { pageShift + 9 * (3 - level) }

  /// The highest IPA bit that indexes the table at `level`. At the start
  /// level it is the top IPA bit, so the index reaches into the concatenated
  /// root tables (40-bit IPA: bits 39:30, 1024 entries over 2 pages).
  @usableFromInline
  func indexHighBit(level: Int) -> Int {
    level == rootLevel ? ipaBits - 1 : Self.indexShift(level: level) + 8
  }

  /// The byte alignment of the root tables: Xen allocates them with
  /// `alloc_domheap_pages(P2M_ROOT_ORDER)`, so they are naturally aligned.
  public var rootAlignment: UInt64 { UInt64(concatenatedRootTables) * pageSize }

  /// VTTBR_EL2 for a root at `rootAddress` and a VMID, as Xen's
  /// `generate_vttbr()` builds it: `root_maddr | vmid << 48`. VMID 0 is
  /// `INVALID_VMID` and is never given to a domain (fact sheet §1.3).
  public func vttbr(rootAddress: UInt64, vmid: UInt16) throws(StageTwoError) -> UInt64 {
    guard vmid != 0 else { throw .reservedVMID }
    guard rootAddress % rootAlignment == 0, rootAddress >> UInt64(ipaBits) == 0 else {
      throw .badRootAddress(rootAddress, ipaBits: ipaBits)
    }
    return rootAddress | UInt64(vmid) << 48
  }

  public var description: String {
    "\(ipaBits)-bit IPA, root L\(rootLevel)" + (concatenatedRootTables > 1 ? " ×\(concatenatedRootTables)" : "")
  }
}
