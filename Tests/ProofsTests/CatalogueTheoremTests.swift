import P2MImpl
import SymbolicWord
import Testing

@testable import Proofs
// For the broken `map_grant_ref()`, written with the spec's internals.
@testable import Spec

/// Each theorem is proved as it stands, and a deliberately broken variant
/// of the code it covers is refuted: a proof that cannot fail is a defect.
@Suite("Catalogue theorems and their mutants")
struct CatalogueTheoremTests {
  /// The theorem's findings, with `bugs` seeded in everything its body
  /// runs (the symbolic run and the replay alike).
  func run(_ theorem: Theorem, seeding bugs: [SeededBug] = []) throws -> [Finding] {
    let session = try ProofSession(timeout: theorem.timeout, seed: 1, dumpDirectory: nil)
    return try SeededBug.inject(bugs) { try theorem.body(session) }
  }

  @Test("descriptor.roundtrip: proved; an encoder that puts the type one bit low is refuted")
  func descriptorRoundtrip() throws {
    let proved = try run(DescriptorRoundtripTheorem.theorem())
    #expect(proved.count == 72 && proved.allSatisfy { $0.verdict == .proved })
    let broken = try run(
      DescriptorRoundtripTheorem.theorem { frame, type, level, valid in
        frame | (XenDescriptor.attributeBits(type: type, level: level, hardwareValid: valid) & ~(UInt64(0xF) << 55))
          | frame.constant(UInt64(type.rawValue) << 54)
      })
    // p2m_invalid is 0, so its encoding survives; every other type is caught.
    #expect(broken.filter { $0.verdict == .refuted }.count == 66)
  }

  @Test("walk.regression and p2m.regression: proved; a split that drops the parent's permissions is refuted")
  func tables() throws {
    for theorem in [TableTheorems.walkEquivalence(), TableTheorems.refinement()] {
      #expect(try run(theorem).allSatisfy { $0.verdict == .proved }, "\(theorem.name)")
    }
    for theorem in [TableTheorems.walkEquivalence(), TableTheorems.refinement()] {
      let findings = try run(theorem, seeding: [.splitChildrenLosePermissions])
      // Only the sequence with a split inside a block can show it.
      let mixed = findings.filter { $0.claim.contains("mixed") }
      #expect(!mixed.isEmpty && mixed.allSatisfy { $0.verdict == .refuted }, "\(theorem.name): \(findings)")
      #expect(mixed.allSatisfy { $0.values["ipa"].map { (0x200..<0x400).contains($0 >> 12) } == true })
    }
  }

  @Test("p2m.flush-before-free: proved; releasing before the IOTLB flush (before 6718787797) is refuted")
  func flushBeforeFree() throws {
    #expect(try run(FlushOrderTheorem.theorem()).allSatisfy { $0.verdict == .proved })
    let broken = try run(FlushOrderTheorem.theorem(), seeding: [.freeBeforeIOTLBFlush])
    #expect(!broken.isEmpty && broken.allSatisfy { $0.verdict == .refuted }, "\(broken)")
  }

  @Test("p2m.setway: proved; invalidating only the first page of a concatenated root (before 14c57887f3) is refuted")
  func setWay() throws {
    let proved = try run(SetWayTheorem.theorem())
    #expect(proved.count == 1 && proved[0].verdict == .proved, "\(proved)")
    let broken = try run(SetWayTheorem.theorem(), seeding: [.setWayRootPartlyInvalidated])
    #expect(broken.count == 1 && broken.allSatisfy { $0.verdict == .refuted }, "\(broken)")
    // The IPA that still translates is in the second root page (512 GiB to 1 TiB).
    #expect(broken.allSatisfy { $0.values["ipa"].map { $0 >> 39 == 1 } == true }, "\(broken)")
  }

  @Test("p2m.out-of-range: proved; ignoring the GFN's top bits (before XSA-301) is refuted")
  func outOfRange() throws {
    let proved = try run(OutOfRangeTheorem.theorem())
    #expect(proved.count == 2 && proved.allSatisfy { $0.verdict == .proved }, "\(proved)")
    let broken = try run(OutOfRangeTheorem.theorem(), seeding: [.gfnTopBitsAliased])
    #expect(broken.count == 2 && broken.allSatisfy { $0.verdict == .refuted }, "\(broken)")
    #expect(broken.allSatisfy { $0.reason.contains("was not refused") }, "\(broken)")
  }

  @Test("p2m.removal-keeps-blocks: proved; a removal order computed with INVALID_MFN (before 3fafdc28eb) is refuted")
  func removalKeepsBlocks() throws {
    let proved = try run(RemovalOrderTheorem.theorem())
    #expect(proved.count == 2 && proved.allSatisfy { $0.verdict == .proved }, "\(proved)")
    let broken = try run(RemovalOrderTheorem.theorem(), seeding: [.removalShattersSuperpages])
    #expect(broken.count == 2 && broken.allSatisfy { $0.verdict == .refuted }, "\(broken)")
    // The 4K removal has to split the block, and the pool has no page for it.
    #expect(broken.allSatisfy { $0.reason.contains("the removal failed") }, "\(broken)")
  }

  @Test("p2m.removal-after-setway: proved; a removal that keeps a hardware-invalid entry (before XSA-393) is refuted")
  func removalAfterSetWay() throws {
    let proved = try run(RemovalAfterSetWayTheorem.theorem())
    #expect(proved.count == 1 && proved[0].verdict == .proved, "\(proved)")
    let broken = try run(RemovalAfterSetWayTheorem.theorem(), seeding: [.removalKeepsHWInvalidEntry])
    #expect(broken.count == 1 && broken.allSatisfy { $0.verdict == .refuted }, "\(broken)")
    #expect(broken.allSatisfy { $0.reason.contains("the removed page's fault resolved") }, "\(broken)")
  }

  @Test("swiotlb.straddle: proved; a straddle check of the first page boundary only is refuted with a buffer of three pages or more")
  func straddle() throws {
    let proved = try run(StraddleTheorem.theorem())
    #expect(proved.count == 1 && proved[0].verdict == .proved, "\(proved)")
    let broken = try run(
      StraddleTheorem.theorem { phys, size, _, pfnToBfn in
        rangeStraddlesPageBoundary(phys, size: size, maximumPages: 2, pfnToBfn: pfnToBfn)
      })
    #expect(broken.count == 1 && broken.allSatisfy { $0.verdict == .refuted }, "\(broken)")
    // Only a third page can be missed: offset in page + size > 2 pages.
    #expect(
      broken.allSatisfy { finding in
        guard let phys = finding.values["phys"], let size = finding.values["size"] else { return false }
        return (phys & 0xFFF) + size > 0x2000 && size <= 0x3000
      }, "\(broken)")
  }

  @Test("grant.one-to-one-permissions: proved; a mapkind() that does not upgrade a read-only 1:1 entry is refuted")
  func grantOneToOnePermissions() throws {
    let proved = try run(GrantPermissionTheorem.theorem())
    #expect(proved.count == 1 && proved[0].verdict == .proved, "\(proved)")
    let broken = try run(GrantPermissionTheorem.theorem(mapGrant: Self.mapGrantWithoutUpgrade))
    #expect(broken.count == 1 && broken.allSatisfy { $0.verdict == .refuted }, "\(broken)")
    #expect(broken.allSatisfy { $0.reason.hasSuffix("\(P2MType.iommuMapRO)") }, "\(broken)")
  }

  /// The spec's `map_grant_ref()` with a `mapkind()` mistake put back
  /// (``SeededBug/grantRWAfterRONotUpgraded``): the 1:1 IOMMU entry is made
  /// only when dom0 has no map of the frame yet, so a writable map after a
  /// read-only one leaves it read-only and DMA into the page faults.
  static let mapGrantWithoutUpgrade: GrantPermissionTheorem.MapGrant = { xen, granter, gfn, hostGFN, writable in
    try SeededBug.grantRWAfterRONotUpgraded.inject { try xen.mapGrant(from: granter, gfn: gfn, at: hostGFN, writable: writable) }
  }

  @Test("smmu.regression: proved with Xen's flushes; without them (before 9ed527dc95) refuted, and the stale entry replays")
  func smmuRefinement() throws {
    #expect(try run(SMMURefinementTheorem.theorem()).allSatisfy { $0.verdict == .proved })
    let broken = try run(SMMURefinementTheorem.theorem(), seeding: [.iotlbFlushIgnored])
    let refuted = broken.filter { $0.verdict == .refuted }
    #expect(!refuted.isEmpty)
    #expect(refuted.allSatisfy { $0.replayed == true }, "\(refuted)")
  }

  @Test("dma.flag-equals-swiotlb: (a) and (b) proved, swiotlb-xen on a coloured dom0 refuted for grants; without the 1:1 grant entry (a) is refuted")
  func flagEqualsSwiotlb() throws {
    let findings = try run(FlagEqualsSwiotlbTheorem.theorem)
    let refuted = findings.filter { $0.verdict == .refuted }.map(\.claim)
    #expect(refuted.sorted() == ["dma.flag-equals-swiotlb[coloured,grant,one-page].swiotlb-xen", "dma.flag-equals-swiotlb[coloured,grant,straddling].swiotlb-xen"])
    #expect(findings.filter { $0.verdict == .refuted }.allSatisfy { $0.replayed == true })
    let broken = try run(FlagEqualsSwiotlbTheorem.theorem, seeding: [.oneToOneAtGFN])
    #expect(broken.first { $0.claim == "dma.flag-equals-swiotlb[direct-mapped,grant,one-page]" }?.verdict == .refuted)
  }

  @Test("colour.allocation: proved; a colour mask off by one (mfn & N) is refuted")
  func colourAllocation() throws {
    #expect(try run(ColourAllocationTheorem.theorem()).allSatisfy { $0.verdict == .proved })
    let broken = try run(ColourAllocationTheorem.theorem { frame, count in frame & count })
    #expect(broken.filter { $0.claim.hasSuffix(".cache-sets") }.allSatisfy { $0.verdict == .refuted })
    #expect(broken.filter { $0.claim.hasSuffix(".cache-sets") }.count == 3)
  }

  @Test("the compressed descriptor memory reads back every entry of the store")
  func compressedMemory() throws {
    var spec = ReferenceP2M(ipaBits: 40)
    try spec.map(GFN(0x200), count: 700, to: MFN(0x4_0000), type: .ramRW)
    try spec.map(GFN(0x9_0000), count: 3, to: MFN(0x77), type: .grantMapRO)
    let (store, _) = try spec.materialize(tableFrames: (0xFF000..<0x100000).lazy.map(MFN.init))
    let session = try ProofSession(timeout: .seconds(5), seed: 1, dumpDirectory: nil)
    let memory = try CompressedDescriptorMemory(store, zero: session.constant(0))
    for frame in store.frames {
      for (index, descriptor) in store.readTable(frame).enumerated() {
        #expect(memory.load(frame: frame, index: UInt64(index)) == descriptor)
      }
    }
    // A symbolic load agrees with the store at a sampled address.
    let address = try session.word("address")
    let sample = store.frames[store.frames.count / 2].address + 8 * 17
    let finding = try session.decide("sample", claim: (address == sample).implies(memory.loadDescriptor(at: address) == store.loadDescriptor(at: sample)), hypotheses: [])
    #expect(finding.verdict == .proved)
  }
}
