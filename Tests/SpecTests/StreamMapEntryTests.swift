import Testing

@testable import Spec

/// SMMUv2 stream map entries as Xen allocates them (`arm_smmu_find_sme()`,
/// `arm_smmu_master_alloc_smes()`, `arm_smmu_domain_add_master()` and
/// `arm_smmu_domain_remove_master()`, xen/drivers/passthrough/arm/smmu.c),
/// with device-tree masks dropped before 4.20 and written from 4.20
/// (`ef3b4768b3`).
@Suite("SMMUv2 stream map entries: masks and sharing (smmu.c, 4.16 … 4.21)")
struct StreamMapEntryTests {
  /// One SMMUv2 with `a` = 0x10/0xf (dom0's), `b` = 0x13 (inside a's
  /// range), `c` = 0x18/0x18 (overlapping a's range without being inside
  /// it) and `u` = 0x15, undescribed.
  static func platform(sharing: Bool, order: [String] = ["a", "b", "c", "u"]) throws -> SMMUPlatform {
    var smmu = SMMU.v2(name: "smmu0", streamMapEntries: 4, contextBanks: 2)
    smmu.sharesMaskedStreamMatchEntries = sharing
    let all: [String: Device] = [
      "a": Device(name: "a", attachment: .behindSMMU(smmu: "smmu0", streamIDs: [0x10], described: true), streamMatchMasks: [0xF]),
      "b": Device(name: "b", attachment: .behindSMMU(smmu: "smmu0", streamIDs: [0x13], described: true)),
      "c": Device(name: "c", attachment: .behindSMMU(smmu: "smmu0", streamIDs: [0x18], described: true), streamMatchMasks: [0x18]),
      "u": Device(name: "u", attachment: .behindSMMU(smmu: "smmu0", streamIDs: [0x15], described: false)),
    ]
    return try SMMUPlatform(smmus: [smmu], devices: order.compactMap { all[$0] })
  }

  static func registers(_ platform: SMMUPlatform) throws -> SMMUv2Registers {
    guard case .v2(let registers)? = platform.smmus["smmu0"]?.state else { throw SMMUError.unknownSMMU("smmu0") }
    return registers
  }

  @Test("before 4.20 the mask is dropped: SMR {0x10, mask 0}; a stream inside the mask faults as unidentified")
  func maskIgnoredBefore420() throws {
    var platform = try Self.platform(sharing: XenVersion(name: "4.19")?.sharesMaskedStreamMatchEntries ?? true)
    try platform.attach("a", to: .dom0)
    #expect(try Self.registers(platform).streamMatch[0] == StreamMatchRegister(id: 0x10, mask: 0))
    #expect(try platform.resolve(deviceNamed: "a") == .context(domain: .dom0, vmid: 1))
    #expect(try platform.resolve(deviceNamed: "u") == .fault(.unidentifiedStream))
    // b gets its own entry, c too: with mask 0 nothing overlaps partly.
    try platform.attach("b", to: .dom0)
    try platform.attach("c", to: .dom0)
    #expect(try Self.registers(platform).streamMatch == [
      StreamMatchRegister(id: 0x10), StreamMatchRegister(id: 0x13), StreamMatchRegister(id: 0x18), nil,
    ])
  }

  @Test("from 4.20 SMR {0x10, mask 0xf}: an undescribed master inside it translates through dom0's context")
  func maskWrittenFrom420() throws {
    var platform = try Self.platform(sharing: XenVersion.v4_20.sharesMaskedStreamMatchEntries)
    try platform.attach("a", to: .dom0)
    #expect(try Self.registers(platform).streamMatch[0] == StreamMatchRegister(id: 0x10, mask: 0xF))
    #expect(try platform.resolve(deviceNamed: "u") == .context(domain: .dom0, vmid: 1))
  }

  @Test("from 4.20 a stream inside an existing SMR shares its entry, counted; a partial overlap is -EINVAL")
  func sharingAndPartialOverlap() throws {
    var platform = try Self.platform(sharing: true)
    try platform.assignDescribedDevicesToDom0Skipping(["c"])
    let smmu = try #require(platform.smmus["smmu0"])
    #expect(smmu.streamMapEntries["a"] == [0] && smmu.streamMapEntries["b"] == [0])
    #expect(smmu.streamMapEntryCounts[0] == 2)
    #expect(try Self.registers(platform).streamMatch == [StreamMatchRegister(id: 0x10, mask: 0xF), nil, nil, nil])
    #expect(throws: SMMUError.partialStreamMatchOverlap(
      device: "c", smmu: "smmu0", request: StreamMatchRegister(id: 0x18, mask: 0x18), entry: 0,
      existing: StreamMatchRegister(id: 0x10, mask: 0xF))) { try platform.attach("c", to: .dom0) }
    // The refusal wrote nothing.
    #expect(try Self.registers(platform).streamMatch == [StreamMatchRegister(id: 0x10, mask: 0xF), nil, nil, nil])
    #expect(platform.assignments["c"] == nil)
  }

  @Test("a masked request after a narrower SMR inside it is -EINVAL: the order of allocation decides")
  func orderDecides() throws {
    var platform = try Self.platform(sharing: true, order: ["b", "a"])
    try platform.attach("b", to: .dom0)
    #expect(throws: SMMUError.self) { try platform.attach("a", to: .dom0) }
    #expect(try Self.registers(platform).streamMatch == [StreamMatchRegister(id: 0x13), nil, nil, nil])
  }

  /// `arm_smmu_domain_add_master()` rewrites the S2CR of every entry of the
  /// device, shared or not; `arm_smmu_domain_remove_master()` resets it.
  @Test("cross-domain: assigning b to a domU moves dom0's a to the domU's context; detaching b faults a")
  func sharedEntryCrossesDomains() throws {
    var platform = try Self.platform(sharing: true, order: ["a", "b"])
    try platform.assignDescribedDevicesToDom0()
    #expect(try platform.resolve(deviceNamed: "a") == .context(domain: .dom0, vmid: 1))
    try platform.detach("b")
    // b's detach reset the shared S2CR: a, still dom0's, faults.
    #expect(platform.assignments["a"] == .dom0)
    #expect(try platform.resolve(deviceNamed: "a") == .fault(.streamToContextFault(entry: 0)))
    try platform.attach("b", to: DomainID(1))
    #expect(try platform.resolve(deviceNamed: "b") == .context(domain: DomainID(1), vmid: 2))
    #expect(try platform.resolve(deviceNamed: "a") == .context(domain: DomainID(1), vmid: 2))
    #expect(platform.assignments["a"] == .dom0)
  }

  /// A detach resets the count (`s2cr_init_val`), so the next device that
  /// finds the kept entry rewrites its SMR (`count == 0` in
  /// `arm_smmu_master_alloc_smes()`).
  @Test("an entry kept at count 0 by a detach is rewritten by the next device that lands in it")
  func keptEntryRewritten() throws {
    var platform = try Self.platform(sharing: true, order: ["a", "b"])
    try platform.attach("a", to: .dom0)
    try platform.detach("a")
    #expect(platform.smmus["smmu0"]?.streamMapEntryCounts[0] == nil)
    try platform.attach("b", to: DomainID(1))
    #expect(try Self.registers(platform).streamMatch[0] == StreamMatchRegister(id: 0x13))
    // a kept entry 0: re-attached, its S2CR translates, but its stream
    // 0x10 no longer matches the rewritten SMR.
    try platform.attach("a", to: .dom0)
    #expect(try platform.resolve(deviceNamed: "a") == .fault(.unidentifiedStream))
    // dom0's bank was freed with a's detach and taken by domain 1: dom0
    // now has bank 1, and b, domain 1's, translates through it.
    #expect(try platform.resolve(deviceNamed: "b") == .context(domain: .dom0, vmid: 2))
  }

  /// The search against its definition over 6-bit IDs and masks: `.entry`
  /// of a valid SMR covers every stream of the request; `.partialOverlap`
  /// names an SMR sharing a stream with the request without covering it;
  /// a free entry is returned only when no valid SMR shares any stream.
  @Test("arm_smmu_find_sme agrees with its set definition on random SMR files", arguments: [UInt64(0x5F1), 0xFEED, 0xA11CE])
  func findAgainstDefinition(seed: UInt64) {
    var random = SplitMix64(seed: seed)
    func streams(_ smr: StreamMatchRegister) -> Set<StreamID> { Set((0..<64).filter { smr.matches($0) }) }
    func smr() -> StreamMatchRegister { StreamMatchRegister(id: StreamID(random.next() % 64), mask: StreamID(random.next() % 64) & StreamID(random.next() % 64)) }
    for _ in 0..<500 {
      let file: [StreamMatchRegister?] = (0..<4).map { _ in random.next() % 3 == 0 ? nil : smr() }
      let request = smr()
      let wanted = streams(request)
      switch SMMU.findStreamMapEntry(for: request, in: file) {
      case .entry(let index):
        if let existing = file[index] {
          #expect(wanted.isSubset(of: streams(existing)), "\(request) in \(existing)")
          #expect(file[..<index].allSatisfy { $0.map { streams($0).isDisjoint(with: wanted) } ?? true })
        } else {
          #expect(file.allSatisfy { $0.map { streams($0).isDisjoint(with: wanted) } ?? true }, "\(request) free at \(index) of \(file)")
          #expect(file[..<index].allSatisfy { $0 != nil })
        }
      case .partialOverlap(let index):
        let existing = streams(file[index] ?? request)
        #expect(!existing.isDisjoint(with: wanted) && !wanted.isSubset(of: existing), "\(request) vs \(String(describing: file[index]))")
      case .full:
        #expect(file.allSatisfy { $0.map { streams($0).isDisjoint(with: wanted) } ?? false })
      }
    }
  }

  /// With sharing, Xen's own writes never make two valid SMRs share a
  /// stream: no sequence of attaches and detaches reaches a stream match
  /// conflict.
  @Test("random attaches and detaches with masks never make a stream match conflict", arguments: [UInt64(1), 2, 3, 4])
  func neverConflicts(seed: UInt64) throws {
    var random = SplitMix64(seed: seed)
    var smmu = SMMU.v2(name: "s", streamMapEntries: 6, contextBanks: 3)
    smmu.sharesMaskedStreamMatchEntries = true
    let devices = (0..<6).map { index in
      Device(
        name: "d\(index)", attachment: .behindSMMU(smmu: "s", streamIDs: [StreamID(random.next() % 32)], described: true),
        streamMatchMasks: [StreamID(random.next() % 8)])
    }
    var platform = try SMMUPlatform(smmus: [smmu], devices: devices)
    for _ in 0..<60 {
      let device = devices[Int(random.next() % 6)].name
      if random.next() % 3 == 0 {
        try? platform.detach(device)
      } else {
        try? platform.attach(device, to: DomainID(UInt16(random.next() % 3)))
      }
      let resolved = try #require(platform.smmus["s"])
      for stream in StreamID(0)..<64 {
        if case .fault(.streamMatchConflict) = resolved.resolve(stream: stream) { Issue.record("seed \(seed): stream \(stream) conflicts") }
      }
    }
  }
}

extension SMMUPlatform {
  /// ``assignDescribedDevicesToDom0()`` but for `skipped`.
  mutating func assignDescribedDevicesToDom0Skipping(_ skipped: Set<String>) throws {
    for device in devices where !skipped.contains(device.name) {
      if case .behindSMMU(_, _, described: true) = device.attachment { try attach(device.name, to: .dom0) }
    }
  }
}
