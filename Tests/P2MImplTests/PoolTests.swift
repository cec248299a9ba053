import P2MImpl
import Spec
import Testing

/// The per-domain P2M pool (XSA-409/410): exhaustion is an error value,
/// never a crash, and leaves every translation as it was.
@Suite("P2M pool: allocation, exhaustion, reuse")
struct PoolTests {
  @Test("no page for a missing table: −ENOENT, translations unchanged, tables made so far stay hooked in (48-bit)")
  func tableAllocationFails() throws {
    var p2m = try makeP2M(ipaBits: 48, poolPages: 1)
    #expect(throws: XenP2MError.tableAllocationFailed(GFN(0x12345), completedPages: 0)) {
      try p2m.map(GFN(0x12345), to: MFN(0x42), type: .ramRW)
    }
    #expect(XenP2MError.tableAllocationFailed(GFN(0), completedPages: 0).xenErrno == -2)
    // The L1 table was made; its entry for the L2 table is still empty.
    #expect(p2m.walk(GFN(0x12345).address, access: .read) == .fault(StageTwoFault(kind: .translation, level: 1)))
    #expect(p2m.lookup(GFN(0x12345)) == nil)
    #expect(p2m.memory.pagesInUse == 1)
    #expect(p2m.maxMappedGFN == nil)
    expectNoViolations(p2m, "after the failed allocation")
  }

  @Test("a split that runs out frees its partial copy and leaves the block byte-for-byte intact: −ENOMEM")
  func splitFailureLeavesTablesUnchanged() throws {
    var p2m = try makeP2M(ipaBits: 40, poolPages: 1)
    try p2m.map(GFN(1 << 18), count: 1 << 18, to: MFN(2 << 18), type: .ramRO)
    let before = p2m.memory.liveTables()
    p2m.recordsEvents = true
    #expect(throws: XenP2MError.splitAllocationFailed(GFN(1 << 18 + 0x777), completedPages: 0)) {
      try p2m.map(GFN(1 << 18 + 0x777), to: MFN(0x42), type: .ramRW)
    }
    #expect(p2m.memory.liveTables() == before)
    #expect(p2m.memory.pagesInUse == 0)
    #expect(p2m.events.contains { if case .tableFreed = $0 { true } else { false } })
    #expect(!p2m.events.contains { if case .tlbFlush = $0 { true } else { false } }, "the live tables were never touched")
    #expect(p2m.lookup(GFN(1 << 18 + 0x777)) == P2MEntry(mfn: MFN(2 << 18 + 0x777), type: .ramRO))
    #expect(XenP2MError.splitAllocationFailed(GFN(0), completedPages: 0).xenErrno == -12)
    expectNoViolations(p2m, "after the failed split")
  }

  @Test("a request cut short by exhaustion reports the pages already done; they are mapped")
  func partialProgress() throws {
    var p2m = try makeP2M(ipaBits: 40, poolPages: 2)
    // 0x1FE..0x201: two L3 tables needed besides the L2 table.
    #expect(throws: XenP2MError.tableAllocationFailed(GFN(0x200), completedPages: 2)) {
      try p2m.map(GFN(0x1FE), count: 4, to: MFN(0x900), type: .ramRW)
    }
    #expect(p2m.lookup(GFN(0x1FF)) == P2MEntry(mfn: MFN(0x901), type: .ramRW))
    #expect(p2m.lookup(GFN(0x200)) == nil)
  }

  @Test("freed table pages return to the tail of the free list (FIFO, p2m_free_page)")
  func fifoReuse() throws {
    var p2m = try makeP2M(ipaBits: 40, poolPages: 4)
    try p2m.map(GFN(0x10), to: MFN(0x500), type: .ramRW)  // L2 table = slot 2, L3 table = slot 3
    try p2m.map(GFN(0), count: 512, to: MFN(0x800), type: .ramRW)  // frees the L3 table
    p2m.recordsEvents = true
    try p2m.map(GFN(0x400), to: MFN(0x500), type: .ramRW)
    let base = tableBase(ipaBits: 40)
    #expect(p2m.events.first == .tableAllocated(base.advanced(by: 4)), "the never-used page comes before the freed one")
    #expect(p2m.memory.freeCount == 2)
  }

  @Test("bad table regions and contexts are refused with an error")
  func badConfiguration() {
    #expect(throws: XenP2MError.badTableRegion(MFN(0x801), pages: 4, ipaBits: 40)) {
      try XenP2M(ipaBits: 40, vmid: 1, tableBase: MFN(0x801), poolPages: 2)
    }
    #expect(throws: XenP2MError.badTableRegion(MFN(0xFFFFE), pages: 3, ipaBits: 32)) {
      try XenP2M(ipaBits: 32, vmid: 1, tableBase: MFN(0xFFFFE), poolPages: 2)
    }
    #expect(throws: XenP2MError.geometry(.reservedVMID)) { try XenP2M(ipaBits: 40, vmid: 0, tableBase: MFN(0x800), poolPages: 2) }
    #expect(throws: XenP2MError.geometry(.unsupportedIPASize(39))) {
      try XenP2M(ipaBits: 39, vmid: 1, tableBase: MFN(0x800), poolPages: 2)
    }
  }
}
