import P2MImpl
import Spec
import Testing

/// The order of effects other agents can observe (fact sheet §1.5 steps
/// 3–6, §6.5, §7.3): break-before-make with a CPU TLB flush between the
/// zero write and the new one, the IOTLB flush after the write, and frees
/// and foreign puts only after that flush (`6718787797`).
@Suite("Break-before-make and flush ordering (§1.5, §6.5, §7.3)")
struct BreakBeforeMakeTests {
  /// Events with split-table fills (writes into a table not yet hooked in) left out.
  static func visible(_ events: [P2MEvent], hiddenTables: Set<UInt64>) -> [P2MEvent] {
    events.filter {
      if case .descriptorWrite(let address, _, _) = $0 { return !hiddenTables.contains(address >> 12) }
      return true
    }
  }

  static func index(_ events: [P2MEvent], _ match: (P2MEvent) -> Bool) -> Int? { events.firstIndex(where: match) }

  @Test("replacing a foreign 4K page: zero write, TLB flush, new write, IOTLB flush, then the foreign put")
  func replaceLeaf() throws {
    var p2m = try makeP2M(ipaBits: 40)
    try p2m.map(GFN(0x10), to: MFN(0x500), type: .mapForeignRW)
    p2m.recordsEvents = true
    try p2m.map(GFN(0x10), to: MFN(0x600), type: .ramRW)
    let leafAddress = try #require(writes(p2m.events).first?.address)
    let newLeaf = try XenDescriptor.leaf(for: P2MEntry(mfn: MFN(0x600), type: .ramRW), level: 3)
    let oldLeaf = try XenDescriptor.leaf(for: P2MEntry(mfn: MFN(0x500), type: .mapForeignRW), level: 3)
    #expect(p2m.events == [
      .descriptorWrite(address: leafAddress, old: oldLeaf, new: 0),
      .tlbFlush(vmid: 1),
      .descriptorWrite(address: leafAddress, old: 0, new: newLeaf),
      .iotlbFlush(IOTLBFlush(gfn: GFN(0x10), pageCount: 1, modified: true, added: true)),
      .foreignPagesPut(MFN(0x500), count: 1),
    ])
  }

  @Test("removing a foreign page: zero write, IOTLB flush, foreign put; the CPU TLB flush is deferred to unlock")
  func removeLeaf() throws {
    var p2m = try makeP2M(ipaBits: 40)
    try p2m.map(GFN(0x10), to: MFN(0x500), type: .mapForeignRO)
    #expect(Seen(p2m.translate(GFN(0x10).address, access: .read)) != .fault(.translation))
    p2m.recordsEvents = true
    try p2m.unmap(GFN(0x10))
    let kinds = p2m.events.map { event -> String in
      switch event {
      case .descriptorWrite(_, _, let new): new == 0 ? "zero" : "write"
      case .tlbFlush: "tlb"
      case .iotlbFlush(let flush): flush.modified && !flush.added ? "iotlb-modified" : "iotlb-other"
      case .foreignPagesPut: "put"
      case .tableFreed: "free"
      case .tableAllocated: "alloc"
      }
    }
    #expect(kinds == ["zero", "iotlb-modified", "put", "tlb"])
    // The deferred flush reached the TLB model: the cached translation is gone.
    #expect(p2m.translate(GFN(0x10).address, access: .read) == .fault(StageTwoFault(kind: .translation, level: 3)))
  }

  @Test("splitting a block: the copy is filled first, then zero, TLB flush, table write on the live slot")
  func splitOrder() throws {
    var p2m = try makeP2M(ipaBits: 40)
    try p2m.map(GFN(0x1200), count: 512, to: MFN(0x5_0000), type: .ramRW)
    p2m.recordsEvents = true
    try p2m.map(GFN(0x1234), to: MFN(0x9_9999), type: .ramRW)
    guard case .tableAllocated(let newTable) = p2m.events.first else {
      Issue.record("the split starts by allocating its table: \(p2m.events.prefix(3))")
      return
    }
    let fills = p2m.events.prefix(513).dropFirst()
    #expect(fills.allSatisfy { if case .descriptorWrite(let address, _, _) = $0 { address >> 12 == newTable.rawValue } else { false } })
    let live = Self.visible(Array(p2m.events.dropFirst(513)), hiddenTables: [])
    let block = try XenDescriptor.leaf(for: P2MEntry(mfn: MFN(0x5_0000), type: .ramRW), level: 2)
    let table = try XenDescriptor.table(next: newTable)
    guard live.count >= 6, case .descriptorWrite(let slot, block, 0) = live[0] else {
      Issue.record("expected BBM on the block's slot, got \(live.prefix(6))")
      return
    }
    #expect(live[1] == .tlbFlush(vmid: 1))
    #expect(live[2] == .descriptorWrite(address: slot, old: 0, new: table))
    // Then the 4K change inside: the copied child is hardware-valid, so BBM again.
    guard case .descriptorWrite(let leafAddress, _, 0) = live[3] else {
      Issue.record("expected the child's zero write, got \(live[3])")
      return
    }
    #expect(leafAddress >> 12 == newTable.rawValue && leafAddress & 0xFFF == 0x34 * 8)
    #expect(live[4] == .tlbFlush(vmid: 1))
    #expect(live[5] == .descriptorWrite(address: leafAddress, old: 0,
                                        new: try XenDescriptor.leaf(for: P2MEntry(mfn: MFN(0x9_9999), type: .ramRW), level: 3)))
  }

  @Test("a block over a table: the IOTLB flush comes before the foreign puts and the table free")
  func tableReplacedByBlock() throws {
    var p2m = try makeP2M(ipaBits: 40)
    var seen: [IOTLBFlush] = []
    try p2m.map(GFN(0x1200), count: 4, to: MFN(0x500), type: .mapForeignRW)
    p2m.recordsEvents = true
    p2m.iotlbFlushHandler = { seen.append($0) }
    try p2m.map(GFN(0x1200), count: 512, to: MFN(0x8_0000), type: .ramRW)
    let events = p2m.events
    let flush = try #require(Self.index(events) { if case .iotlbFlush = $0 { true } else { false } })
    let free = try #require(Self.index(events) { if case .tableFreed = $0 { true } else { false } })
    let puts = events.indices.filter { if case .foreignPagesPut = events[$0] { true } else { false } }
    #expect(puts.count == 4)
    #expect(puts.allSatisfy { $0 > flush } && free > flush)
    #expect(seen == [IOTLBFlush(gfn: GFN(0x1200), pageCount: 512, modified: true, added: true)])
    #expect(p2m.memory.pagesInUse == 1)
    expectNoViolations(p2m, "after the block replaced the table")
  }

  @Test("mutant: releasing before the IOTLB flush (before 6718787797) shows in the event order")
  func freeBeforeFlushIsVisible() throws {
    var p2m = try makeP2M(ipaBits: 40)
    try p2m.map(GFN(0x10), to: MFN(0x500), type: .mapForeignRW)
    p2m.recordsEvents = true
    try SeededBug.freeBeforeIOTLBFlush.inject { try p2m.unmap(GFN(0x10)) }
    let flush = try #require(Self.index(p2m.events) { if case .iotlbFlush = $0 { true } else { false } })
    let put = try #require(Self.index(p2m.events) { if case .foreignPagesPut = $0 { true } else { false } })
    #expect(put < flush)
  }

  @Test("no IOMMU, no IOTLB flush; new entries over holes flush nothing")
  func flushesOnlyWhenNeeded() throws {
    var p2m = try makeP2M(ipaBits: 40, iommuEnabled: false)
    try p2m.map(GFN(0x10), to: MFN(0x500), type: .ramRW)
    try p2m.map(GFN(0x10), to: MFN(0x501), type: .ramRW)
    #expect(p2m.counters.iotlbFlushes == 0)
    #expect(p2m.counters.tlbFlushes == 1)
    var shared = try makeP2M(ipaBits: 40)
    try shared.map(GFN(0x10), count: 3, to: MFN(0x500), type: .ramRW)
    #expect(shared.counters.tlbFlushes == 0)
    #expect(shared.counters.iotlbFlushes == 3)
  }
}
