import P2MImpl
import SMMUImpl
import Spec
import Testing

/// Xen's flush discipline is what keeps the IOTLB coherent (§1.5, §6.5):
/// with it, every step agrees with the spec; without it — the SMMU's
/// handler dropping `iommu_iotlb_flush()`, as Xen did before `9ed527dc95`
/// — a cached translation outlives its p2m entry and the differential
/// check sees the stale address.
@Suite("Flush discipline: dropping the IOTLB flush is caught")
struct FlushDisciplineTests {
  /// Maps, translates (filling the IOTLB), remaps the page elsewhere, and
  /// translates again; returns the disagreement after the remap, if any.
  static func remapAfterUse(dropFlush: Bool, v3: Bool) throws -> (String?, incoherent: [String]) {
    var world = v3 ? try smallV3World() : try smallV2World()
    let (device, stream, smmu) = v3 ? ("nvme", StreamID(0x40), "smmu3") : ("eth", StreamID(0x10), "smmu0")
    world.attach(device, to: .dom0, "setup")
    return try SeededBug.inject(dropFlush ? [.iotlbFlushIgnored] : []) {
      try world.setEntry(.dom0, GFN(0x300), count: 1, mfn: MFN(0x1_0000), type: .ramRW)
      #expect(try world.disagreement(stream: stream, on: smmu, address: 0x300_040, access: .write) == nil)
      // The frame is taken away and replaced (e.g. a balloon-out then a new mapping).
      try world.setEntry(.dom0, GFN(0x300), count: 1, mfn: MFN(0x2_0000), type: .ramRW)
      return (try world.disagreement(stream: stream, on: smmu, address: 0x300_040, access: .write), world.impl.incoherentIOTLBEntries())
    }
  }

  @Test("with Xen's flush, a remapped page translates to its new frame", arguments: [false, true])
  func flushKeepsCoherence(v3: Bool) throws {
    let (difference, incoherent) = try Self.remapAfterUse(dropFlush: false, v3: v3)
    #expect(difference == nil, "\(difference ?? "")")
    #expect(incoherent.isEmpty)
  }

  @Test("without it (before 9ed527dc95) the device still reaches the old frame, and the check says so", arguments: [false, true])
  func droppedFlushIsStale(v3: Bool) throws {
    let (difference, incoherent) = try Self.remapAfterUse(dropFlush: true, v3: v3)
    let report = try #require(difference)
    #expect(report.contains("0x10000040"), "the stale frame is named: \(report)")
    #expect(incoherent.count == 1, "\(incoherent)")
  }

  @Test("without it, an unmap leaves the device a live translation to a page Xen may free and reuse")
  func droppedFlushOnUnmap() throws {
    var world = try smallV2World()
    world.attach("eth", to: .dom0, "setup")
    try SeededBug.iotlbFlushIgnored.inject {
      try world.setEntry(.dom0, GFN(0x400), count: 512, mfn: MFN(0x4_0000), type: .ramRW)  // a 2 MiB block
      _ = try world.disagreement(stream: 0x10, on: "smmu0", address: 0x400_000 + 0x5_000, access: .read)
      try world.setEntry(.dom0, GFN(0x405), count: 1, mfn: nil, type: .invalid)  // split, then remove one page
    }
    let smmu = try world.impl.smmuIndex(named: "smmu0")
    let stale = try world.impl.translate(stream: 0x10, on: smmu, address: 0x405_000, access: .read)
    #expect(stale.machineAddress == 0x4000_5000, "the cached 2 MiB block still maps the removed page")
    #expect(world.impl.walk(domain: .dom0, address: 0x405_000, access: .read) == .fault(StageTwoFault(kind: .translation, level: 3)))
    #expect(try world.disagreement(stream: 0x10, on: "smmu0", address: 0x405_000, access: .read) != nil)
  }

  /// The seeded random differential of ``DifferentialTests`` with the
  /// flush dropped: over all seeds, the check catches a stale translation.
  @Test("seeded random platforms without the flush: the differential check finds a stale translation")
  func randomWithoutFlush() throws {
    var caught: [String] = []
    for seed in DifferentialTests.seeds {
      var random = SplitMix64(seed: seed)
      var world = try World(
        smmus: [.v2(name: "a"), .v3(name: "b")],
        devices: [
          Device(name: "x", attachment: .behindSMMU(smmu: "a", streamIDs: [1], described: true)),
          Device(name: "y", attachment: .behindSMMU(smmu: "b", streamIDs: [2], described: true)),
        ])
      world.attach("x", to: .dom0, "seed \(hex(seed))")
      world.attach("y", to: .dom0, "seed \(hex(seed))")
      for step in 0..<200 where caught.count <= DifferentialTests.seeds.firstIndex(of: seed)! {
        let gfn = 0x1000 + random.next() % 32
        let mfn = random.next() % 4 == 0 ? nil : MFN(0x8_0000 + random.next() % 0x1000)
        try SeededBug.iotlbFlushIgnored.inject {
          try world.setEntry(.dom0, GFN(gfn), count: 1, mfn: mfn, type: mfn == nil ? .invalid : .ramRW)
        }
        let (stream, smmu): (StreamID, String) = random.next() % 2 == 0 ? (1, "a") : (2, "b")
        let address = (0x1000 + random.next() % 32) << 12
        if let difference = try world.disagreement(stream: stream, on: smmu, address: address, access: .read) {
          caught.append("seed \(hex(seed)) step \(step): \(difference)")
        }
      }
    }
    #expect(caught.count == DifferentialTests.seeds.count, "every seed exposes a stale entry: \(caught)")
  }
}
