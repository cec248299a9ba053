import P2MImpl
import SMMUImpl
import Spec
import Testing

/// The IOTLB's rules (fact sheet §7.3, §6.1): filled by translating walks
/// only, answered from on a hit, invalidated by whole VMID as Xen issues
/// it, or by IPA.
@Suite("IOTLB: fills, hits, faults, invalidation")
struct IOTLBTests {
  static let page: UInt64 = 0x40123

  /// dom0's eth attached, `page` mapped to frame 0x5_0000 as `type`.
  static func attached(type: P2MType = .ramRW) throws -> (World, SMMUIndex) {
    var world = try smallV2World()
    world.attach("eth", to: .dom0, "setup")
    try world.setEntry(.dom0, GFN(page), count: 1, mfn: MFN(0x5_0000), type: type)
    return (world, try world.impl.smmuIndex(named: "smmu0"))
  }

  @Test("a translating walk fills the IOTLB; the next access to the page hits it, at any offset")
  func hitAfterWalk() throws {
    let (world, smmu) = try Self.attached()
    let first = try world.impl.translate(stream: 0x10, on: smmu, address: Self.page << 12 | 0x18, access: .read)
    #expect(first.machineAddress == 0x5_0000_018)
    var statistics = try world.impl.iotlb(of: smmu).statistics
    #expect((statistics.hits, statistics.misses, statistics.fills) == (0, 1, 1))
    let entry = try #require(try world.impl.iotlb(of: smmu).lookup(vmid: 1, ipa: Self.page << 12))
    #expect((entry.outputPage, entry.read, entry.write, entry.level) == (0x5_0000_000, true, true, 3))
    // The second stream of the same device shares the SME's context, so it hits too.
    let second = try world.impl.translate(stream: 0x11, on: smmu, address: Self.page << 12 | 0xFF8, access: .write)
    #expect(second.machineAddress == 0x5_0000_FF8)
    statistics = try world.impl.iotlb(of: smmu).statistics
    #expect((statistics.hits, statistics.misses) == (1, 1))
  }

  @Test("faults are not cached: a translation fault, then a mapping with no flush at all, translates")
  func faultsNotCached() throws {
    var (world, smmu) = try Self.attached()
    let hole = GFN(Self.page + 1)
    let fault = try world.impl.translate(stream: 0x10, on: smmu, address: hole.address, access: .read)
    #expect(fault.stageTwo == .fault(StageTwoFault(kind: .translation, level: 3)))
    #expect(try world.impl.iotlb(of: smmu).statistics.fills == 0)
    // Even with every IOTLB flush dropped, invalid → valid needs none (§1.5, §7.3).
    try SeededBug.iotlbFlushIgnored.inject { try world.setEntry(.dom0, hole, count: 1, mfn: MFN(0x6_0000), type: .ramRW) }
    let now = try world.impl.translate(stream: 0x10, on: smmu, address: hole.address, access: .read)
    #expect(now.machineAddress == 0x6_0000_000)
  }

  @Test("a cached read-only entry answers a write with a permission fault at the leaf's level, as the walk does")
  func permissionFromCachedEntry() throws {
    var (world, smmu) = try Self.attached(type: .ramRO)
    let address = Self.page << 12 | 0x40
    #expect(try world.impl.translate(stream: 0x10, on: smmu, address: address, access: .read).machineAddress == 0x5_0000_040)
    let write = try world.impl.translate(stream: 0x10, on: smmu, address: address, access: .write)
    #expect(write.stageTwo == .fault(StageTwoFault(kind: .permission, level: 3)))
    #expect(write.stageTwo == world.impl.walk(domain: .dom0, address: address, access: .write))
    let statistics = try world.impl.iotlb(of: smmu).statistics
    #expect((statistics.hits, statistics.misses, statistics.fills) == (1, 1, 1), "the write was answered from the entry")
    // A walk that permission-faults fills nothing (only translating walks do).
    let other = Self.page + 2
    try world.setEntry(.dom0, GFN(other), count: 1, mfn: MFN(0x7_0000), type: .ramRO)
    _ = try world.impl.translate(stream: 0x10, on: smmu, address: other << 12, access: .write)
    #expect(try world.impl.iotlb(of: smmu).lookup(vmid: 1, ipa: other << 12) == nil)
  }

  @Test("whole-VMID invalidation drops that VMID's entries only")
  func vmidInvalidation() {
    var iotlb = IOTLB(capacity: 64, vmidBits: 8)
    iotlb.fill(vmid: 1, ipa: 0x1000, outputAddress: 0xA000, read: true, write: true, level: 3)
    iotlb.fill(vmid: 1, ipa: 0x2000, outputAddress: 0xB000, read: true, write: false, level: 3)
    iotlb.fill(vmid: 2, ipa: 0x1000, outputAddress: 0xC000, read: true, write: true, level: 2)
    #expect(iotlb.entries.count == 3)
    iotlb.invalidate(vmid: 1)
    #expect(iotlb.lookup(vmid: 1, ipa: 0x1000) == nil)
    #expect(iotlb.lookup(vmid: 1, ipa: 0x2000) == nil)
    #expect(iotlb.lookup(vmid: 2, ipa: 0x1000)?.outputPage == 0xC000)
    #expect(iotlb.entries.map(\.vmid) == [2])
    // Refilled after the invalidation, the entry is live again.
    iotlb.fill(vmid: 1, ipa: 0x1000, outputAddress: 0xD000, read: true, write: true, level: 3)
    #expect(iotlb.lookup(vmid: 1, ipa: 0x1FFF)?.outputPage == 0xD000)
  }

  @Test("invalidation by IPA range drops those pages of that VMID, by slot probe or by scan")
  func ipaInvalidation() {
    var iotlb = IOTLB(capacity: 16, vmidBits: 8)
    for page: UInt64 in 0..<4 {
      iotlb.fill(vmid: 3, ipa: page << 12, outputAddress: (0x100 + page) << 12, read: true, write: true, level: 3)
    }
    iotlb.fill(vmid: 4, ipa: 0x1000, outputAddress: 0x9000, read: true, write: true, level: 3)
    iotlb.invalidate(vmid: 3, pages: 1..<3)
    #expect(iotlb.entries.filter { $0.vmid == 3 }.map(\.page).sorted() == [0, 3])
    iotlb.invalidate(vmid: 3, pages: 0..<1024)  // wider than the capacity: a scan
    #expect(iotlb.entries.map(\.vmid) == [4])
  }

  @Test("direct-mapped: a fill evicts the entry in its slot; faulting and out-of-range fills are refused")
  func replacement() {
    var iotlb = IOTLB(capacity: 1, vmidBits: 8)
    iotlb.fill(vmid: 1, ipa: 0x1000, outputAddress: 0xA000, read: true, write: true, level: 3)
    iotlb.fill(vmid: 1, ipa: 0x2000, outputAddress: 0xB000, read: true, write: true, level: 3)
    #expect(iotlb.lookup(vmid: 1, ipa: 0x1000) == nil)
    #expect(iotlb.lookup(vmid: 1, ipa: 0x2000)?.outputPage == 0xB000)
    iotlb.fill(vmid: 300, ipa: 0x3000, outputAddress: 0xC000, read: true, write: true, level: 3)
    iotlb.fill(vmid: 1, ipa: 1 << 48, outputAddress: 0xC000, read: true, write: true, level: 3)
    iotlb.fill(vmid: 1, ipa: 0x3000, outputAddress: 0xC000, read: true, write: true, level: 0)
    #expect(iotlb.entries.map(\.page) == [2], "VMID beyond 8 bits, IPA beyond 48 bits and level 0 are not cached")
  }

  @Test("Xen's flush reaches every context of the domain on every SMMU, and no other domain's")
  func flushReachesEveryContext() throws {
    var world = try World(
      smmus: [.v2(name: "a"), .v3(name: "b")],
      devices: [
        Device(name: "x", attachment: .behindSMMU(smmu: "a", streamIDs: [1], described: true)),
        Device(name: "y", attachment: .behindSMMU(smmu: "b", streamIDs: [2], described: true)),
        Device(name: "z", attachment: .behindSMMU(smmu: "a", streamIDs: [3], described: true)),
      ],
      domains: [.dom0, DomainID(1)])
    world.attach("x", to: .dom0, "setup")
    world.attach("y", to: .dom0, "setup")
    world.attach("z", to: DomainID(1), "setup")
    try world.setEntry(.dom0, GFN(0x100), count: 1, mfn: MFN(0x1000), type: .ramRW)
    try world.setEntry(DomainID(1), GFN(0x100), count: 1, mfn: MFN(0x2000), type: .ramRW)
    let a = try world.impl.smmuIndex(named: "a")
    let b = try world.impl.smmuIndex(named: "b")
    for (stream, smmu) in [(StreamID(1), a), (2, b), (3, a)] {
      _ = try world.impl.translate(stream: stream, on: smmu, address: 0x100_000, access: .read)
    }
    #expect(try world.impl.iotlb(of: a).entries.count == 2)
    #expect(try world.impl.iotlb(of: b).entries.count == 1)
    try world.setEntry(.dom0, GFN(0x200), count: 1, mfn: MFN(0x3000), type: .ramRW)
    #expect(try world.impl.iotlb(of: a).entries.map(\.vmid) == [2], "dom0's bank 0 (VMID 1) flushed, d1's bank 1 (VMID 2) kept")
    #expect(try world.impl.iotlb(of: b).entries.isEmpty)
  }
}
