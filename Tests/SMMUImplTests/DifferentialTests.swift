import P2MImpl
import SMMUImpl
import Spec
import Testing

/// Seeded random platforms — several SMMUs, v2 and v3, devices sharing
/// streams, undescribed masters, masters not behind any SMMU — driven by
/// random attach, detach and p2m changes (with Xen's flush discipline,
/// the p2m's IOTLB flush callback); after every step, transactions of
/// random streams to random addresses agree with the spec.
@Suite("Differential: XenSMMUPlatform against SMMUPlatform (seeded)")
struct DifferentialTests {
  static let seeds: [UInt64] = [0x5EED_0005, 0xC0FF_EE00_0005, 0xD1FF_0005, 0xBADC_0FFE, 0x1234_5678_9ABC]

  /// A random platform; devices draw streams from a small range so that
  /// several devices share a stream, which makes SMEs be kept and reused.
  static func platform(_ random: inout SplitMix64) -> (smmus: [SMMU], devices: [Device]) {
    let smmus: [SMMU] = (0..<(1 + Int(random.next() % 3))).map { index in
      random.next() % 2 == 0
        ? .v2(name: "smmu\(index)", streamMapEntries: 4 + Int(random.next() % 8), contextBanks: 1 + Int(random.next() % 3))
        : .v3(name: "smmu\(index)", streamIDBits: 6 + Int(random.next() % 11), vmidBits: random.next() % 2 == 0 ? 8 : 16)
    }
    let devices: [Device] = (0..<(3 + Int(random.next() % 6))).map { index in
      guard random.next() % 6 != 0 else { return Device(name: "dev\(index)", attachment: .notBehindSMMU) }
      let smmu = smmus[Int(random.next() % UInt64(smmus.count))].name
      let streams = (0..<(1 + random.next() % 3)).map { _ in StreamID(random.next() % 24) }
      return Device(name: "dev\(index)", attachment: .behindSMMU(smmu: smmu, streamIDs: streams, described: random.next() % 5 != 0))
    }
    return (smmus, devices)
  }

  @Test("every step agrees with the spec, through the IOTLB and on a fresh walk", arguments: seeds)
  func randomPlatform(seed: UInt64) throws {
    var random = SplitMix64(seed: seed)
    let (smmus, devices) = Self.platform(&random)
    let domains = [DomainID.dom0, DomainID(1), DomainID(2)]
    // A small IOTLB, so direct-mapped replacement happens too.
    var world = try World(smmus: smmus, devices: devices, domains: domains, iotlbCapacity: 64)
    let window: UInt64 = 0x4_0000  // GFNs 0x40000..<0x40800: four L3 tables, one 2 MiB-aligned run
    var touched: [UInt64] = [window]
    var hits = 0
    var translated = 0
    func pick<T>(_ items: [T]) -> T { items[Int(random.next() % UInt64(items.count))] }
    let types: [P2MType] = [.ramRW, .ramRO, .iommuMapRW, .iommuMapRO, .grantMapRW, .mapForeignRO]

    for step in 0..<80 {
      let note = "seed \(hex(seed)) step \(step)"
      switch random.next() % 8 {
      case 0, 1: world.attach(pick(devices).name, to: pick(domains), note)
      case 2: world.detach(pick(devices).name, note)
      default:
        let domain = pick(domains)
        let block = random.next() % 6 == 0
        let gfn = block ? window + (random.next() % 4) * 512 : window + random.next() % 2048
        let count: UInt64 = block ? 512 : 1 + random.next() % 3
        let removing = random.next() % 4 == 0
        let mfn = MFN((block ? (random.next() % 1024) << 9 : random.next() % (1 << 20)) + (1 << 24))
        try world.setEntry(domain, GFN(gfn), count: min(count, window + 2048 - gfn), mfn: removing ? nil : mfn,
                           type: removing ? .invalid : pick(types))
        touched.append(gfn)
      }
      // Probes: every device's first stream and random streams, on pages
      // touched so far (so the IOTLB hits) and random ones; each twice.
      for _ in 0..<12 {
        let (stream, smmu): (StreamID, String)
        if random.next() % 2 == 0, case .behindSMMU(let name, let streams, _) = pick(devices).attachment {
          (stream, smmu) = (streams[0], name)
        } else {
          (stream, smmu) = (StreamID(random.next() % 32), pick(smmus).name)
        }
        let page = random.next() % 3 == 0 ? window + random.next() % 4096 : pick(touched)
        let address = page << 12 | random.next() % 4096
        let access: Access = random.next() % 2 == 0 ? .read : .write
        let before = try world.impl.iotlb(of: world.impl.smmuIndex(named: smmu)).statistics.hits
        for attempt in ["first", "again"] {
          let difference = try world.disagreement(stream: stream, on: smmu, address: address, access: access)
          #expect(difference == nil, "\(note) \(attempt): \(difference ?? "")")
        }
        if try world.impl.translate(stream: stream, on: world.impl.smmuIndex(named: smmu), address: address, access: access)
          .machineAddress != nil, case .context = try world.impl.resolve(stream: stream, on: world.impl.smmuIndex(named: smmu)) {
          translated += 1
        }
        hits += try world.impl.iotlb(of: world.impl.smmuIndex(named: smmu)).statistics.hits - before
      }
      #expect(world.impl.incoherentIOTLBEntries().isEmpty, "\(note): \(world.impl.incoherentIOTLBEntries().prefix(3))")
    }
    #expect(hits > 0, "seed \(hex(seed)): some probes hit the IOTLB")
    #expect(translated > 0, "seed \(hex(seed)): some probes translate through a context")
  }

  /// Hand-set SMMUv2 registers with SMR masks (any masks, where Xen writes
  /// only device-tree ones from 4.20) and overlapping SMRs, then attaches
  /// that reuse a hand-set SMR covering their stream or write one
  /// incrementally (`arm_smmu_find_sme()`): every one of the 2^15 streams
  /// resolves as the spec's scan of the SMRs says.
  @Test("SMR masks and conflicts: every stream resolves as the spec says", arguments: seeds.prefix(3))
  func maskedStreamMatching(seed: UInt64) throws {
    var random = SplitMix64(seed: seed)
    let entries = 12
    let banks = 4
    var smrs: [StreamMatchRegister?] = (0..<entries).map { _ in
      guard random.next() % 3 != 0 else { return nil }
      // Masks of up to 6 bits, so each SMR covers up to 64 streams.
      let mask = StreamID(random.next() & 0x7FFF) & StreamID(random.next() & 0x7FFF) & StreamID(random.next() & 0x7FFF) & 0x3F3
      return StreamMatchRegister(id: StreamID(random.next() % 0x7FFF), mask: mask)
    }
    smrs[entries - 1] = nil  // room for an attach
    let s2crs: [StreamToContext] = (0..<entries).map { _ in
      switch random.next() % 4 {
      case 0: .fault
      case 1: .bypass
      default: .translate(contextBank: Int(random.next() % UInt64(banks)))
      }
    }
    let contextBanks: [DomainID?] = [DomainID.dom0, nil, DomainID(1), DomainID.dom0]
    let registers = try SMMUv2Registers(streamMatch: smrs, streamToContext: s2crs, contextBanks: contextBanks)
    let devices = [
      Device(name: "a", attachment: .behindSMMU(smmu: "s", streamIDs: [StreamID(random.next() % 0x7FFF)], described: true)),
      Device(name: "b", attachment: .behindSMMU(smmu: "s", streamIDs: [0x7FFF], described: true)),
    ]
    var world = try World(smmus: [.v2(name: "s", streamMapEntries: entries, contextBanks: banks)], devices: devices,
                          domains: [.dom0, DomainID(1)])
    try world.spec.setState(.v2(registers), of: "s")
    try world.impl.setState(.v2(registers), of: "s")
    let smmu = try world.impl.smmuIndex(named: "s")
    func compareAll(_ note: String) throws {
      var mismatches: [String] = []
      for stream in StreamID(0)..<0x8000 {
        let expected = try #require(world.spec.smmus["s"]).resolve(stream: stream)
        let got = try world.impl.resolve(stream: stream, on: smmu)
        if got != expected { mismatches.append("\(hex(UInt64(stream))): \(got) vs \(expected)") }
        // The transaction path reads the per-stream context table, which
        // is rebuilt incrementally; sample it against the same answer.
        if stream % 5 == 0 {
          let transaction = try world.impl.translate(stream: stream, on: smmu, address: 0x1000, access: .read).stream
          if transaction != expected { mismatches.append("\(hex(UInt64(stream))) (transaction): \(transaction) vs \(expected)") }
        }
      }
      #expect(mismatches.isEmpty, "seed \(hex(seed)) \(note): \(mismatches.count) streams differ: \(mismatches.prefix(4))")
    }
    try compareAll("hand-set")
    world.attach("a", to: DomainID(1), "seed \(hex(seed))")
    world.attach("b", to: .dom0, "seed \(hex(seed))")
    try compareAll("after attaches")
    world.detach("a", "seed \(hex(seed))")
    try compareAll("after a detach")
  }
}
