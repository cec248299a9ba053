import Spec
import Testing

@Suite("Stage-2 geometry (§1.3)")
struct StageTwoGeometryTests {
  /// `pa_range_info[]` rows of `setup_virt_paging()` (fact sheet §1.3 table).
  static let rows: [(ipaBits: Int, t0sz: Int, rootTables: Int, sl0: Int, rootLevel: Int)] = [
    (32, 32, 1, 1, 1), (36, 28, 1, 1, 1), (40, 24, 2, 1, 1),
    (42, 22, 8, 1, 1), (44, 20, 1, 2, 0), (48, 16, 1, 2, 0),
  ]

  @Test("each supported IPA size gives the §1.3 row", arguments: rows)
  func row(expected: (ipaBits: Int, t0sz: Int, rootTables: Int, sl0: Int, rootLevel: Int)) throws {
    let geometry = try StageTwoGeometry(ipaBits: expected.ipaBits)
    #expect(geometry.ipaBits == expected.ipaBits)
    #expect(geometry.t0sz == expected.t0sz)
    #expect(geometry.concatenatedRootTables == expected.rootTables)
    #expect(geometry.sl0 == expected.sl0)
    #expect(geometry.rootLevel == expected.rootLevel)
    #expect(geometry.rootLevel == 2 - geometry.sl0)
  }

  @Test("other IPA sizes are refused, 52 included (§1.3: concatenated L0 root forbidden)", arguments: [0, 31, 39, 41, 52, 64, -1])
  func unsupported(bits: Int) {
    #expect(throws: StageTwoError.unsupportedIPASize(bits)) { try StageTwoGeometry(ipaBits: bits) }
  }

  @Test("VTTBR = root | VMID << 48, as generate_vttbr() (§1.3)")
  func vttbr() throws {
    let geometry = try StageTwoGeometry(ipaBits: 40)
    #expect(try geometry.vttbr(rootAddress: 0x8_0000_2000, vmid: 1) == 0x0001_0008_0000_2000)
    #expect(try geometry.vttbr(rootAddress: 0x4000, vmid: 0xFFFF) == 0xFFFF_0000_0000_4000)
  }

  @Test("VMID 0 is INVALID_VMID (§1.3)")
  func vmidZeroReserved() throws {
    let geometry = try StageTwoGeometry(ipaBits: 48)
    #expect(throws: StageTwoError.reservedVMID) { try geometry.vttbr(rootAddress: 0x1000, vmid: 0) }
  }

  @Test("a root must be aligned to its concatenated tables and inside the PA size")
  func rootAddressChecked() throws {
    let concatenated = try StageTwoGeometry(ipaBits: 40)
    #expect(concatenated.rootAlignment == 0x2000)
    #expect(throws: StageTwoError.badRootAddress(0x3000, ipaBits: 40)) { try concatenated.vttbr(rootAddress: 0x3000, vmid: 1) }
    let eight = try StageTwoGeometry(ipaBits: 42)
    #expect(throws: StageTwoError.badRootAddress(0x4000, ipaBits: 42)) { try eight.vttbr(rootAddress: 0x4000, vmid: 1) }
    #expect(try eight.vttbr(rootAddress: 0x8000, vmid: 2) == 0x0002_0000_0000_8000)
    let small = try StageTwoGeometry(ipaBits: 32)
    #expect(throws: StageTwoError.badRootAddress(0x1_0000_0000, ipaBits: 32)) { try small.vttbr(rootAddress: 0x1_0000_0000, vmid: 1) }
    #expect(throws: StageTwoError.badRootAddress(0x800, ipaBits: 32)) { try small.vttbr(rootAddress: 0x800, vmid: 1) }
  }
}
