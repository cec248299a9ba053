import P2MImpl
import Spec
import Testing

/// The software TLB (fact sheet §7.3): tagged by VMID, fills only on
/// successful walks, invalidated by VMID or IPA range.
@Suite("Translation cache: VMID tags, fills, invalidation (§7.3)")
struct TranslationCacheTests {
  static func outcome(frame: UInt64, writable: Bool = true) throws -> WalkOutcome<UInt64> {
    var store = FrameStore()
    let type: P2MType = writable ? .ramRW : .ramRO
    try store.write(XenDescriptor.leaf(for: P2MEntry(mfn: MFN(frame), type: type), level: 1), table: MFN(0x100), index: 0)
    return stageTwoWalk(memory: store, geometry: try StageTwoGeometry(ipaBits: 32), rootAddress: MFN(0x100).address,
                        inputAddress: 0x123, access: .read)
  }

  @Test("an entry hits only for its own VMID; invalidating one VMID keeps the other's")
  func vmidTags() throws {
    var cache = TranslationCache(capacity: 64)
    cache.fill(vmid: 1, ipa: 0x5000, outcome: try Self.outcome(frame: 0x40000))
    cache.fill(vmid: 2, ipa: 0x6000, outcome: try Self.outcome(frame: 0x80000))
    #expect(cache.lookup(vmid: 1, ipa: 0x5123) != nil)
    #expect(cache.lookup(vmid: 2, ipa: 0x5123) == nil)
    cache.invalidate(vmid: 1)
    #expect(cache.lookup(vmid: 1, ipa: 0x5123) == nil)
    #expect(cache.lookup(vmid: 2, ipa: 0x6FFF) != nil)
  }

  @Test("range invalidation drops exactly the pages in the range, by probing and by scanning", arguments: [8, 4096])
  func rangeInvalidation(capacity: Int) throws {
    var cache = TranslationCache(capacity: capacity)
    let outcome = try Self.outcome(frame: 0x40000)
    for page: UInt64 in 0..<8 { cache.fill(vmid: 3, ipa: page << 12, outcome: outcome) }
    cache.invalidate(vmid: 3, gfns: 2..<(capacity == 8 ? 5 : 5))
    if capacity == 8 {
      cache.invalidate(vmid: 3, gfns: 6..<100)  // larger than the cache: the scanning path
    }
    let kept = (0..<8).filter { cache.lookup(vmid: 3, ipa: UInt64($0) << 12) != nil }
    #expect(kept == (capacity == 8 ? [0, 1, 5] : [0, 1, 5, 6, 7]))
  }

  @Test("faults are not cached; a cached read-only entry gives a permission fault to a write")
  func onlySuccessesCached() throws {
    var p2m = try makeP2M(ipaBits: 40)
    try p2m.map(GFN(0x10), to: MFN(0x500), type: .ramRO)
    _ = p2m.translate(GFN(0x11).address, access: .read)
    _ = p2m.translate(GFN(0x10).address, access: .write)
    #expect(p2m.tlb.entries.isEmpty)
    _ = p2m.translate(GFN(0x10).address, access: .read)
    #expect(p2m.tlb.entries.count == 1)
    #expect(p2m.translate(GFN(0x10).address, access: .write) == .fault(StageTwoFault(kind: .permission, level: 3)))
    #expect(p2m.translate(1 << 60 | GFN(0x10).address, access: .read) == .fault(StageTwoFault(kind: .translation, level: 0)))
  }

  @Test("a replaced mapping is not served stale: the BBM flush empties the VMID's entries")
  func replacementFlushes() throws {
    var p2m = try makeP2M(ipaBits: 40)
    try p2m.map(GFN(0x10), to: MFN(0x500), type: .ramRW)
    _ = p2m.translate(GFN(0x10).address, access: .read)
    try p2m.map(GFN(0x10), to: MFN(0x600), type: .ramRW)
    #expect(p2m.tlb.entries.isEmpty)
    #expect(p2m.translate(GFN(0x10).address | 8, access: .read)
      == .translated(address: MFN(0x600).address | 8, level: 3,
                     permissions: Permissions(read: true, write: true, execute: true), type: .ramRW))
  }
}
