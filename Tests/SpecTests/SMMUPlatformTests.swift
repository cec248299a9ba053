import Testing

@testable import Spec

/// A platform with one SMMU of `version`: a described master, an
/// undescribed one and one outside any SMMU (fact sheet §6.4's three rows).
func threeMasterPlatform(_ version: SMMUVersion) throws -> SMMUPlatform {
  let smmu: SMMU = version == .v2 ? .v2(name: "smmu0") : .v3(name: "smmu0")
  return try SMMUPlatform(
    smmus: [smmu],
    devices: [
      Device(name: "eth", attachment: .behindSMMU(smmu: "smmu0", streamIDs: [0x10, 0x11], described: true)),
      Device(name: "gpu", attachment: .behindSMMU(smmu: "smmu0", streamIDs: [0x20], described: false)),
      Device(name: "mmc", attachment: .notBehindSMMU),
    ])
}

@Suite("SMMU platform (fact sheet §6.1–§6.3)")
struct SMMUPlatformTests {
  @Test("§6.1 arm_smmu_device_reset: every SMR invalid, every S2CR FAULT, banks disabled, USFCFG=1")
  func v2ResetState() throws {
    guard case .v2(let registers) = SMMU.v2(name: "s", streamMapEntries: 4, contextBanks: 2).state else {
      Issue.record("not a v2")
      return
    }
    #expect(registers.streamMatch == [nil, nil, nil, nil])
    #expect(registers.streamToContext == [.fault, .fault, .fault, .fault])
    #expect(registers.contextBanks == [nil, nil])
    #expect(registers.unidentifiedStreamFaults)
  }

  @Test("§6.1 arm_smmu_domain_add_master: SMR {sid, mask 0} and S2CR=TRANS to the first free bank")
  func v2AttachWritesSMRsAndS2CRs() throws {
    var platform = try threeMasterPlatform(.v2)
    try platform.attach("eth", to: .dom0)
    guard case .v2(let registers) = platform.smmus["smmu0"]!.state else { throw SMMUError.unknownSMMU("v2") }
    #expect(registers.streamMatch[0] == StreamMatchRegister(id: 0x10, mask: 0))
    #expect(registers.streamMatch[1] == StreamMatchRegister(id: 0x11, mask: 0))
    #expect(registers.streamMatch[2] == nil)
    #expect(registers.streamToContext[0] == .translate(contextBank: 0))
    #expect(registers.streamToContext[1] == .translate(contextBank: 0))
    #expect(registers.contextBanks[0] == .dom0)
    #expect(platform.assignments["eth"] == .dom0)
  }

  @Test("§6.1 one context bank per (domain, SMMU): a second domain gets bank 1, VMID = cbndx + 1 = 2")
  func v2SecondDomainSecondBank() throws {
    var platform = try SMMUPlatform(
      smmus: [.v2(name: "s")],
      devices: [
        Device(name: "a", attachment: .behindSMMU(smmu: "s", streamIDs: [1], described: true)),
        Device(name: "b", attachment: .behindSMMU(smmu: "s", streamIDs: [2], described: true)),
        Device(name: "c", attachment: .behindSMMU(smmu: "s", streamIDs: [3], described: true)),
      ])
    try platform.attach("a", to: .dom0)
    try platform.attach("b", to: DomainID(1))
    try platform.attach("c", to: .dom0)
    #expect(try platform.resolve(deviceNamed: "a") == .context(domain: .dom0, vmid: 1))
    #expect(try platform.resolve(deviceNamed: "b") == .context(domain: DomainID(1), vmid: 2))
    #expect(try platform.resolve(deviceNamed: "c") == .context(domain: .dom0, vmid: 1))
  }

  @Test("fc151829ba: detach sets S2CR back to FAULT and keeps the SMEs; reattach reuses them")
  func v2DetachKeepsSMEs() throws {
    var platform = try threeMasterPlatform(.v2)
    try platform.attach("eth", to: .dom0)
    try platform.detach("eth")
    guard case .v2(let detached) = platform.smmus["smmu0"]!.state else { throw SMMUError.unknownSMMU("v2") }
    #expect(detached.streamMatch[0] == StreamMatchRegister(id: 0x10))
    #expect(detached.streamMatch[1] == StreamMatchRegister(id: 0x11))
    #expect(detached.streamToContext[0] == .fault)
    #expect(detached.streamToContext[1] == .fault)
    #expect(detached.contextBanks[0] == nil, "the last device's detach frees the bank")
    #expect(try platform.resolve(deviceNamed: "eth") == .fault(.streamToContextFault(entry: 0)))
    try platform.attach("eth", to: DomainID(3))
    guard case .v2(let again) = platform.smmus["smmu0"]!.state else { throw SMMUError.unknownSMMU("v2") }
    #expect(again.streamMatch.compactMap { $0 }.count == 2, "no new SMEs were taken")
    #expect(try platform.resolve(deviceNamed: "eth") == .context(domain: DomainID(3), vmid: 1))
  }

  @Test("§6.2 SMMUv3: attach writes S2_TRANS with a VMID from the bitmap; detach writes ABORT again")
  func v3AttachDetach() throws {
    var platform = try threeMasterPlatform(.v3)
    #expect(try platform.resolve(deviceNamed: "eth") == .abort)
    try platform.attach("eth", to: .dom0)
    #expect(try platform.resolve(deviceNamed: "eth") == .context(domain: .dom0, vmid: 1))
    guard case .v3(let table) = platform.smmus["smmu0"]!.state else { throw SMMUError.unknownSMMU("v3") }
    #expect(table.entry(for: 0x11) == .s2Translate(vmid: 1, domain: .dom0))
    try platform.detach("eth")
    #expect(try platform.resolve(deviceNamed: "eth") == .abort)
    guard case .v3(let after) = platform.smmus["smmu0"]!.state else { throw SMMUError.unknownSMMU("v3") }
    #expect(after.vmids.isEmpty, "the last detach frees the VMID")
  }

  @Test("§6.3 handle_device: only described masters are assigned to dom0")
  func dom0Assignment() throws {
    for version in SMMUVersion.allCases {
      var platform = try threeMasterPlatform(version)
      try platform.assignDescribedDevicesToDom0()
      #expect(platform.assignments == ["eth": .dom0], "\(version)")
    }
  }

  @Test("refused operations are thrown errors", arguments: SMMUVersion.allCases)
  func refusals(version: SMMUVersion) throws {
    var platform = try threeMasterPlatform(version)
    #expect(throws: SMMUError.undescribed(device: "gpu")) { try platform.attach("gpu", to: .dom0) }
    #expect(throws: SMMUError.notBehindSMMU(device: "mmc")) { try platform.attach("mmc", to: .dom0) }
    #expect(throws: SMMUError.unknownDevice("nic")) { try platform.attach("nic", to: .dom0) }
    #expect(throws: SMMUError.notAttached(device: "eth")) { try platform.detach("eth") }
    try platform.attach("eth", to: .dom0)
    #expect(throws: SMMUError.alreadyAttached(device: "eth", domain: .dom0)) { try platform.attach("eth", to: DomainID(1)) }
  }

  @Test("running out of SMEs or context banks is an error, not a crash")
  func exhaustion() throws {
    var smes = try SMMUPlatform(
      smmus: [.v2(name: "s", streamMapEntries: 1, contextBanks: 4)],
      devices: [Device(name: "a", attachment: .behindSMMU(smmu: "s", streamIDs: [1, 2], described: true))])
    #expect(throws: SMMUError.outOfStreamMapEntries(smmu: "s")) { try smes.attach("a", to: .dom0) }
    var banks = try SMMUPlatform(
      smmus: [.v2(name: "s", streamMapEntries: 4, contextBanks: 1)],
      devices: [
        Device(name: "a", attachment: .behindSMMU(smmu: "s", streamIDs: [1], described: true)),
        Device(name: "b", attachment: .behindSMMU(smmu: "s", streamIDs: [2], described: true)),
      ])
    try banks.attach("a", to: .dom0)
    #expect(throws: SMMUError.outOfContextBanks(smmu: "s")) { try banks.attach("b", to: DomainID(1)) }
  }

  @Test("malformed platforms are refused")
  func malformed() {
    #expect(throws: SMMUError.unknownSMMU("nope")) {
      try SMMUPlatform(smmus: [], devices: [Device(name: "a", attachment: .behindSMMU(smmu: "nope", streamIDs: [1], described: true))])
    }
    #expect(throws: SMMUError.noStreamIDs(device: "a")) {
      try SMMUPlatform(smmus: [.v3(name: "s")], devices: [Device(name: "a", attachment: .behindSMMU(smmu: "s", streamIDs: [], described: true))])
    }
    #expect(throws: SMMUError.streamIDOutOfRange(device: "a", stream: 0x8000, bits: 15)) {
      try SMMUPlatform(smmus: [.v2(name: "s")], devices: [Device(name: "a", attachment: .behindSMMU(smmu: "s", streamIDs: [0x8000], described: true))])
    }
    #expect(throws: SMMUError.duplicateName("a")) {
      try SMMUPlatform(smmus: [], devices: [Device(name: "a", attachment: .notBehindSMMU), Device(name: "a", attachment: .notBehindSMMU)])
    }
    #expect(throws: SMMUError.dmaMaskOutOfRange(device: "a", bits: 0)) {
      try SMMUPlatform(smmus: [], devices: [Device(name: "a", dmaMaskBits: 0, attachment: .notBehindSMMU)])
    }
  }

  @Test("DMA_BIT_MASK(n)")
  func dmaMask() {
    #expect(Device(name: "a", dmaMaskBits: 32, attachment: .notBehindSMMU).dmaMask == 0xFFFF_FFFF)
    #expect(Device(name: "a", dmaMaskBits: 64, attachment: .notBehindSMMU).dmaMask == .max)
    #expect(Device(name: "a", dmaMaskBits: 1, attachment: .notBehindSMMU).dmaMask == 1)
  }
}
