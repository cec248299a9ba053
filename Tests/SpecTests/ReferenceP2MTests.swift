import Spec
import Testing

/// The reference p2m (fact sheet §1.4, §1.5, §8).
@Suite("Reference p2m")
struct ReferenceP2MTests {
  @Test("XSA-301: GFNs beyond the root are refused instead of aliasing, and a refused range changes nothing")
  func outOfRange() throws {
    var p2m = ReferenceP2M(ipaBits: 32)
    let last = GFN((1 << 20) - 1)
    try p2m.map(last, to: MFN(0x100), type: .ramRW)
    #expect(throws: P2MError.gfnOutOfRange(GFN(1 << 20), ipaBits: 32)) {
      try p2m.map(GFN(1 << 20), to: MFN(0x100), type: .ramRW)
    }
    #expect(throws: P2MError.gfnOutOfRange(GFN(1 << 20), ipaBits: 32)) {
      try p2m.map(last, count: 2, to: MFN(0x200), type: .grantMapRW)
    }
    #expect(p2m.lookup(last) == P2MEntry(mfn: MFN(0x100), type: .ramRW))
    #expect(throws: P2MError.self) { try p2m.map(GFN(.max), count: 2, to: MFN(0), type: .ramRW) }
    #expect(throws: P2MError.self) { try p2m.unmap(GFN(1 << 20)) }
    #expect(p2m.maxMappedGFN == last)
  }

  @Test("XSA-393: removing an entry whose hardware valid bit is clear still clears it")
  func removalClearsHardwareInvalid() throws {
    var p2m = ReferenceP2M(ipaBits: 40)
    try p2m.map(GFN(0x10), to: MFN(0x80010), type: .ramRW)
    p2m.invalidateForSetWay()
    #expect(p2m.lookup(GFN(0x10))?.hardwareValid == false)
    try p2m.unmap(GFN(0x10))
    p2m.resolveTranslationFault(GFN(0x10))
    #expect(p2m.lookup(GFN(0x10)) == nil)
  }

  @Test("before XSA-393 (4.16.0): a removal keeps the hardware-invalid pages of its range, which fault back in; valid ones go")
  func removalKeepsHardwareInvalidBeforeXSA393() throws {
    var p2m = ReferenceP2M(ipaBits: 40)
    p2m.zeroesHardwareInvalidOnRemoval = false
    try p2m.map(GFN(0x10), count: 4, to: MFN(0x80010), type: .ramRW)
    p2m.invalidateForSetWay()
    p2m.resolveTranslationFault(GFN(0x11))
    try p2m.map(GFN(0x14), to: MFN(0x80020), type: .ramRO)
    try p2m.unmap(GFN(0x11), count: 4)
    #expect(p2m.lookup(GFN(0x10)) == P2MEntry(mfn: MFN(0x80010), type: .ramRW, hardwareValid: false))
    #expect(p2m.lookup(GFN(0x11)) == nil)
    #expect(p2m.lookup(GFN(0x12)) == P2MEntry(mfn: MFN(0x80012), type: .ramRW, hardwareValid: false))
    #expect(p2m.lookup(GFN(0x13)) == P2MEntry(mfn: MFN(0x80013), type: .ramRW, hardwareValid: false))
    #expect(p2m.lookup(GFN(0x14)) == nil)
    p2m.resolveTranslationFault(GFN(0x12))
    #expect(p2m.lookup(GFN(0x12)) == P2MEntry(mfn: MFN(0x80012), type: .ramRW))
  }

  @Test("XSA-393 by release: a domain's p2m keeps removed hardware-invalid entries up to 4.16, not from 4.17",
    arguments: [("4.16", false), ("4.17", true), ("4.21", true)])
  func removalByRelease(release: String, zeroes: Bool) throws {
    var xen = try XenState(version: XenVersion(name: release)!, ipaBits: 40, ram: [MemoryBank(start: MFN(0x80000), pages: 64)])
    try xen.createDomain(.dom0, memory: .directMapped(banks: [MemoryBank(start: MFN(0x80000), pages: 16)]), iommuEnabled: true)
    #expect(xen.domains[.dom0]?.p2m.zeroesHardwareInvalidOnRemoval == zeroes)
  }

  @Test("§1.5 −EILSEQ: removing an any_ram entry of another MFN is refused; iommu_map entries are not checked")
  func removeChecksMFN() throws {
    var p2m = ReferenceP2M(ipaBits: 40)
    try p2m.map(GFN(0xA0000), to: MFN(0x90003), type: .grantMapRW)
    try p2m.map(GFN(0x90003), to: MFN(0x90003), type: .iommuMapRW)
    #expect(throws: P2MError.mfnMismatch(GFN(0xA0000), expected: MFN(0x90004), found: MFN(0x90003))) {
      try p2m.remove(GFN(0xA0000), expecting: MFN(0x90004))
    }
    #expect(p2m.lookup(GFN(0xA0000)) != nil)
    try p2m.remove(GFN(0x90003), expecting: MFN(0x12345))
    #expect(p2m.lookup(GFN(0x90003)) == nil)
    try p2m.remove(GFN(0xA0000), expecting: MFN(0x90003))
    #expect(p2m.entries.isEmpty)
  }

  @Test("a multi-page removal with one mismatch removes nothing")
  func removeIsAllOrNothing() throws {
    var p2m = ReferenceP2M(ipaBits: 40)
    try p2m.map(GFN(0x100), count: 2, to: MFN(0x500), type: .ramRW)
    try p2m.map(GFN(0x101), to: MFN(0x700), type: .mapForeignRW)
    #expect(throws: P2MError.self) { try p2m.remove(GFN(0x100), count: 2, expecting: MFN(0x500)) }
    #expect(p2m.entries.count == 2)
  }

  @Test("XSA-410: a dying domain's p2m refuses every update")
  func dyingDomain() throws {
    var p2m = ReferenceP2M(ipaBits: 40)
    try p2m.map(GFN(0x10), to: MFN(0x20), type: .ramRW)
    p2m.isDying = true
    let before = p2m
    #expect(throws: P2MError.domainDying) { try p2m.map(GFN(0x11), to: MFN(0x21), type: .mapForeignRW) }
    #expect(throws: P2MError.domainDying) { try p2m.unmap(GFN(0x10)) }
    #expect(throws: P2MError.domainDying) { try p2m.remove(GFN(0x10), expecting: MFN(0x20)) }
    #expect(p2m == before)
  }

  @Test("§1.5: a map replaces the entry; max/lowest mapped GFN only grow (XSA-301: highest mapped, not +1)")
  func replaceAndBounds() throws {
    var p2m = ReferenceP2M(ipaBits: 40)
    try p2m.map(GFN(0x20), count: 4, to: MFN(0x100), type: .ramRW)
    try p2m.map(GFN(0x21), to: MFN(0x999), type: .grantMapRO)
    #expect(p2m.lookup(GFN(0x21)) == P2MEntry(mfn: MFN(0x999), type: .grantMapRO))
    #expect(p2m.lookup(GFN(0x23)) == P2MEntry(mfn: MFN(0x103), type: .ramRW))
    #expect(p2m.maxMappedGFN == GFN(0x23) && p2m.lowestMappedGFN == GFN(0x20))
    try p2m.unmap(GFN(0x23))
    #expect(p2m.maxMappedGFN == GFN(0x23))
    #expect(p2m.lookup(GFN(0x21))?.permissions == Permissions(read: true, write: false, execute: false))
  }
}
