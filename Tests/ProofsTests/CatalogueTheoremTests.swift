import P2MImpl
import Spec
import SymbolicWord
import Testing

@testable import Proofs

/// Each theorem is proved as it stands, and a deliberately broken variant
/// of the code it covers is refuted: a proof that cannot fail is a defect.
@Suite("Catalogue theorems and their mutants")
struct CatalogueTheoremTests {
  func run(_ theorem: Theorem) throws -> [Finding] {
    let session = try ProofSession(timeout: theorem.timeout, seed: 1, dumpDirectory: nil)
    return try theorem.body(session)
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

  @Test("walk.equivalence and p2m.refinement: proved; a split that drops the parent's permissions is refuted")
  func tables() throws {
    for theorem in [TableTheorems.walkEquivalence(), TableTheorems.refinement()] {
      #expect(try run(theorem).allSatisfy { $0.verdict == .proved }, "\(theorem.name)")
    }
    for theorem in [TableTheorems.walkEquivalence(mutants: .splitWithoutInheritance), TableTheorems.refinement(mutants: .splitWithoutInheritance)] {
      let findings = try run(theorem)
      // Only the sequence with a split inside a block can show it.
      let mixed = findings.filter { $0.claim.contains("mixed") }
      #expect(!mixed.isEmpty && mixed.allSatisfy { $0.verdict == .refuted }, "\(theorem.name): \(findings)")
      #expect(mixed.allSatisfy { $0.values["ipa"].map { (0x200..<0x400).contains($0 >> 12) } == true })
    }
  }

  @Test("p2m.flush-before-free: proved; releasing before the IOTLB flush (before 6718787797) is refuted")
  func flushBeforeFree() throws {
    #expect(try run(FlushOrderTheorem.theorem()).allSatisfy { $0.verdict == .proved })
    let broken = try run(FlushOrderTheorem.theorem(mutants: .freeBeforeIOTLBFlush))
    #expect(!broken.isEmpty && broken.allSatisfy { $0.verdict == .refuted }, "\(broken)")
  }

  @Test("smmu.refinement: proved with Xen's flushes; without them (before 9ed527dc95) refuted, and the stale entry replays")
  func smmuRefinement() throws {
    #expect(try run(SMMURefinementTheorem.theorem()).allSatisfy { $0.verdict == .proved })
    let broken = try run(SMMURefinementTheorem.theorem(mutants: .ignoresIOTLBFlush))
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
    let broken = try run(FlagEqualsSwiotlbTheorem.theorem(mutation: .noOneToOneGrantEntry))
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
