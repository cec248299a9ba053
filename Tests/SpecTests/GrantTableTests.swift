import Testing

@testable import Spec

/// GNTTABOP_map_grant_ref / unmap on Arm (fact sheet §2.1, §2.2, §8).
@Suite("Grant table")
struct GrantTableTests {
  static let dom0RAM = MemoryBank(start: MFN(0x80000), pages: 64)
  static let domURAM = MemoryBank(start: MFN(0x90000), pages: 32)
  static let d1 = DomainID(1)
  static let d2 = DomainID(2)
  /// A host slot outside host RAM, as extended regions are (§2.6).
  static let slot = GFN(0xA0000)

  /// dom0 direct-mapped over 0x80000+64 pages; d1 at machine 0x90000+16
  /// mapped from GFN 0x40000, d2 at 0x90010+16 from 0x40000.
  static func platform(_ version: XenVersion = .v4_15, iommu: Bool = true) throws -> XenState {
    var xen = try XenState(version: version, ipaBits: 40, ram: [dom0RAM, domURAM])
    try xen.createDomain(.dom0, memory: .directMapped(banks: [dom0RAM]), iommuEnabled: iommu)
    try xen.createDomain(d1, memory: .fixed(MemoryBank(start: MFN(0x90000), pages: 16), base: GFN(0x40000)), iommuEnabled: false)
    try xen.createDomain(d2, memory: .fixed(MemoryBank(start: MFN(0x90010), pages: 16), base: GFN(0x40000)), iommuEnabled: false)
    return xen
  }

  static func dom0Entry(_ xen: XenState, _ gfn: UInt64) -> P2MEntry? { xen.domains[.dom0]?.p2m.lookup(GFN(gfn)) }

  @Test("§2.1: a rw map adds grant_map_rw at dom0's GFN and a 1:1 iommu_map_rw at the MFN")
  func writableMapCreatesOneToOne() throws {
    var xen = try Self.platform()
    let result = try xen.mapGrant(from: Self.d1, gfn: GFN(0x40003), at: Self.slot, writable: true)
    #expect(Self.dom0Entry(xen, 0xA0000) == P2MEntry(mfn: MFN(0x90003), type: .grantMapRW))
    #expect(Self.dom0Entry(xen, 0x90003) == P2MEntry(mfn: MFN(0x90003), type: .iommuMapRW))
    #expect(result.devBusAddr == 0x9000_3000)
    #expect(xen.domains[.dom0]?.maptrack[result.handle]?.mfn == MFN(0x90003))
  }

  @Test("§2.1: a second, read-only map of the same frame creates nothing more; unmaps downgrade, then remove")
  func mapKindRefcounting() throws {
    var xen = try Self.platform()
    let original = try xen.domain(.dom0).p2m.entries
    let rw = try xen.mapGrant(from: Self.d1, gfn: GFN(0x40003), at: Self.slot, writable: true)
    let ro = try xen.mapGrant(from: Self.d1, gfn: GFN(0x40003), at: Self.slot.advanced(by: 1), writable: false)
    #expect(Self.dom0Entry(xen, 0xA0001) == P2MEntry(mfn: MFN(0x90003), type: .grantMapRO))
    #expect(Self.dom0Entry(xen, 0x90003)?.type == .iommuMapRW)
    #expect(try xen.domain(.dom0).p2m.entries.count == original.count + 3)

    try xen.unmapGrant(rw.handle)
    #expect(Self.dom0Entry(xen, 0xA0000) == nil)
    #expect(Self.dom0Entry(xen, 0x90003) == P2MEntry(mfn: MFN(0x90003), type: .iommuMapRO))

    try xen.unmapGrant(ro.handle)
    #expect(Self.dom0Entry(xen, 0x90003) == nil)
    #expect(try xen.domain(.dom0).p2m.entries == original)
  }

  @Test("§2.1: ro first gives iommu_map_ro; a later rw map upgrades it; unmapping the rw map downgrades again")
  func readOnlyThenWritable() throws {
    var xen = try Self.platform()
    _ = try xen.mapGrant(from: Self.d1, gfn: GFN(0x40000), at: Self.slot, writable: false)
    #expect(Self.dom0Entry(xen, 0x90000)?.type == .iommuMapRO)
    let rw = try xen.mapGrant(from: Self.d1, gfn: GFN(0x40000), at: Self.slot.advanced(by: 1), writable: true)
    #expect(Self.dom0Entry(xen, 0x90000)?.type == .iommuMapRW)
    try xen.unmapGrant(rw.handle)
    #expect(Self.dom0Entry(xen, 0x90000)?.type == .iommuMapRO)
  }

  @Test("§8: before 04085ec1ac (4.14) no 1:1 entry is ever made; dev_bus_addr is still the MFN")
  func before04085ec1ac() throws {
    var xen = try Self.platform(XenVersion.v4_14)
    #expect(!xen.needsGrantIOMMUMapping(.dom0))
    let result = try xen.mapGrant(from: Self.d1, gfn: GFN(0x40003), at: Self.slot, writable: true)
    #expect(Self.dom0Entry(xen, 0x90003) == nil)
    #expect(Self.dom0Entry(xen, 0xA0000)?.type == .grantMapRW)
    #expect(result.devBusAddr == 0x9000_3000)
    try xen.unmapGrant(result.handle)
    #expect(Self.dom0Entry(xen, 0xA0000) == nil)
  }

  @Test("§2.1: without the IOMMU enabled for dom0 there is no 1:1 entry")
  func iommuOff() throws {
    var xen = try Self.platform(iommu: false)
    _ = try xen.mapGrant(from: Self.d1, gfn: GFN(0x40003), at: Self.slot, writable: true)
    #expect(Self.dom0Entry(xen, 0x90003) == nil)
  }

  @Test("§2.2: a coloured dom0 never gets a 1:1 entry; dev_bus_addr is the MFN, not the GFN")
  func colouredDom0() throws {
    var xen = try XenState(
      version: .v4_20, ipaBits: 40, ram: [Self.dom0RAM, Self.domURAM], colouring: LLCColouring(colourCount: 4))
    try xen.createDomain(
      .dom0, memory: .colouredHostLayout(colours: [0, 1], banks: [MemoryBank(start: MFN(0x80000), pages: 16)]),
      iommuEnabled: true)
    try xen.createDomain(Self.d1, memory: .coloured(colours: [2, 3], base: GFN(0x40000), pages: 4), iommuEnabled: false)
    #expect(!xen.needsGrantIOMMUMapping(.dom0))
    let mfn = try #require(xen.domains[Self.d1]?.p2m.lookup(GFN(0x40000))?.mfn)
    let result = try xen.mapGrant(from: Self.d1, gfn: GFN(0x40000), at: Self.slot, writable: true)
    #expect(result.devBusAddr == mfn.address)
    #expect(result.devBusAddr != Self.slot.address)
    let dom0 = try xen.domain(.dom0)
    #expect(dom0.p2m.lookup(GFN(mfn.rawValue)) == nil)
    #expect(!dom0.p2m.entries.values.contains { $0.type == .iommuMapRW || $0.type == .iommuMapRO })
  }

  @Test("§2.1: a domain mapping its own grant leaves the existing 1:1 RAM entry alone (ld == rd)")
  func selfGrant() throws {
    var xen = try Self.platform()
    let result = try xen.mapGrant(from: .dom0, gfn: GFN(0x80005), at: Self.slot, writable: true)
    #expect(Self.dom0Entry(xen, 0x80005) == P2MEntry(mfn: MFN(0x80005), type: .ramRW))
    try xen.unmapGrant(result.handle)
    #expect(Self.dom0Entry(xen, 0x80005) == P2MEntry(mfn: MFN(0x80005), type: .ramRW))
  }

  @Test("§2.1: the host entry replaces what was at dom0's chosen GFN")
  func hostEntryReplaces() throws {
    var xen = try Self.platform()
    let result = try xen.mapGrant(from: Self.d1, gfn: GFN(0x40001), at: GFN(0x80010), writable: false)
    #expect(Self.dom0Entry(xen, 0x80010) == P2MEntry(mfn: MFN(0x90001), type: .grantMapRO))
    try xen.unmapGrant(result.handle)
    #expect(Self.dom0Entry(xen, 0x80010) == nil)
  }

  @Test("granting what is not the granter's RAM is GNTST_bad_page and changes nothing")
  func badPages() throws {
    var xen = try Self.platform()
    try xen.updateP2M(of: Self.d1) { p2m throws(P2MError) in
      try p2m.map(GFN(0x50000), to: MFN(0x90000), type: .mmioDirectDev)
      try p2m.map(GFN(0x50001), to: MFN(0x80000), type: .ramRW)  // dom0's frame
      try p2m.map(GFN(0x50002), to: MFN(0x90011), type: .mapForeignRW)  // d2's frame
      try p2m.map(GFN(0x50003), to: MFN(0xA0000), type: .ramRW)  // not RAM
    }
    let before = xen
    for gfn: UInt64 in [0x4FFFF, 0x50000, 0x50001, 0x50002, 0x50003] {
      #expect(throws: XenError.self) { try xen.mapGrant(from: Self.d1, gfn: GFN(gfn), at: Self.slot, writable: true) }
    }
    #expect(throws: XenError.noSuchDomain(DomainID(7))) {
      try xen.mapGrant(from: DomainID(7), gfn: GFN(0x40000), at: Self.slot, writable: true)
    }
    #expect(xen == before)
  }

  @Test("XSA-301: a host GFN beyond the IPA space is refused and changes nothing")
  func hostGFNOutOfRange() throws {
    var xen = try Self.platform()
    let before = xen
    #expect(throws: XenError.p2m(.dom0, .gfnOutOfRange(GFN(1 << 28), ipaBits: 40))) {
      try xen.mapGrant(from: Self.d1, gfn: GFN(0x40000), at: GFN(1 << 28), writable: true)
    }
    #expect(xen == before)
  }

  @Test("unknown and already-unmapped handles are GNTST_bad_handle")
  func badHandles() throws {
    var xen = try Self.platform()
    #expect(throws: XenError.grantBadHandle(local: .dom0, GrantHandle(0))) { try xen.unmapGrant(GrantHandle(0)) }
    let result = try xen.mapGrant(from: Self.d1, gfn: GFN(0x40000), at: Self.slot, writable: true)
    try xen.unmapGrant(result.handle)
    #expect(throws: XenError.grantBadHandle(local: .dom0, result.handle)) { try xen.unmapGrant(result.handle) }
  }

  @Test("§1.5 −EILSEQ (5a4a2cef08, 4.17): unmapping a grant whose host GFN now maps another frame is refused and the grant stays")
  func unmapAfterReplacement() throws {
    var xen = try Self.platform(.v4_17)
    let result = try xen.mapGrant(from: Self.d1, gfn: GFN(0x40000), at: Self.slot, writable: true)
    try xen.addToPhysmapForeign(foreign: Self.d1, gfn: GFN(0x40007), at: Self.slot)
    #expect(throws: XenError.p2m(.dom0, .mfnMismatch(Self.slot, expected: MFN(0x90000), found: MFN(0x90007)))) {
      try xen.unmapGrant(result.handle)
    }
    #expect(xen.domains[.dom0]?.maptrack[result.handle] != nil)
    #expect(Self.dom0Entry(xen, 0x90000)?.type == .iommuMapRW)
    #expect(Self.dom0Entry(xen, Self.slot.rawValue)?.mfn == MFN(0x90007))
  }

  @Test("before 4.17 p2m_remove_mapping() checks nothing: the grant unmap removes the foreign page mapped over its host GFN")
  func unmapAfterReplacementUnchecked() throws {
    var xen = try Self.platform(XenVersion(name: "4.16")!)
    let result = try xen.mapGrant(from: Self.d1, gfn: GFN(0x40000), at: Self.slot, writable: true)
    try xen.addToPhysmapForeign(foreign: Self.d1, gfn: GFN(0x40007), at: Self.slot)
    try xen.unmapGrant(result.handle)
    #expect(xen.domains[.dom0]?.maptrack[result.handle] == nil)
    #expect(Self.dom0Entry(xen, Self.slot.rawValue) == nil)
    #expect(Self.dom0Entry(xen, 0x90000) == nil)
  }

  @Test(
    "4cde4a552e (4.21): the 1:1 removal passes INVALID_MFN, so an any_ram entry of that very frame at GFN = MFN stays (−EILSEQ); up to 4.20 it goes",
    arguments: [(XenVersion.v4_20, true), (.latest, false)])
  func oneToOneRemovalWithInvalidMFN(version: XenVersion, removed: Bool) throws {
    var xen = try Self.platform(version)
    let result = try xen.mapGrant(from: Self.d1, gfn: GFN(0x40000), at: Self.slot, writable: true)
    // The 1:1 entry replaced behind the grant code's back by RAM of the same frame.
    try xen.updateP2M(of: .dom0) { p2m throws(P2MError) in try p2m.map(GFN(0x90000), to: MFN(0x90000), type: .ramRW) }
    if removed {
      try xen.unmapGrant(result.handle)
    } else {
      #expect(throws: XenError.self) { try xen.unmapGrant(result.handle) }
    }
    #expect((Self.dom0Entry(xen, 0x90000) == nil) == removed)
    #expect(xen.domains[.dom0]?.maptrack[result.handle] == nil, "the host unmap stands either way")
  }

  @Test("§2.2: the 1:1 hooks are reached only for a direct-mapped domain, so a domain that is not never gets one")
  func iommuHooksNeedDirectMapping() throws {
    let xen = try Self.platform()
    #expect(!xen.needsGrantIOMMUMapping(Self.d1))
    #expect(xen.needsGrantIOMMUMapping(.dom0))
  }

  /// §9 invariant 2: direct-mapped ∧ IOMMU enabled ∧ fixed version ⇒ every
  /// active grant of MFN m has the p2m entry m → m of type iommu_map_rw if
  /// some map of m is writable, else iommu_map_ro; and every iommu_map
  /// entry belongs to an active grant. With the broken predicate (4.14) or
  /// the IOMMU off there are no iommu_map entries at all.
  @Test(
    "9781b51efd (4.16): unmapping a read-only map re-maps the 1:1 entry read-only up to 4.15 (mapkind), not from 4.16 (counts)",
    arguments: [(XenVersion.v4_15, true), (XenVersion(name: "4.16")!, false), (.latest, false)])
  func readOnlyUnmapRemap(version: XenVersion, remaps: Bool) throws {
    var xen = try Self.platform(version)
    _ = try xen.mapGrant(from: Self.d1, gfn: GFN(0x40003), at: Self.slot, writable: false)
    let second = try xen.mapGrant(from: Self.d1, gfn: GFN(0x40003), at: Self.slot.advanced(by: 1), writable: false)
    #expect(Self.dom0Entry(xen, 0x90003)?.type == .iommuMapRO)
    // The 1:1 entry goes behind the grant code's back (a raw p2m removal).
    try xen.updateP2M(of: .dom0) { p2m throws(P2MError) in try p2m.unmap(GFN(0x90003)) }
    try xen.unmapGrant(second.handle)
    // 4.15's mapkind() sees only read-only maps left and re-maps read-only;
    // 4.16's counts see a read-only map go, which owes nothing.
    #expect((Self.dom0Entry(xen, 0x90003) == P2MEntry(mfn: MFN(0x90003), type: .iommuMapRO)) == remaps)
  }

  @Test(
    "property: random grant maps and unmaps keep the 1:1 entries exactly as the active grants say",
    arguments: [(XenVersion.v4_15, true), (.latest, true), (.v4_14, true), (.v4_15, false), (.v4_17, true)])
  func randomGrantSequences(version: XenVersion, iommu: Bool) throws {
    var rng = SplitMix64(seed: 0x6A47_0001)
    var xen = try Self.platform(version, iommu: iommu)
    var handles: [GrantHandle] = []
    var refusedUnmaps = 0
    for _ in 0..<400 {
      if handles.isEmpty || Int.random(in: 0..<5, using: &rng) < 3 {
        let granter = Bool.random(using: &rng) ? Self.d1 : Self.d2
        let result = try xen.mapGrant(
          from: granter, gfn: GFN(0x40000 + UInt64.random(in: 0..<4, using: &rng)),
          at: Self.slot.advanced(by: UInt64.random(in: 0..<12, using: &rng)), writable: Bool.random(using: &rng))
        handles.append(result.handle)
      } else {
        let index = Int.random(in: 0..<handles.count, using: &rng)
        let attempt = Result { () throws(XenError) in try xen.unmapGrant(handles[index]) }
        switch attempt {
        case .success: handles.remove(at: index)
        case .failure(let error):
          // Its slot was taken by a later map; the grant stays active.
          #expect(Self.isMFNMismatch(error), "\(error)")
          refusedUnmaps += 1
        }
      }
      try Self.checkOneToOneInvariant(xen, expectEntries: iommu && version.grantIOMMUMapping == .after04085ec1ac)
    }
    // Up to 4.16 an unmap removes whatever its slot holds by then (no
    // MFN check), so nothing is refused; from 4.17 a collision is.
    #expect((refusedUnmaps > 0) == version.checksMFNOnRemoval, "refused unmaps: \(refusedUnmaps)")
  }

  static func isMFNMismatch(_ error: XenError) -> Bool {
    if case .p2m(_, .mfnMismatch) = error { true } else { false }
  }

  static func checkOneToOneInvariant(_ xen: XenState, expectEntries: Bool) throws {
    let dom0 = try xen.domain(.dom0)
    var writable: [MFN: Bool] = [:]
    for mapping in dom0.maptrack.values { writable[mapping.mfn] = (writable[mapping.mfn] ?? false) || mapping.writable }
    let oneToOne = dom0.p2m.entries.filter { $0.value.type == .iommuMapRW || $0.value.type == .iommuMapRO }
    guard expectEntries else {
      #expect(oneToOne.isEmpty)
      return
    }
    for (mfn, isWritable) in writable {
      #expect(dom0.p2m.lookup(GFN(mfn.rawValue)) == P2MEntry(mfn: mfn, type: isWritable ? .iommuMapRW : .iommuMapRO))
    }
    for (gfn, entry) in oneToOne {
      #expect(gfn.rawValue == entry.mfn.rawValue && writable[entry.mfn] != nil)
    }
  }
}
