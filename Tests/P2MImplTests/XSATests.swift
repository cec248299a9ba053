import P2MImpl
import Spec
import Testing

/// The security fixes `__p2m_set_entry()` carries (fact sheet §8).
@Suite("XSA-301, XSA-393, XSA-410 and bad requests (§8)")
struct XSATests {
  @Test("XSA-301: a GFN beyond the roots is refused (−EINVAL); a straddling request stops at the boundary")
  func outOfRange() throws {
    var p2m = try makeP2M(ipaBits: 40)
    let limit = ReferenceP2M(ipaBits: 40).gfnLimit
    #expect(throws: XenP2MError.gfnOutOfRange(GFN(limit), ipaBits: 40, completedPages: 0)) {
      try p2m.map(GFN(limit), to: MFN(1), type: .ramRW)
    }
    #expect(p2m.maxMappedGFN == nil, "max_mapped_gfn is not moved by a refused GFN (XSA-301 a)")
    #expect(throws: XenP2MError.gfnOutOfRange(GFN(limit), ipaBits: 40, completedPages: 2)) {
      try p2m.map(GFN(limit - 2), count: 4, to: MFN(0x100), type: .ramRW)
    }
    #expect(p2m.lookup(GFN(limit - 1)) == P2MEntry(mfn: MFN(0x101), type: .ramRW))
    #expect(p2m.maxMappedGFN == GFN(limit - 1), "the highest mapped GFN, not +1 (XSA-301 b)")
    #expect(throws: XenP2MError.gfnOutOfRange(GFN(.max), ipaBits: 40, completedPages: 0)) { try p2m.unmap(GFN(.max)) }
  }

  @Test("32-bit IPA: Xen's root check admits GFNs the hardware cannot reach; the walk faults at L0 [derived]")
  func rootCapacityBeyondIPA() throws {
    var p2m = try makeP2M(ipaBits: 32, poolPages: 4)
    #expect(p2m.rootGFNLimit == 1 << 27)
    try p2m.map(GFN(1 << 20), to: MFN(0x42), type: .ramRW)
    #expect(p2m.lookup(GFN(1 << 20)) == P2MEntry(mfn: MFN(0x42), type: .ramRW))
    #expect(p2m.walk(GFN(1 << 20).address, access: .read) == .fault(StageTwoFault(kind: .translation, level: 0)))
  }

  /// Set/Way tracking leaves GFN 0x11's leaf type-valid with valid bit 0:
  /// the root is invalidated, then an access to 0x10 resolves its path,
  /// invalidating the L3 table it shares with 0x11 on the way down.
  ///
  /// `beforeXSA393` makes the p2m remove as Xen 4.16.0 and earlier do.
  static func hardwareInvalidNeighbour(beforeXSA393: Bool) throws -> XenP2M {
    var p2m = try makeP2M(ipaBits: 40, iommuEnabled: false)
    p2m.zeroesRemovedHardwareInvalidEntries = !beforeXSA393
    try p2m.map(GFN(0x10), count: 2, to: MFN(0x500), type: .ramRW)
    try p2m.invalidateRoot()
    #expect(p2m.walk(GFN(0x10).address, access: .read) == .fault(StageTwoFault(kind: .translation, level: 1)))
    var resolutions = 0
    while case .fault = p2m.walk(GFN(0x10).address, access: .read), resolutions < 4 {
      let resolved = p2m.resolveTranslationFault(GFN(0x10))
      #expect(resolved)
      resolutions += 1
    }
    #expect(resolutions == 3)
    #expect(p2m.lookup(GFN(0x11)) == P2MEntry(mfn: MFN(0x501), type: .ramRW, hardwareValid: false))
    return p2m
  }

  @Test("XSA-393: removing a hardware-invalid entry zeroes it; a later fault cannot bring it back")
  func removalOfHardwareInvalid() throws {
    var p2m = try Self.hardwareInvalidNeighbour(beforeXSA393: false)
    try p2m.unmap(GFN(0x11))
    #expect(p2m.lookup(GFN(0x11)) == nil)
    let resolved = p2m.resolveTranslationFault(GFN(0x11))
    #expect(!resolved)
    #expect(p2m.walk(GFN(0x11).address, access: .read) == .fault(StageTwoFault(kind: .translation, level: 3)))
    expectNoViolations(p2m, "after XSA-393 removal")
  }

  @Test("mutant (before XSA-393): the removed entry survives and a fault maps the page back")
  func removalBugResurrects() throws {
    var p2m = try Self.hardwareInvalidNeighbour(beforeXSA393: true)
    try p2m.unmap(GFN(0x11))
    #expect(p2m.lookup(GFN(0x11)) != nil)
    let resolved = p2m.resolveTranslationFault(GFN(0x11))
    #expect(resolved)
    #expect(p2m.walk(GFN(0x11).address, access: .read) != .fault(StageTwoFault(kind: .translation, level: 3)))
  }

  @Test("Set/Way invalidation is refused on a p2m shared with the IOMMU (2b45ff6030)")
  func setWayRefusedWithIOMMU() throws {
    var p2m = try makeP2M(ipaBits: 40)
    #expect(throws: XenP2MError.setWayWithSharedIOMMU) { try p2m.invalidateRoot() }
  }

  @Test("XSA-410: a dying domain's p2m refuses updates (−ENOMEM) and changes nothing")
  func dyingDomain() throws {
    var p2m = try makeP2M(ipaBits: 40)
    p2m.isDying = true
    #expect(throws: XenP2MError.domainDying) { try p2m.map(GFN(1), to: MFN(1), type: .mapForeignRW) }
    #expect(XenP2MError.domainDying.xenErrno == -12)
    #expect(p2m.counters.descriptorWrites == 0)
  }

  @Test("inconsistent requests and frames beyond the base field are refused before any change")
  func badRequests() throws {
    var p2m = try makeP2M(ipaBits: 48)
    #expect(throws: XenP2MError.inconsistentRequest(mfn: MFN(1), type: .invalid)) {
      try p2m.setEntry(GFN(1), count: 1, mfn: MFN(1), type: .invalid)
    }
    #expect(throws: XenP2MError.inconsistentRequest(mfn: nil, type: .ramRW)) {
      try p2m.setEntry(GFN(1), count: 1, mfn: nil, type: .ramRW)
    }
    #expect(throws: XenP2MError.frameOutOfRange(MFN(1 << 36 - 1))) { try p2m.map(GFN(1), count: 2, to: MFN(1 << 36 - 1), type: .ramRW) }
    #expect(p2m.counters.descriptorWrites == 0)
  }
}
