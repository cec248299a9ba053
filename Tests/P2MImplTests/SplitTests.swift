import P2MImpl
import Spec
import Testing

/// Superpage splits (`p2m_split_superpage()`, fact sheet §1.5 step 3):
/// children copy the parent (`97323702bf`), recursion follows the GFN, and
/// nothing is ever merged back.
@Suite("Superpage split and removal inside superpages (§1.5)")
struct SplitTests {
  @Test("remapping one 4K page of a 2 MiB block: the other 511 keep the parent's type, permissions and frames")
  func splitInheritsParent() throws {
    var p2m = try makeP2M(ipaBits: 40)
    try p2m.map(GFN(0x1200), count: 512, to: MFN(0x5_0000), type: .grantMapRO)
    try p2m.map(GFN(0x1234), to: MFN(0x9_9999), type: .ramRW)
    #expect(p2m.counters.shattered[2] == 1)
    for index: UInt64 in [0, 0x33, 0x35, 0x1FF] {
      let gfn = GFN(0x1200 + index)
      #expect(level(p2m, gfn) == 3)
      #expect(p2m.lookup(gfn) == P2MEntry(mfn: MFN(0x5_0000 + index), type: .grantMapRO), "\(gfn)")
      #expect(p2m.walk(gfn.address, access: .write) == .fault(StageTwoFault(kind: .permission, level: 3)), "\(gfn)")
    }
    #expect(p2m.lookup(GFN(0x1234)) == P2MEntry(mfn: MFN(0x9_9999), type: .ramRW))
    expectNoViolations(p2m, "after split")
  }

  @Test("remapping one 4K page of a 1 GiB block splits recursively along its path only")
  func recursiveSplit() throws {
    var p2m = try makeP2M(ipaBits: 40)
    try p2m.map(GFN(1 << 18), count: 1 << 18, to: MFN(2 << 18), type: .ramRO)
    let target = GFN(1 << 18 + 0x2_0403)
    try p2m.map(target, to: MFN(0x42), type: .ramRW)
    #expect(p2m.counters.shattered == [0, 1, 1, 0])
    #expect(p2m.memory.pagesInUse == 2)
    #expect(level(p2m, target) == 3)
    #expect(level(p2m, GFN(target.rawValue + 1)) == 3)
    #expect(level(p2m, GFN(1 << 18)) == 2)
    #expect(level(p2m, GFN(target.rawValue + 512)) == 2)
    #expect(p2m.lookup(GFN(target.rawValue + 512)) == P2MEntry(mfn: MFN(2 << 18 + 0x2_0403 + 512), type: .ramRO))
    expectNoViolations(p2m, "after recursive split")
  }

  @Test("removing one 4K page inside a 2 MiB block leaves a hole; remapping it never merges back")
  func removalWithoutMerge() throws {
    var p2m = try makeP2M(ipaBits: 40)
    var spec = ReferenceP2M(ipaBits: 40)
    try p2m.map(GFN(0x1200), count: 512, to: MFN(0x5_0000), type: .ramRW)
    try spec.map(GFN(0x1200), count: 512, to: MFN(0x5_0000), type: .ramRW)
    try p2m.unmap(GFN(0x1300))
    try spec.unmap(GFN(0x1300))
    for gfn: UInt64 in [0x12FF, 0x1300, 0x1301] { expectAgrees(&p2m, spec, gfn: GFN(gfn), "after removal") }
    let tables = p2m.memory.pagesInUse
    try p2m.map(GFN(0x1300), to: MFN(0x5_0100), type: .ramRW)
    #expect(level(p2m, GFN(0x1300)) == 3)
    #expect(p2m.memory.pagesInUse == tables)
    expectNoViolations(p2m, "after remap")
  }

  @Test("mutant: a split that rebuilds children as ram_rw is caught by the differential check")
  func splitWithoutInheritanceIsCaught() throws {
    var p2m = try makeP2M(ipaBits: 40)
    var spec = ReferenceP2M(ipaBits: 40)
    try p2m.map(GFN(0x1200), count: 512, to: MFN(0x5_0000), type: .grantMapRO)
    try spec.map(GFN(0x1200), count: 512, to: MFN(0x5_0000), type: .grantMapRO)
    try SeededBug.splitChildrenLosePermissions.inject { try p2m.map(GFN(0x1234), to: MFN(0x9_9999), type: .ramRW) }
    try spec.map(GFN(0x1234), to: MFN(0x9_9999), type: .ramRW)
    #expect(p2m.lookup(GFN(0x1235)) != spec.lookup(GFN(0x1235)))
    #expect(Seen(p2m.walk(GFN(0x1235).address, access: .write))
      != Seen(expectedFrom: spec, ipa: GFN(0x1235).address, access: .write))
  }
}
