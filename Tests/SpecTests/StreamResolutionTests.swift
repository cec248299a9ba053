import Testing

@testable import Spec

@Suite("Stream resolution (fact sheet §6.4)")
struct StreamResolutionTests {
  @Test("§6.4 row 1: a master outside any SMMU is untranslated", arguments: SMMUVersion.allCases)
  func notBehindSMMU(version: SMMUVersion) throws {
    var platform = try threeMasterPlatform(version)
    try platform.assignDescribedDevicesToDom0()
    #expect(try platform.resolve(deviceNamed: "mmc") == .untranslated)
  }

  @Test("§6.4 row 2: an undescribed master faults on SMMUv2 (USFCFG=1) and aborts on SMMUv3")
  func undescribed() throws {
    var v2 = try threeMasterPlatform(.v2)
    try v2.assignDescribedDevicesToDom0()
    #expect(try v2.resolve(deviceNamed: "gpu") == .fault(.unidentifiedStream))
    var v3 = try threeMasterPlatform(.v3)
    try v3.assignDescribedDevicesToDom0()
    #expect(try v3.resolve(deviceNamed: "gpu") == .abort)
  }

  @Test("§6.4 row 3: an attached master translates through dom0's context", arguments: SMMUVersion.allCases)
  func attached(version: SMMUVersion) throws {
    var platform = try threeMasterPlatform(version)
    try platform.assignDescribedDevicesToDom0()
    #expect(try platform.resolve(deviceNamed: "eth") == .context(domain: .dom0, vmid: 1))
    #expect(try platform.isProtected(platform.device(named: "eth"), for: .dom0))
    #expect(try !platform.isProtected(platform.device(named: "mmc"), for: .dom0))
    #expect(try !platform.isProtected(platform.device(named: "gpu"), for: .dom0))
  }

  @Test("SMMUv2 SMR match: (stream ^ id) & ~mask == 0")
  func smrMatching() {
    let smr = StreamMatchRegister(id: 0x120, mask: 0x00F)
    #expect(smr.matches(0x120))
    #expect(smr.matches(0x12F))
    #expect(!smr.matches(0x130))
    #expect(!smr.matches(0x020))
    #expect(StreamMatchRegister(id: 5).matches(5))
    #expect(!StreamMatchRegister(id: 5).matches(4))
  }

  @Test("SMMUv2: one match uses its S2CR; two matches are a stream match conflict [uncertain]; none with USFCFG=0 bypasses")
  func v2RegisterStates() throws {
    let registers = try SMMUv2Registers(
      streamMatch: [StreamMatchRegister(id: 0x10, mask: 0x3), StreamMatchRegister(id: 0x12), nil, StreamMatchRegister(id: 0x40)],
      streamToContext: [.translate(contextBank: 1), .fault, .translate(contextBank: 0), .bypass],
      contextBanks: [nil, DomainID(2)])
    let smmu = SMMU(name: "s", streamIDBits: 15, state: .v2(registers))
    #expect(smmu.resolve(stream: 0x11) == .context(domain: DomainID(2), vmid: 2))
    #expect(smmu.resolve(stream: 0x12) == .fault(.streamMatchConflict(entries: [0, 1])))
    #expect(smmu.resolve(stream: 0x40) == .bypass)
    #expect(smmu.resolve(stream: 0x41) == .fault(.unidentifiedStream))
    var permissive = registers
    permissive.unidentifiedStreamFaults = false
    #expect(SMMU(name: "s", streamIDBits: 15, state: .v2(permissive)).resolve(stream: 0x41) == .bypass)
    let disabled = try SMMUv2Registers(
      streamMatch: [StreamMatchRegister(id: 1)], streamToContext: [.translate(contextBank: 0)], contextBanks: [nil])
    #expect(SMMU(name: "s", streamIDBits: 15, state: .v2(disabled)).resolve(stream: 1) == .fault(.disabledContextBank(0)))
  }

  @Test("inconsistent v2 registers are refused")
  func malformedRegisters() {
    #expect(throws: SMMUError.self) {
      try SMMUv2Registers(streamMatch: [nil], streamToContext: [], contextBanks: [])
    }
    #expect(throws: SMMUError.self) {
      try SMMUv2Registers(streamMatch: [nil], streamToContext: [.translate(contextBank: 3)], contextBanks: [nil])
    }
  }

  @Test("SMMUv3: a stream beyond SIDSIZE aborts; a hand-written BYPASS STE bypasses")
  func v3Table() {
    var table = SMMUv3StreamTable()
    table.entries[7] = .bypass
    let smmu = SMMU(name: "s", streamIDBits: 4, state: .v3(table))
    #expect(smmu.resolve(stream: 7) == .bypass)
    #expect(smmu.resolve(stream: 8) == .abort)
    #expect(smmu.resolve(stream: 0x17) == .abort)
  }

  @Test("property: on random platforms, attached ⇔ context, and undescribed never translates (seed 0x5A11)")
  func randomPlatforms() throws {
    var random = SplitMix64(seed: 0x5A11)
    for _ in 0..<200 {
      let version: SMMUVersion = random.next() % 2 == 0 ? .v2 : .v3
      var devices: [Device] = []
      var nextStream: StreamID = 0
      for index in 0..<Int(random.next() % 6 + 1) {
        let kind = random.next() % 3
        let streams = (0..<(random.next() % 3 + 1)).map { _ -> StreamID in
          nextStream += 1
          return nextStream
        }
        devices.append(Device(
          name: "d\(index)",
          attachment: kind == 0 ? .notBehindSMMU : .behindSMMU(smmu: "s", streamIDs: streams, described: kind == 1)))
      }
      let smmu: SMMU = version == .v2 ? .v2(name: "s", streamMapEntries: 32, contextBanks: 4) : .v3(name: "s")
      var platform = try SMMUPlatform(smmus: [smmu], devices: devices)
      for device in devices where random.next() % 2 == 0 {
        if case .behindSMMU(_, _, described: true) = device.attachment {
          try platform.attach(device.name, to: DomainID(UInt16(random.next() % 3)))
        }
      }
      for device in devices where random.next() % 4 == 0 && platform.assignments[device.name] != nil {
        try platform.detach(device.name)
      }
      for device in devices {
        let outcome = try platform.resolve(device)
        switch (device.attachment, platform.assignments[device.name]) {
        case (.notBehindSMMU, _):
          #expect(outcome == .untranslated)
        case (.behindSMMU, let domain?):
          guard case .context(domain, _) = outcome else {
            Issue.record("\(device) attached to \(domain) resolved to \(outcome)")
            continue
          }
        case (.behindSMMU, nil):
          switch (version, outcome) {
          case (.v3, .abort), (.v2, .fault): break
          default: Issue.record("\(device) is not attached but resolved to \(outcome)")
          }
        }
      }
    }
  }
}
