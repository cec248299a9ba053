import Testing

@testable import Spec

/// How long a device keeps its SMMUv2 stream map entries, by release
/// (xen/drivers/passthrough/arm/smmu.c): allocated per attach up to 4.15,
/// freed at detach and lost to the device in 4.16, kept from 4.17.
@Suite("SMMUv2 stream map entry lifetime by Xen release (smmu.c 4.15, 4.16, 4.17)")
struct StreamMapEntryLifetimeTests {
  /// One SMMUv2 with four entries and two banks; `a` (stream 0x10) and `b`
  /// (0x12) are passthrough devices, `twin` shares a's stream ID.
  static func platform(_ lifetime: StreamMapEntryLifetime) throws -> SMMUPlatform {
    var smmu = SMMU.v2(name: "smmu0", streamMapEntries: 4, contextBanks: 2)
    smmu.sharesMaskedStreamMatchEntries = false
    smmu.streamMapEntryLifetime = lifetime
    return try SMMUPlatform(smmus: [smmu], devices: [
      Device(name: "a", attachment: .behindSMMU(smmu: "smmu0", streamIDs: [0x10], described: true)),
      Device(name: "b", attachment: .behindSMMU(smmu: "smmu0", streamIDs: [0x12], described: true)),
      Device(name: "twin", attachment: .behindSMMU(smmu: "smmu0", streamIDs: [0x10], described: true)),
    ])
  }

  static func registers(_ platform: SMMUPlatform) throws -> SMMUv2Registers {
    guard case .v2(let registers)? = platform.smmus["smmu0"]?.state else { throw SMMUError.unknownSMMU("smmu0") }
    return registers
  }

  @Test("releases: 4.12–4.15 per attach, 4.16 freed at detach, 4.17–4.21 kept")
  func byRelease() {
    for minor in XenVersion.supportedMinors {
      let version = XenVersion(name: "4.\(minor)")!
      let expected: StreamMapEntryLifetime = minor <= 15 ? .perAttach : minor == 16 ? .freedOnDetach : .keptOnDetach
      #expect(version.streamMapEntryLifetime == expected, "\(version)")
    }
  }

  @Test("given back and assigned again, the device translates through its domain's context except on 4.16",
        arguments: StreamMapEntryLifetime.allCases)
  func reassignment(lifetime: StreamMapEntryLifetime) throws {
    var platform = try Self.platform(lifetime)
    let guest = DomainID(1)
    try platform.attach("a", to: guest)
    #expect(try platform.resolve(deviceNamed: "a") == .context(domain: guest, vmid: 1))
    try platform.detach("a")
    let afterDetach = try platform.resolve(deviceNamed: "a")
    try platform.attach("a", to: guest)
    let again = try platform.resolve(deviceNamed: "a")
    switch lifetime {
    case .perAttach:
      // The SMR is freed with the detach and allocated again.
      #expect(afterDetach == .fault(.unidentifiedStream))
      #expect(again == .context(domain: guest, vmid: 1))
      #expect(!platform.hasLostStreamMapEntries("a"))
    case .freedOnDetach:
      #expect(afterDetach == .fault(.unidentifiedStream))
      #expect(again == .fault(.unidentifiedStream))
      #expect(platform.hasLostStreamMapEntries("a"))
      #expect(platform.smmus["smmu0"]?.streamMapEntries["a"] == [SMMU.invalidStreamMapEntry])
      #expect(try Self.registers(platform).streamMatch.allSatisfy { $0 == nil }, "no SMR is written for INVALID_SMENDX")
    case .keptOnDetach:
      // The SMR stays; only the S2CR was reset to FAULT.
      #expect(afterDetach == .fault(.streamToContextFault(entry: 0)))
      #expect(again == .context(domain: guest, vmid: 1))
      #expect(!platform.hasLostStreamMapEntries("a"))
    }
  }

  @Test("4.16: the entry a detach frees goes to the next device that asks; the device that lost it stays unmatched")
  func freedEntryReused() throws {
    var platform = try Self.platform(.freedOnDetach)
    try platform.attach("a", to: DomainID(1))
    try platform.detach("a")
    try platform.attach("b", to: DomainID(1))
    #expect(try Self.registers(platform).streamMatch[0] == StreamMatchRegister(id: 0x12))
    try platform.attach("a", to: DomainID(2))
    #expect(try platform.resolve(deviceNamed: "a") == .fault(.unidentifiedStream))
    #expect(try platform.resolve(deviceNamed: "b") == .context(domain: DomainID(1), vmid: 1))
  }

  @Test("4.16: an entry two devices claim is freed only with its last claim (arm_smmu_free_sme's count)")
  func sharedEntryCounted() throws {
    var platform = try Self.platform(.freedOnDetach)
    try platform.attach("a", to: DomainID(1))
    try platform.attach("twin", to: DomainID(1))
    #expect(platform.smmus["smmu0"]?.streamMapEntryCounts[0] == 2)
    try platform.detach("a")
    #expect(try platform.resolve(deviceNamed: "twin") == .context(domain: DomainID(1), vmid: 1))
    try platform.detach("twin")
    #expect(try Self.registers(platform).streamMatch[0] == nil)
  }

  @Test("up to 4.15 each stream gets its own SMR, mask 0: two devices with one stream ID make a stream match conflict")
  func perAttachDoesNotShare() throws {
    var platform = try Self.platform(.perAttach)
    try platform.attach("a", to: DomainID(1))
    try platform.attach("twin", to: DomainID(1))
    #expect(try Self.registers(platform).streamMatch.prefix(2) == [StreamMatchRegister(id: 0x10), StreamMatchRegister(id: 0x10)])
    #expect(try platform.resolve(deviceNamed: "a") == .fault(.streamMatchConflict(entries: [0, 1])))
  }

  @Test("up to 4.15 a refusal changes nothing: the bank is taken before the SMRs")
  func perAttachRefusal() throws {
    var smmu = SMMU.v2(name: "smmu0", streamMapEntries: 1, contextBanks: 1)
    smmu.streamMapEntryLifetime = .perAttach
    var platform = try SMMUPlatform(smmus: [smmu], devices: [
      Device(name: "a", attachment: .behindSMMU(smmu: "smmu0", streamIDs: [0x10], described: true)),
      Device(name: "b", attachment: .behindSMMU(smmu: "smmu0", streamIDs: [0x12], described: true)),
    ])
    try platform.attach("a", to: DomainID(1))
    let before = platform
    #expect(throws: SMMUError.outOfStreamMapEntries(smmu: "smmu0")) { try platform.attach("b", to: DomainID(1)) }
    #expect(throws: SMMUError.outOfContextBanks(smmu: "smmu0")) { try platform.attach("b", to: DomainID(2)) }
    #expect(platform == before)
  }
}
