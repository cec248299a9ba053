import P2MImpl
import SMMUImpl
import Spec
import Testing

/// What a transaction becomes before stage 2, per master situation (fact
/// sheet §6.4), and what attach and detach program (§6.1, §6.2).
@Suite("Streams: matching, contexts, attach and detach")
struct StreamTests {
  @Test("SMMUv2 attach: S2CR TRANS to bank 0, VMID = cbndx + 1, TTBR = p2m root, T0SZ/SL0 from the IPA size")
  func v2ContextRegisters() throws {
    var world = try smallV2World()
    world.attach("eth", to: DomainID(1), "attach")
    let smmu = try world.impl.smmuIndex(named: "smmu0")
    #expect(try world.impl.resolve(stream: 0x10, on: smmu) == .context(domain: DomainID(1), vmid: 1))
    let registers = try #require(try world.impl.contextRegisters(stream: 0x11, on: smmu))
    let p2m = try #require(world.impl.p2m(of: DomainID(1)))
    #expect(registers.ttbr == p2m.rootAddress)
    #expect((registers.t0sz, registers.sl0) == (24, 1), "40-bit IPA: T0SZ 24, SL0 1 (root at L1)")
    world.attach("eth", to: .dom0, "second attach")  // already attached: the spec's error, same value
  }

  @Test("undescribed master: SMMUv2 unidentified-stream fault (USFCFG = 1), SMMUv3 abort")
  func undescribed() throws {
    let v2 = try smallV2World()
    let gpu = try v2.impl.translate(device: "gpu", address: 0x1000, access: .read)
    #expect(gpu == SMMUTranslation(address: 0x1000, stream: .fault(.unidentifiedStream), stageTwo: nil))
    #expect(gpu.machineAddress == nil)
    #expect(throws: XenSMMUError.smmu(.undescribed(device: "gpu"))) { try v2.impl.attach("gpu", to: .dom0) }
    let v3 = try smallV3World()
    #expect(try v3.impl.translate(device: "dma", address: 0x1000, access: .write).stream == .abort)
    // A stream beyond SIDSIZE (8 bits here) has no STE: abort.
    #expect(try v3.impl.resolve(stream: 0x100, on: v3.impl.smmuIndex(named: "smmu3")) == .abort)
  }

  @Test("a master not behind any SMMU reaches memory untranslated")
  func untranslated() throws {
    let world = try smallV2World()
    let mmc = try world.impl.translate(device: "mmc", address: 0x8000_1234, access: .write)
    #expect(mmc.stream == .untranslated)
    #expect(mmc.machineAddress == 0x8000_1234)
    #expect(throws: XenSMMUError.smmu(.notBehindSMMU(device: "mmc"))) { try world.impl.attach("mmc", to: .dom0) }
  }

  @Test("detach: SMMUv2 S2CR back to FAULT with the SME kept (fc151829ba); SMMUv3 STE back to ABORT")
  func detachFaults() throws {
    var v2 = try smallV2World()
    v2.attach("eth", to: .dom0, "attach")
    try v2.setEntry(.dom0, GFN(0x10), count: 1, mfn: MFN(0x20), type: .ramRW)
    let smmu = try v2.impl.smmuIndex(named: "smmu0")
    #expect(try v2.impl.translate(device: "eth", address: 0x10_000, access: .read).machineAddress == 0x20_000)
    v2.detach("eth", "detach")
    let after = try v2.impl.translate(device: "eth", address: 0x10_000, access: .read)
    #expect(after.stream == .fault(.streamToContextFault(entry: 0)), "SME 0 kept, its S2CR FAULT")
    #expect(try v2.disagreement(stream: 0x11, on: "smmu0", address: 0x10_000, access: .read) == nil)
    #expect(try v2.impl.iotlb(of: smmu).entries.isEmpty, "the freed bank's VMID was invalidated")
    // Reattached to another domain: the same SME and bank, no stale dom0 translation.
    v2.attach("eth", to: DomainID(1), "reattach")
    #expect(try v2.impl.resolve(stream: 0x10, on: smmu) == .context(domain: DomainID(1), vmid: 1))
    #expect(try v2.disagreement(stream: 0x10, on: "smmu0", address: 0x10_000, access: .read) == nil)

    var v3 = try smallV3World()
    v3.attach("nvme", to: DomainID(1), "attach")
    #expect(try v3.impl.translate(device: "nvme", address: 0, access: .read).stream == .context(domain: DomainID(1), vmid: 1))
    v3.detach("nvme", "detach")
    #expect(try v3.impl.translate(device: "nvme", address: 0, access: .read).stream == .abort)
    v3.detach("nvme", "detach twice")  // not attached: the spec's error, same value
  }

  @Test("a domain without a p2m, or without the IOMMU, cannot be attached")
  func attachRefusals() throws {
    let world = try smallV2World()
    #expect(throws: XenSMMUError.unknownDomain(DomainID(7))) { try world.impl.attach("eth", to: DomainID(7)) }
    try world.impl.addDomain(DomainID(8), p2m: XenP2M(ipaBits: 40, vmid: 9, tableBase: MFN(0x900_0000), poolPages: 4, iommuEnabled: false))
    #expect(throws: XenSMMUError.iommuDisabled(DomainID(8))) { try world.impl.attach("eth", to: DomainID(8)) }
    #expect(throws: XenSMMUError.duplicateDomain(.dom0)) {
      try world.impl.addDomain(.dom0, p2m: XenP2M(ipaBits: 40, vmid: 1, tableBase: MFN(0x900_0000), poolPages: 4))
    }
    #expect(throws: XenSMMUError.smmu(.unknownDevice("nic"))) { try world.impl.attach("nic", to: .dom0) }
    #expect(world.impl.assignments.isEmpty, "refusals change nothing")
  }

  @Test("running out of context banks or SMEs is the spec's error, and changes nothing")
  func exhaustion() throws {
    var world = try World(
      smmus: [.v2(name: "s", streamMapEntries: 2, contextBanks: 1)],
      devices: [
        Device(name: "a", attachment: .behindSMMU(smmu: "s", streamIDs: [1], described: true)),
        Device(name: "b", attachment: .behindSMMU(smmu: "s", streamIDs: [2], described: true)),
        Device(name: "c", attachment: .behindSMMU(smmu: "s", streamIDs: [3, 4], described: true)),
      ],
      domains: [.dom0, DomainID(1)])
    world.attach("a", to: .dom0, "first")
    world.attach("b", to: DomainID(1), "no bank left")
    world.attach("c", to: .dom0, "one SME left for two streams")
    for stream: StreamID in 0..<6 {
      #expect(try world.disagreement(stream: stream, on: "s", address: 0, access: .read) == nil)
    }
  }

  @Test("hand-set registers naming a bad bank, too many SMEs or a wide VMID are refused")
  func malformedRegisters() throws {
    let world = try smallV2World()
    let tooMany = SMMUv2Registers(streamMapEntries: 40_000, contextBanks: 1)
    #expect(throws: XenSMMUError.self) { try world.impl.setState(.v2(tooMany), of: "smmu0") }
    var table = SMMUv3StreamTable(vmidBits: 8)
    table.entries[1] = .s2Translate(vmid: 300, domain: .dom0)
    let v3 = try smallV3World()
    #expect(throws: XenSMMUError.vmidOutOfRange(smmu: "smmu3", domain: .dom0, vmid: 300)) {
      try v3.impl.setState(.v3(table), of: "smmu3")
    }
    #expect(throws: XenSMMUError.smmu(.unknownSMMU("nope"))) { try world.impl.setState(.v3(table), of: "nope") }
  }
}
