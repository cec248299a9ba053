import P2MImpl
import SMMUImpl
import Solver
import Spec
import SymbolicWord
import Testing

/// `smmu.regression` (DESIGN.md §4), the IOTLB half: with every IOTLB
/// entry coherent (equal to what the walk gives for its page and VMID),
/// translating through the IOTLB equals the walk for every IPA — proved by
/// Z3 over the same generic lookup the concrete SMMU runs. A lookup that
/// ignores the VMID tag is refuted, and its counterexample replays
/// concretely through the platform.
@Suite("Symbolic: a coherent IOTLB changes no translation")
struct SymbolicIOTLBTests {
  let context = Context()

  /// Two domains on one SMMUv2 mapping the same GFNs to different frames
  /// (dom0 read/write, d1 read-only), every page translated once from
  /// each so the IOTLB holds coherent entries under VMIDs 1 and 2.
  static func warmed() throws -> World {
    var world = try World(
      smmus: [.v2(name: "s")],
      devices: [
        Device(name: "a", attachment: .behindSMMU(smmu: "s", streamIDs: [1], described: true)),
        Device(name: "b", attachment: .behindSMMU(smmu: "s", streamIDs: [2], described: true)),
      ],
      domains: [.dom0, DomainID(1)], ipaBits: 32, poolPages: 4)
    world.attach("a", to: .dom0, "setup")
    world.attach("b", to: DomainID(1), "setup")
    try world.setEntry(.dom0, GFN(0x200), count: 4, mfn: MFN(0x1000), type: .ramRW)
    try world.setEntry(DomainID(1), GFN(0x200), count: 4, mfn: MFN(0x2000), type: .ramRO)
    try world.setEntry(DomainID(1), GFN(0x300), count: 1, mfn: MFN(0x3000), type: .ramRW)
    let smmu = try world.impl.smmuIndex(named: "s")
    for page: UInt64 in [0x200, 0x201, 0x202, 0x203, 0x300] {
      for stream: StreamID in [1, 2] { _ = try world.impl.translate(stream: stream, on: smmu, address: page << 12, access: .read) }
    }
    #expect(world.impl.incoherentIOTLBEntries().isEmpty)
    return world
  }

  /// Claim: for a symbolic IPA and the given VMID's context, the IOTLB
  /// lookup over every live entry equals the spec's walk of that domain;
  /// `bugs` are seeded in the lookup.
  func refinementClaim(_ world: World, domain: DomainID, vmid: UInt64, access: Access, bugs: [SeededBug] = []) throws
    -> (claim: SymbolicBool, ipa: SymbolicWord) {
    let smmu = try world.impl.smmuIndex(named: "s")
    let entries = try world.impl.iotlb(of: smmu).entries.map { vmid, page, entry in
      IOTLBEntryWords(
        vmid: SymbolicWord(UInt64(vmid), in: context), page: SymbolicWord(page, in: context),
        outputPage: SymbolicWord(entry.outputPage, in: context),
        read: SymbolicBool(entry.read, in: context), write: SymbolicBool(entry.write, in: context),
        level: SymbolicWord(UInt64(entry.level), in: context))
    }
    #expect(entries.count >= 6, "entries of both VMIDs are live")
    let p2m = try #require(world.impl.p2m(of: domain))
    let memory = try SymbolicDescriptorMemory(p2m.memory.liveTables(), in: context)
    let ipa = try SymbolicWord.variable("ipa", in: context)
    let walk = ContextOutcome(stageTwoWalk(
      memory: memory, geometry: p2m.geometry, rootAddress: SymbolicWord(p2m.rootAddress, in: context),
      inputAddress: ipa, access: access))
    let cached = SeededBug.inject(bugs) {
      translateThroughIOTLB(candidates: entries, vmid: SymbolicWord(vmid, in: context), ipa: ipa, access: access) { walk }
    }
    return (cached.isEqual(to: walk), ipa)
  }

  @Test("proved: with coherent entries for two VMIDs, the IOTLB path equals the walk for every IPA",
        arguments: [(DomainID.dom0, UInt64(1)), (DomainID(1), UInt64(2))], Access.allCases)
  func proved(context domainAndVMID: (DomainID, UInt64), access: Access) throws {
    let world = try Self.warmed()
    let (claim, _) = try refinementClaim(world, domain: domainAndVMID.0, vmid: domainAndVMID.1, access: access)
    let solver = try Solver(context: context, timeout: .seconds(60), randomSeed: 1)
    let result = try solver.prove(claim.term)
    #expect(result.isProved, "\(domainAndVMID) \(access): \(result)")
  }

  @Test("refuted: a lookup that ignores the VMID tag; the counterexample replays through the platform")
  func ignoringVMIDRefuted() throws {
    let world = try Self.warmed()
    let (claim, ipa) = try refinementClaim(world, domain: DomainID(1), vmid: 2, access: .write, bugs: [.iotlbIgnoresVMID])
    let solver = try Solver(context: context, timeout: .seconds(60), randomSeed: 1)
    let model = try #require(try solver.prove(claim.term).counterexample)
    let bad = try model.value(of: ipa.term)
    #expect((0x200..<0x204).contains(bad >> 12), "a page both domains cached: \(hex(bad))")
    // Replay: the same mutant in the concrete platform lets d1's device
    // write through dom0's read/write entry instead of faulting.
    let replay = try Self.warmed()
    let smmu = try replay.impl.smmuIndex(named: "s")
    try SeededBug.iotlbIgnoresVMID.inject {
      _ = try replay.impl.translate(stream: 1, on: smmu, address: bad, access: .read)  // dom0 fills the shared slot
      let got = try replay.impl.translate(stream: 2, on: smmu, address: bad, access: .write)
      #expect(got.machineAddress == 0x1000 << 12 | (bad - 0x200_000), "d1 reaches dom0's frame: \(got)")
      #expect(try replay.disagreement(stream: 2, on: "s", address: bad, access: .write) != nil)
    }
  }
}
