import P2MImpl
@testable import SMMUImpl
import Spec
import Testing

/// The inlined hot path, ``XenSMMUPlatform/translateCompact(stream:on:address:access:)``,
/// against the full ``XenSMMUPlatform/translate(stream:on:address:access:)``
/// (itself differential-tested against the spec): on seeded random
/// platforms, streams and addresses, through attach, detach and p2m
/// changes, the two agree on IOTLB hits, misses, stage-2 faults (cached
/// permission faults among them) and streams that fault, abort or bypass.
@Suite("Fast path: translateCompact agrees with translate (seeded)")
struct FastPathTests {
  /// What one probe exercised; each must occur for some seed, or the
  /// agreement would be vacuous there.
  struct Coverage {
    /// Answered by the IOTLB without the full path.
    var fastHits = 0
    /// Handed to the full path although the stream translates (a miss).
    var misses = 0
    /// Terminated before stage 2, or bypassed.
    var notTranslating = 0
    /// Stage-2 faults of a walk.
    var walkFaults = 0
  }

  @Test("hits, misses and faults agree with the full path", arguments: DifferentialTests.seeds)
  func agreesWithFullPath(seed: UInt64) throws {
    var random = SplitMix64(seed: seed)
    let (smmus, devices) = DifferentialTests.platform(&random)
    let domains = [DomainID.dom0, DomainID(1)]
    // Small, so that direct-mapped replacement makes hits turn into misses.
    var world = try World(smmus: smmus, devices: devices, domains: domains, iotlbCapacity: 32)
    let window: UInt64 = 0x4_0000
    var coverage = Coverage()
    var touched: [UInt64] = [window]
    func pick<T>(_ items: [T]) -> T { items[Int(random.next() % UInt64(items.count))] }
    let types: [P2MType] = [.ramRW, .ramRO, .iommuMapRO, .grantMapRW]

    for step in 0..<60 {
      let note = "seed \(hex(seed)) step \(step)"
      switch random.next() % 6 {
      case 0: world.attach(pick(devices).name, to: pick(domains), note)
      case 1: world.detach(pick(devices).name, note)
      default:
        let gfn = window + random.next() % 256
        touched.append(gfn)
        let removing = random.next() % 5 == 0
        try world.setEntry(
          pick(domains), GFN(gfn), count: 1, mfn: removing ? nil : MFN(random.next() % (1 << 20) + (1 << 24)),
          type: removing ? .invalid : pick(types))
      }
      for _ in 0..<16 {
        let smmuName = pick(smmus).name
        let smmu = try world.impl.smmuIndex(named: smmuName)
        let stream: StreamID
        if random.next() % 3 != 0, case .behindSMMU(let name, let streams, _) = pick(devices).attachment, name == smmuName {
          stream = pick(streams)
        } else {
          stream = StreamID(random.next() % 32)
        }
        let page = random.next() % 2 == 0 ? pick(touched) : window + random.next() % 320
        let address = page << 12 | random.next() % 4096
        let access: Access = random.next() % 2 == 0 ? .read : .write
        let probe = "\(note): stream \(hex(UInt64(stream)))@\(smmuName) \(hex(address)) \(access)"

        // Whether the IOTLB alone answers, looked at without side effects
        // on the answer (a copy of the instance).
        var instance = world.impl.instances[smmu.rawValue].value
        let cached = instance.cachedTranslation(stream: stream, address: address, access: access)
        let fast = try world.impl.translateCompact(stream: stream, on: smmu, address: address, access: access)
        let full = try world.impl.translate(stream: stream, on: smmu, address: address, access: access)
        // Again, now that a translated miss has filled the IOTLB.
        instance = world.impl.instances[smmu.rawValue].value
        let cachedAgain = instance.cachedTranslation(stream: stream, address: address, access: access)
        let fastAgain = try world.impl.translateCompact(stream: stream, on: smmu, address: address, access: access)

        #expect(fast == CompactTranslation(full), "\(probe): fast \(fast), full \(full)")
        #expect(fastAgain == fast, "\(probe): again \(fastAgain), first \(fast)")
        #expect(fast.machineAddress == full.machineAddress, "\(probe)")
        if let cached { #expect(cached == fast, "\(probe): the IOTLB said \(cached)") }
        if let cachedAgain { #expect(cachedAgain == fast, "\(probe): the IOTLB then said \(cachedAgain)") }
        if case .context = full.stream, case .translated = full.stageTwo {
          #expect(cachedAgain != nil, "\(probe): a translation is answered by the IOTLB alone next time")
        }

        if case .context = full.stream, cachedAgain != nil { coverage.fastHits += 1 }
        switch (full.stream, cached) {
        case (.context, _?):
          break
        case (.context, nil):
          coverage.misses += 1
          if case .fault = full.stageTwo { coverage.walkFaults += 1 }
        default:
          coverage.notTranslating += 1
          #expect(cached == nil && cachedAgain == nil, "\(probe): only translating streams are cached")
        }
      }
    }
    #expect(coverage.fastHits > 0, "seed \(hex(seed)): \(coverage)")
    #expect(coverage.misses > 0, "seed \(hex(seed)): \(coverage)")
    #expect(coverage.notTranslating > 0, "seed \(hex(seed)): \(coverage)")
    #expect(coverage.walkFaults > 0, "seed \(hex(seed)): \(coverage)")
  }

  /// A read-only page: a write that hits the IOTLB is a permission fault
  /// at the cached level, answered on the fast path, and a read of the
  /// same entry translates with the page offset kept.
  @Test("cached permission fault and offset on the fast path")
  func cachedPermissionFault() throws {
    let world = try smallV2World()
    try world.impl.attach("eth", to: .dom0)
    try world.impl.updateP2M(of: .dom0) { (p2m: inout XenP2M) throws(XenP2MError) in
      try p2m.map(GFN(0x40000), to: MFN(0x1234567), type: .ramRO)
    }
    let smmu = try world.impl.smmuIndex(named: "smmu0")
    let address: UInt64 = 0x40000 << 12 | 0xABC
    #expect(try world.impl.translateCompact(stream: 0x10, on: smmu, address: address, access: .read) == .reached(0x1234567 << 12 | 0xABC))
    let hitsBefore = try world.impl.iotlb(of: smmu).statistics.hits
    var instance = world.impl.instances[smmu.rawValue].value
    #expect(instance.cachedTranslation(stream: 0x10, address: address, access: .write) == .stageTwoFault(.permission, level: 3))
    let write = try world.impl.translateCompact(stream: 0x10, on: smmu, address: address, access: .write)
    #expect(write.stageTwoFault == StageTwoFault(kind: .permission, level: 3))
    #expect(write.machineAddress == nil)
    #expect(try world.impl.iotlb(of: smmu).statistics.hits == hitsBefore + 1, "answered by the IOTLB")
  }

  /// Two domains behind one SMMUv2 (dom0 through stream 1, VMID 1; d1
  /// through stream 2, VMID 2) map GFN 0x40201 to different frames; dom0's
  /// device has just filled the IOTLB with that page.
  static func sharedPage(iotlbCapacity: Int) throws -> (World, SMMUIndex, UInt64) {
    var world = try World(
      smmus: [.v2(name: "s")],
      devices: [
        Device(name: "a", attachment: .behindSMMU(smmu: "s", streamIDs: [1], described: true)),
        Device(name: "b", attachment: .behindSMMU(smmu: "s", streamIDs: [2], described: true)),
      ],
      domains: [.dom0, DomainID(1)], iotlbCapacity: iotlbCapacity)
    world.attach("a", to: .dom0, "setup")
    world.attach("b", to: DomainID(1), "setup")
    try world.setEntry(.dom0, GFN(0x40201), count: 1, mfn: MFN(0x123_4000), type: .ramRW)
    try world.setEntry(DomainID(1), GFN(0x40201), count: 1, mfn: MFN(0x765_4000), type: .ramRW)
    let smmu = try world.impl.smmuIndex(named: "s")
    let address: UInt64 = 0x40201 << 12 | 0x10
    #expect(try world.impl.translateCompact(stream: 1, on: smmu, address: address, access: .read) == .reached(0x123_4000 << 12 | 0x10))
    return (world, smmu, address)
  }

  /// The fast-path bugs `smmu.fast-path` refutes, in the concrete SMMU: the
  /// full path, which the differential tests and the fuzzer run, is not
  /// affected, so the fast path answers differently from it. A probe that
  /// ignores the VMID needs two VMIDs' entries in one slot, which the
  /// direct-mapped index gives small VMIDs only in a small IOTLB: with a
  /// one-entry IOTLB d1 reaches dom0's frame, with the default 1024 entries
  /// VMIDs 1 and 2 never share a slot and the bug does not show at all —
  /// why it needs the theorem, which quantifies over every slot content.
  @Test("a fast-path bug disagrees with the full path", arguments: [
    (SeededBug.fastPathIgnoresVMID, StreamID(2), UInt64(0x765_4000 << 12 | 0x10), UInt64(0x123_4000 << 12 | 0x10)),
    (SeededBug.fastPathBlockOffset, StreamID(1), UInt64(0x123_4000 << 12 | 0x10), UInt64(0x123_4001 << 12 | 0x10)),
  ])
  func mutantDisagrees(bug: SeededBug, stream: StreamID, right: UInt64, wrong: UInt64) throws {
    try bug.inject {
      let (world, smmu, address) = try Self.sharedPage(iotlbCapacity: 1)
      let fast = try world.impl.translateCompact(stream: stream, on: smmu, address: address, access: .read)
      let full = try world.impl.translate(stream: stream, on: smmu, address: address, access: .read)
      #expect(fast == .reached(wrong), "\(fast)")
      #expect(full.machineAddress == right, "\(full)")
    }

    let (sound, soundSMMU, address) = try Self.sharedPage(iotlbCapacity: 1)
    #expect(try sound.impl.translateCompact(stream: stream, on: soundSMMU, address: address, access: .read) == .reached(right))
  }

  @Test("a probe that ignores the VMID does not show in a 1024-entry IOTLB with VMIDs 1 and 2")
  func ignoredVMIDHiddenByTheIndex() throws {
    try SeededBug.fastPathIgnoresVMID.inject {
      let (world, smmu, address) = try Self.sharedPage(iotlbCapacity: 1024)
      let fast = try world.impl.translateCompact(stream: 2, on: smmu, address: address, access: .read)
      #expect(fast == .reached(0x765_4000 << 12 | 0x10))
    }
  }
}
