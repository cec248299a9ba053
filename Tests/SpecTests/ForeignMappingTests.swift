import Spec
import Testing

/// XENMEM_add_to_physmap(XENMAPSPACE_gmfn_foreign) and
/// XENMEM_remove_from_physmap (fact sheet §2.4).
@Suite("Foreign mapping")
struct ForeignMappingTests {
  static let d1 = DomainID(1)
  static let d2 = DomainID(2)
  static let slot = GFN(0xA0000)

  static func platform() throws -> XenState {
    try GrantTableTests.platform(.v4_15, iommu: true)
  }

  @Test("§2.4: ram_rw becomes map_foreign_rw at the caller's GFN, with no IOMMU side effect")
  func foreignReadWrite() throws {
    var xen = try Self.platform()
    let before = try xen.domain(.dom0).p2m.entries
    try xen.addToPhysmapForeign(foreign: Self.d1, gfn: GFN(0x40004), at: Self.slot)
    let after = try xen.domain(.dom0).p2m.entries
    #expect(after[Self.slot] == P2MEntry(mfn: MFN(0x90004), type: .mapForeignRW))
    #expect(after.count == before.count + 1)
    #expect(after[GFN(0x90004)] == nil)
  }

  @Test("§2.4: ram_ro becomes map_foreign_ro")
  func foreignReadOnly() throws {
    var xen = try Self.platform()
    try xen.updateP2M(of: Self.d1) { p2m throws(P2MError) in try p2m.map(GFN(0x40005), to: MFN(0x90005), type: .ramRO) }
    try xen.addToPhysmapForeign(foreign: Self.d1, gfn: GFN(0x40005), at: Self.slot)
    #expect(xen.domains[.dom0]?.p2m.lookup(Self.slot) == P2MEntry(mfn: MFN(0x90005), type: .mapForeignRO))
  }

  @Test("§2.4: the 4K entry replaces whatever was at the caller's GFN")
  func replaces() throws {
    var xen = try Self.platform()
    try xen.addToPhysmapForeign(foreign: Self.d1, gfn: GFN(0x40004), at: GFN(0x80003))
    #expect(xen.domains[.dom0]?.p2m.lookup(GFN(0x80003)) == P2MEntry(mfn: MFN(0x90004), type: .mapForeignRW))
  }

  @Test("§2.4: pages that are not the foreign domain's RAM are refused (-EINVAL) and change nothing")
  func nonRAMRefused() throws {
    var xen = try Self.platform()
    try xen.updateP2M(of: Self.d1) { p2m throws(P2MError) in
      try p2m.map(GFN(0x50000), to: MFN(0x90000), type: .mmioDirectDev)
      try p2m.map(GFN(0x50001), to: MFN(0x90001), type: .grantMapRW)
      try p2m.map(GFN(0x50002), to: MFN(0x90012), type: .mapForeignRW)
      try p2m.map(GFN(0x50003), to: MFN(0x80000), type: .ramRW)  // dom0's frame
      try p2m.map(GFN(0x50004), to: MFN(0x90001), type: .iommuMapRW)
    }
    let before = xen
    for gfn: UInt64 in [0x4FFFF, 0x50000, 0x50001, 0x50002, 0x50003, 0x50004] {
      #expect(throws: XenError.self) { try xen.addToPhysmapForeign(foreign: Self.d1, gfn: GFN(gfn), at: Self.slot) }
    }
    #expect(xen == before)
  }

  @Test("§2.4: the foreign domain must exist, differ from the caller, and the caller must be dom0")
  func whoMayMap() throws {
    var xen = try Self.platform()
    let before = xen
    #expect(throws: XenError.noSuchDomain(DomainID(9))) {
      try xen.addToPhysmapForeign(foreign: DomainID(9), gfn: GFN(0x40000), at: Self.slot)
    }
    #expect(throws: XenError.self) { try xen.addToPhysmapForeign(foreign: .dom0, gfn: GFN(0x80000), at: Self.slot) }
    #expect(throws: XenError.self) {
      try xen.addToPhysmapForeign(caller: Self.d1, foreign: Self.d2, gfn: GFN(0x40000), at: GFN(0x50000))
    }
    #expect(throws: XenError.p2m(.dom0, .gfnOutOfRange(GFN(1 << 28), ipaBits: 40))) {
      try xen.addToPhysmapForeign(foreign: Self.d1, gfn: GFN(0x40000), at: GFN(1 << 28))
    }
    #expect(xen == before)
  }

  @Test("remove_from_physmap clears foreign entries and own RAM; grant, iommu entries and holes are -ENOENT")
  func removal() throws {
    var xen = try Self.platform()
    try xen.addToPhysmapForeign(foreign: Self.d1, gfn: GFN(0x40004), at: Self.slot)
    try xen.removeFromPhysmap(.dom0, gfn: Self.slot)
    #expect(xen.domains[.dom0]?.p2m.lookup(Self.slot) == nil)

    try xen.removeFromPhysmap(.dom0, gfn: GFN(0x80002))
    #expect(xen.domains[.dom0]?.p2m.lookup(GFN(0x80002)) == nil)
    #expect(xen.host.owner(of: MFN(0x80002)) == .domain(.dom0))

    _ = try xen.mapGrant(from: Self.d1, gfn: GFN(0x40001), at: Self.slot, writable: true)
    let before = xen
    for gfn in [Self.slot, GFN(0x90001), GFN(0xB0000)] {
      #expect(throws: XenError.nothingToRemove(.dom0, gfn)) { try xen.removeFromPhysmap(.dom0, gfn: gfn) }
    }
    #expect(xen == before)
  }
}
