import Foundation
import Testing

@testable import Spec

/// Hand-built machines for the §3.6 consequence table.
///
/// Dom0's RAM is the host bank at GFN 0x80000, 256 pages, followed by a
/// 16-page swiotlb pool at GFN 0x80100. Direct-mapped: MFN = GFN.
/// Coloured (colour 1 of 4, §5): GFNs contiguous, page i at MFN
/// 0xA0000 + 4i + 1. A domU page granted to dom0 is mapped at GFN 0x200000
/// (an extended region, §2.6); a domU page mapped with add_to_physmap
/// foreign at GFN 0x200010 → MFN 0xC0010 (§2.4). Devices: `eth` behind
/// the SMMU and described, `gpu` behind it but undescribed, `mmc` outside.
struct DMAScenario {
  enum Layout: String, CaseIterable { case direct, coloured }

  static let ramStart: UInt64 = 0x80000
  static let ramPages: UInt64 = 0x100
  static let poolStart: UInt64 = 0x80100
  static let poolPages: UInt64 = 16
  static let grantGFN: UInt64 = 0x20_0000
  static let foreignGFN: UInt64 = 0x20_0010
  static let foreignMFN: UInt64 = 0xC0010
  /// A domU frame outside dom0's GFN space.
  static let remoteMFN: UInt64 = 0xC0000
  /// A domU frame whose number is also one of dom0's RAM GFNs: possible
  /// only when dom0 is not direct-mapped (dom0 keeps the host layout, §2.3).
  static let aliasingMFN: UInt64 = 0x80010

  var dom0: Dom0DMAState
  var platform: SMMUPlatform
  var memory = MachineMemory()
  var translate: StageTwoTranslator { referenceStageTwoTranslator(p2ms: [.dom0: dom0.p2m]) }

  static func dom0MFN(_ gfn: UInt64, layout: Layout) -> UInt64 {
    layout == .direct ? gfn : 0xA0000 + 4 * (gfn - ramStart) + 1
  }

  /// - Parameters:
  ///   - grantMFN: the granted domU frame.
  ///   - identityGrantEntry: whether Xen added the 1:1 `iommu_map` entry
  ///     (`gnttab_need_iommu_mapping`: direct-mapped dom0 with the IOMMU
  ///     on, since `04085ec1ac`; never for a coloured dom0, §2.1, §2.2).
  ///   - grantReadOnly: `GNTMAP_readonly`.
  init(
    _ layout: Layout, smmu: SMMUVersion = .v2, grantMFN: UInt64 = remoteMFN, identityGrantEntry: Bool? = nil,
    grantReadOnly: Bool = false, options: SwiotlbXenOptions = SwiotlbXenOptions(), dmaMaskBits: Int = 64,
    coherent: Bool = true, dmaRegions: [DMARegion] = []
  ) throws {
    var p2m = ReferenceP2M(ipaBits: 40)
    for gfn in Self.ramStart..<(Self.poolStart + Self.poolPages) {
      try p2m.map(GFN(gfn), to: MFN(Self.dom0MFN(gfn, layout: layout)), type: .ramRW)
    }
    try p2m.map(GFN(Self.grantGFN), to: MFN(grantMFN), type: grantReadOnly ? .grantMapRO : .grantMapRW)
    if identityGrantEntry ?? (layout == .direct) {
      try p2m.map(GFN(grantMFN), to: MFN(grantMFN), type: grantReadOnly ? .iommuMapRO : .iommuMapRW)
    }
    try p2m.map(GFN(Self.foreignGFN), to: MFN(Self.foreignMFN), type: .mapForeignRW)
    var tree = GrantTree()
    try tree.setForeignP2MMapping(hostAddress: Self.grantGFN << 12, devBusAddress: grantMFN << 12)
    let dom0Layout: MemoryLayout = layout == .direct ? .directMapped : .coloured(colours: [1])
    dom0 = Dom0DMAState(
      p2m: p2m, grantTree: tree, pool: SwiotlbPool(start: GFN(Self.poolStart), pages: Self.poolPages),
      options: options, features: XenFeatures(dom0Layout: dom0Layout, iommuEnabled: true))
    let instance: SMMU = smmu == .v2 ? .v2(name: "smmu0") : .v3(name: "smmu0")
    platform = try SMMUPlatform(
      smmus: [instance],
      devices: [
        Device(
          name: "eth", coherent: coherent, dmaMaskBits: dmaMaskBits, attachment: .behindSMMU(smmu: "smmu0", streamIDs: [0x10], described: true),
          dmaRegions: dmaRegions),
        Device(
          name: "gpu", coherent: coherent, dmaMaskBits: dmaMaskBits, attachment: .behindSMMU(smmu: "smmu0", streamIDs: [0x20], described: false),
          dmaRegions: dmaRegions),
        Device(name: "mmc", coherent: coherent, dmaMaskBits: dmaMaskBits, attachment: .notBehindSMMU, dmaRegions: dmaRegions),
      ])
    try platform.assignDescribedDevicesToDom0()
  }

  mutating func run(_ policy: DMAPolicy, _ device: String, buffer: UInt64, size: UInt64, _ direction: DMADirection) throws -> DMAReport {
    let translate = translate
    return try performDMA(
      DMARequest(device: device, buffer: buffer, size: size, direction: direction), policy: policy, dom0: &dom0,
      platform: platform, memory: &memory, translate: translate)
  }

  static let local: UInt64 = 0x8001_0100
  static let grant: UInt64 = grantGFN << 12 | 0x100
  static let foreign: UInt64 = foreignGFN << 12 | 0x100
}

@Suite("DMA transfers against the ideal DMA (DESIGN.md §2, fact sheet §3.6)")
struct DMATransferTests {
  typealias S = DMAScenario

  /// One §3.6 cell: the outcome for both directions.
  func expectCell(
    _ layout: S.Layout, _ policy: DMAPolicy, page: UInt64, device: String, _ outcome: DMAOutcome,
    grantMFN: UInt64 = S.remoteMFN, identityGrantEntry: Bool? = nil, _ comment: Comment
  ) throws {
    for direction in DMADirection.allCases {
      var scenario = try S(layout, grantMFN: grantMFN, identityGrantEntry: identityGrantEntry)
      let report = try scenario.run(policy, device, buffer: page, size: 0x200, direction)
      #expect(report.outcome == outcome, "\(direction): \(comment)\n\(report)")
    }
  }

  @Test("§3.6 row 1: 1:1, swiotlb-xen, local page → D = GFN = MFN, OK attached and outside any SMMU")
  func row1() throws {
    try expectCell(.direct, .legacy, page: S.local, device: "eth", .ok, "p2m 1:1")
    try expectCell(.direct, .legacy, page: S.local, device: "mmc", .ok, "untranslated GFN is the MFN")
  }

  @Test("§3.6 row 2: 1:1, swiotlb-xen, grant → D = MFN; OK through the 1:1 iommu_map entry, OK outside")
  func row2() throws {
    try expectCell(.direct, .legacy, page: S.grant, device: "eth", .ok, "needs the 1:1 entry, present")
    try expectCell(.direct, .legacy, page: S.grant, device: "mmc", .ok, "untranslated MFN")
    var scenario = try S(.direct)
    let report = try scenario.run(.legacy, "eth", buffer: S.grant, size: 0x200, .fromDevice)
    #expect(report.dmaAddress == S.remoteMFN << 12 | 0x100, "swiotlb-xen programs the MFN (§9 invariant 5)")
    #expect(report.mapping == .direct)
  }

  @Test("§8 04085ec1ac: without the 1:1 entry, 1:1 + swiotlb-xen + grant + attached is an SMMU translation fault")
  func row2WithoutIdentityEntry() throws {
    try expectCell(.direct, .legacy, page: S.grant, device: "eth", .fault, identityGrantEntry: false, "the Xen 4.12–4.14 bug")
    var scenario = try S(.direct, identityGrantEntry: false)
    let report = try scenario.run(.legacy, "eth", buffer: S.grant, size: 0x200, .toDevice)
    #expect(report.fault?.contains("translation fault") == true, "\(report)")
    #expect(!report.liveness.holds && report.isolation.holds)
  }

  @Test("§3.6 row 3: 1:1, swiotlb-xen, add_to_physmap foreign → D = GFN; OK attached, wrong page outside")
  func row3() throws {
    try expectCell(.direct, .legacy, page: S.foreign, device: "eth", .ok, "p2m foreign entry")
    try expectCell(.direct, .legacy, page: S.foreign, device: "mmc", .corruption, "hits the dom0 GFN hole")
  }

  @Test("§3.6 row 4: coloured, swiotlb-xen, grant → D = MFN: translation fault, or wrong dom0 page if the MFN is a dom0 GFN; right page outside")
  func row4() throws {
    try expectCell(.coloured, .legacy, page: S.grant, device: "eth", .fault, "no 1:1 entry")
    try expectCell(.coloured, .legacy, page: S.grant, device: "eth", .corruption, grantMFN: S.aliasingMFN, "MFN is a dom0 GFN")
    try expectCell(.coloured, .legacy, page: S.grant, device: "mmc", .ok, "untranslated MFN, by luck of the design")
    var scenario = try S(.coloured, grantMFN: S.aliasingMFN)
    let report = try scenario.run(.legacy, "eth", buffer: S.grant, size: 0x200, .fromDevice)
    #expect(report.framesTouched == [S.dom0MFN(S.aliasingMFN, layout: .coloured)], "dom0's own page behind GFN 0x80010")
  }

  @Test("§3.6 row 5: coloured, swiotlb-xen, local → D = GFN ≠ MFN; OK via the SMMU, wrong page outside")
  func row5() throws {
    try expectCell(.coloured, .legacy, page: S.local, device: "eth", .ok, "SMMU translates the GFN")
    try expectCell(.coloured, .legacy, page: S.local, device: "mmc", .corruption, "GFN used as a machine address")
  }

  @Test("§3.6 row 6: coloured, dma-direct (XENFEAT_not_direct_mapped), any page → D = GFN; OK via p2m, wrong page outside")
  func row6() throws {
    for page in [S.local, S.grant, S.foreign] {
      try expectCell(.coloured, .mergedFlags, page: page, device: "eth", .ok, "p2m ram/grant_map/foreign entry")
      try expectCell(.coloured, .mergedFlags, page: page, device: "mmc", .corruption, "GFN used as a machine address")
    }
    var scenario = try S(.coloured)
    #expect(try scenario.run(.mergedFlags, "eth", buffer: S.grant, size: 0x10, .toDevice).path == .dmaDirect)
  }

  @Test("§6.4: an undescribed master faults (v2) or aborts (v3) under every policy and layout")
  func undescribedMaster() throws {
    for smmu in SMMUVersion.allCases {
      for layout in S.Layout.allCases {
        for policy in DMAPolicy.allCases {
          var scenario = try S(layout, smmu: smmu)
          let report = try scenario.run(policy, "gpu", buffer: S.local, size: 0x40, .fromDevice)
          #expect(report.outcome == .fault, "\(smmu) \(layout) \(policy)\n\(report)")
          #expect(report.framesTouched.isEmpty)
          #expect(report.stream == (smmu == .v2 ? "fault: unidentified stream (USFCFG=1)" : "abort (STE ABORT)"))
        }
      }
    }
  }

  @Test("§3.4 a buffer straddling a local and a grant page bounces through the pool: OK 1:1, wrong page coloured outside")
  func straddleBounces() throws {
    let straddling = (S.grantGFN << 12) - 0x10
    var direct = try S(.direct)
    try direct.dom0.p2m.map(GFN(S.grantGFN - 1), to: MFN(0x9_0000), type: .ramRW)
    for device in ["eth", "mmc"] {
      let report = try direct.run(.legacy, device, buffer: straddling, size: 0x20, .fromDevice)
      #expect(report.mapping == .bounce, "\(report)")
      #expect(report.bounceSlot == S.poolStart << 12)
      #expect(report.outcome == .ok, "\(device)\n\(report)")
      #expect(direct.dom0.pool.allocations.isEmpty, "the slot is released at unmap")
    }
    var coloured = try S(.coloured, options: SwiotlbXenOptions(forceBounce: true))
    let outside = try coloured.run(.legacy, "mmc", buffer: S.local, size: 0x20, .toDevice)
    #expect(outside.mapping == .bounce)
    #expect(outside.outcome == .corruption, "the pool is at GFNs too\n\(outside)")
    let attached = try coloured.run(.legacy, "eth", buffer: S.local, size: 0x20, .toDevice)
    #expect(attached.outcome == .ok, "\(attached)")
  }

  @Test("§3.5 a non-coherent device without GNTTABOP_cache_flush bounces a grant page; the data arrives via the copy")
  func nonCoherentBounce() throws {
    for direction in DMADirection.allCases {
      var scenario = try S(.direct, options: SwiotlbXenOptions(hypercallCacheFlush: false), coherent: false)
      let report = try scenario.run(.legacy, "mmc", buffer: S.grant, size: 0x200, direction)
      #expect(report.mapping == .bounce)
      #expect(report.outcome == .ok, "\(report)")
      #expect(report.integrity.reason.contains("after the copy"))
      let arrived = scenario.memory.read(S.remoteMFN << 12 | 0x100, count: 0x200)
      #expect(arrived == (0..<UInt64(0x200)).map { dmaPattern($0, direction: direction) })
    }
  }

  @Test("§1.1: a read-only grant written by the device through the 1:1 iommu_map_ro entry is a permission fault")
  func readOnlyGrant() throws {
    var scenario = try S(.direct, grantReadOnly: true)
    let write = try scenario.run(.legacy, "eth", buffer: S.grant, size: 0x20, .fromDevice)
    #expect(write.outcome == .fault)
    #expect(write.fault?.contains("permission fault") == true, "\(write)")
    let read = try scenario.run(.legacy, "eth", buffer: S.grant, size: 0x20, .toDevice)
    #expect(read.outcome == .ok, "\(read)")
  }

  @Test("a DMA mapping error is a fault with nothing touched")
  func mappingError() throws {
    // The granted frame is above 4 GiB: swiotlb-xen bounces it for a
    // 32-bit device into the 1:1 pool below 4 GiB (§3.4 step 2).
    var scenario = try S(.direct, grantMFN: 0x10_0000, dmaMaskBits: 32)
    let report = try scenario.run(.mergedFlags, "eth", buffer: S.grant, size: 0x20, .toDevice)
    #expect(report.mapping == .bounce)
    #expect(report.outcome == .ok, "\(report)")
    // dma-direct has no pool in this model: the GFN above 4 GiB is refused.
    var coloured = try S(.coloured, dmaMaskBits: 32)
    let refused = try coloured.run(.mergedFlags, "eth", buffer: S.grant, size: 0x20, .toDevice)
    #expect(refused.outcome == .fault)
    #expect(refused.fault?.hasPrefix("DMA_MAPPING_ERROR") == true)
    #expect(refused.framesTouched.isEmpty && refused.dmaAddress == nil)
  }

  @Test("a byte touched before a fault makes the outcome corruption, not fault")
  func corruptionBeforeFault() throws {
    var scenario = try S(.direct)
    // A translator that sends the first page astray and faults on the next.
    let translate: StageTwoTranslator = { _, ipa, _ in
      ipa >> 12 == 0x80010 ? .translated(pa: 0xDEAD_0000 | (ipa & 0xFFF)) : .fault(StageTwoFault(kind: .translation, level: 2))
    }
    let report = try performDMA(
      DMARequest(device: "eth", buffer: 0x8001_0F00, size: 0x200, direction: .fromDevice), policy: .legacy,
      dom0: &scenario.dom0, platform: scenario.platform, memory: &scenario.memory, translate: translate)
    #expect(report.outcome == .corruption, "\(report)")
    #expect(!report.isolation.holds && !report.liveness.holds && !report.integrity.holds)
    #expect(report.framesTouched == [0xDEAD0])
    #expect(scenario.memory.byte(at: 0xDEAD_0F00) == dmaPattern(0, direction: .fromDevice))
  }

  /// Linux maps zero bytes like any buffer (`dma_map_page()` takes any
  /// `size_t`): direct or through dma-direct nothing moves; a zero-length
  /// mapping swiotlb-xen bounces is `BUG_ON(!nslots)` in swiotlb's slot
  /// search, a dom0 crash, reported as a mapping that fails.
  @Test("zero bytes: mapped and nothing moves, except a zero-length bounce, which crashes dom0 (BUG_ON(!nslots))")
  func zeroLength() throws {
    var scenario = try S(.direct)
    let before = scenario.memory
    let local = try scenario.run(.legacy, "eth", buffer: S.local, size: 0, .fromDevice)
    #expect(local.outcome == .ok && local.mapping == .direct && local.framesTouched.isEmpty, "\(local)")
    let direct = try scenario.run(.perDevice, "eth", buffer: S.local, size: 0, .fromDevice)
    #expect(direct.outcome == .ok && direct.mapping == .dmaDirect, "\(direct)")
    #expect(scenario.memory == before)
    // A foreign page, a non-coherent device and no GNTTABOP_cache_flush:
    // xen_arch_need_swiotlb() bounces it.
    var bouncing = try S(.direct, options: SwiotlbXenOptions(hypercallCacheFlush: false), coherent: false)
    let bug = try bouncing.run(.legacy, "eth", buffer: S.grant, size: 0, .fromDevice)
    #expect(bug.outcome == .fault && bug.mapping == .bounce, "\(bug)")
    #expect(bug.liveness.reason.contains("BUG_ON(!nslots)"), "\(bug.liveness.reason)")
    // Under force bounce too.
    var forced = try S(.direct, options: SwiotlbXenOptions(forceBounce: true))
    #expect(try forced.run(.legacy, "eth", buffer: S.local, size: 0, .toDevice).outcome == .fault)
  }

  @Test("a buffer larger than 1 MiB, contiguous, maps directly; bounced it is refused beyond the 256 KiB swiotlb segment")
  func largeBuffers() throws {
    var scenario = try S(.direct)
    let size: UInt64 = 0x18_0000  // past the 1 MiB the model once stopped at
    // dom0's RAM here is 1 MiB: a grant-free, contiguous 1.5 MiB buffer
    // needs RAM, so map more for the test.
    for gfn in (S.ramStart + S.ramPages + S.poolPages)..<(S.ramStart + 0x200) {
      try scenario.dom0.p2m.map(GFN(gfn), to: MFN(S.dom0MFN(gfn, layout: .direct)), type: .ramRW)
    }
    let report = try scenario.run(.legacy, "eth", buffer: S.ramStart << 12, size: size, .toDevice)
    #expect(report.outcome == .ok && report.mapping == .direct, "\(report)")
    var forced = try S(.direct, options: SwiotlbXenOptions(forceBounce: true))
    for gfn in (S.ramStart + S.ramPages + S.poolPages)..<(S.ramStart + 0x200) {
      try forced.dom0.p2m.map(GFN(gfn), to: MFN(S.dom0MFN(gfn, layout: .direct)), type: .ramRW)
    }
    let bounced = try forced.run(.legacy, "eth", buffer: S.ramStart << 12, size: size, .toDevice)
    #expect(bounced.outcome == .fault && bounced.liveness.reason.contains("swiotlb_tbl_map_single found no slot"), "\(bounced)")
  }

  @Test("bad requests are thrown errors and change nothing")
  func badRequests() throws {
    var scenario = try S(.direct)
    let before = scenario.memory
    #expect(throws: DMARequestError.unknownDevice("nic")) { try scenario.run(.legacy, "nic", buffer: S.local, size: 1, .toDevice) }
    #expect(throws: DMARequestError.sizeOutOfRange(phys: S.local, size: maximumDMASize + 1)) {
      try scenario.run(.legacy, "eth", buffer: S.local, size: maximumDMASize + 1, .toDevice)
    }
    #expect(throws: DMARequestError.bufferNotMapped(GFN(0x7_0000))) { try scenario.run(.legacy, "eth", buffer: 0x7000_0000, size: 1, .toDevice) }
    try scenario.dom0.p2m.unmap(GFN(S.poolStart + 3))
    #expect(throws: DMARequestError.bufferNotMapped(GFN(S.poolStart + 3))) { try scenario.run(.legacy, "eth", buffer: S.local, size: 1, .toDevice) }
    #expect(scenario.memory == before)
  }

  @Test("the report is Codable and round-trips through JSON with stable field names")
  func reportJSON() throws {
    var scenario = try S(.coloured)
    let report = try scenario.run(.perDevice, "mmc", buffer: S.local, size: 0x20, .toDevice)
    let data = try JSONEncoder().encode(report)
    #expect(try JSONDecoder().decode(DMAReport.self, from: data) == report)
    let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    #expect(object["policy"] as? String == "per-device")
    #expect(object["path"] as? String == "swiotlb-xen")
    #expect(object["outcome"] as? String == "corruption")
    #expect((object["isolation"] as? [String: Any])?["holds"] as? Bool == false)
  }

  /// Random buffers inside dom0's RAM, sizes up to three pages.
  static func randomLocalBuffer(_ random: inout SplitMix64) -> (UInt64, UInt64) {
    let size = 1 + random.next() % 0x3000
    let start = (S.ramStart << 12) + random.next() % ((S.ramPages << 12) - size)
    return (start, size)
  }

  @Test("property: direct-mapped dom0 + attached device + any policy + local pages → ok (seed 0xD1EC7)")
  func directMappedAttachedIsOK() throws {
    var random = SplitMix64(seed: 0xD1EC7)
    for _ in 0..<120 {
      let smmu: SMMUVersion = random.next() % 2 == 0 ? .v2 : .v3
      let options = SwiotlbXenOptions(hypercallCacheFlush: random.next() % 2 == 0, forceBounce: random.next() % 3 == 0)
      var scenario = try S(.direct, smmu: smmu, options: options, dmaMaskBits: random.next() % 2 == 0 ? 64 : 32, coherent: random.next() % 2 == 0)
      let policy = DMAPolicy.allCases[Int(random.next() % 4)]
      let direction = DMADirection.allCases[Int(random.next() % 2)]
      let (buffer, size) = Self.randomLocalBuffer(&random)
      let report = try scenario.run(policy, "eth", buffer: buffer, size: size, direction)
      #expect(report.outcome == .ok, "\(smmu) \(options)\n\(report)")
    }
  }

  @Test("property: coloured dom0 + attached device + dma-direct + any page kind → ok (seed 0xC010)")
  func colouredDMADirectAttachedIsOK() throws {
    var random = SplitMix64(seed: 0xC010)
    for _ in 0..<120 {
      var scenario = try S(.coloured, smmu: random.next() % 2 == 0 ? .v2 : .v3)
      let policy = [DMAPolicy.mergedFlags, .globalFlag, .perDevice][Int(random.next() % 3)]
      let direction = DMADirection.allCases[Int(random.next() % 2)]
      let (buffer, size): (UInt64, UInt64)
      switch random.next() % 3 {
      case 0: (buffer, size) = Self.randomLocalBuffer(&random)
      case 1:
        let offset = random.next() % 0x1000
        (buffer, size) = (S.grantGFN << 12 + offset, 1 + random.next() % (0x1000 - offset))
      default:
        let offset = random.next() % 0x1000
        (buffer, size) = (S.foreignGFN << 12 + offset, 1 + random.next() % (0x1000 - offset))
      }
      let report = try scenario.run(policy, "eth", buffer: buffer, size: size, direction)
      #expect(report.path == .dmaDirect)
      #expect(report.outcome == .ok, "\(report)")
    }
  }

  @Test("property: coloured dom0 + a master outside any SMMU + any policy + local pages → corruption (§9 invariant 4, seed 0x0DD)")
  func colouredOutsideSMMUCorrupts() throws {
    var random = SplitMix64(seed: 0x0DD)
    for _ in 0..<120 {
      let options = SwiotlbXenOptions(forceBounce: random.next() % 2 == 0)
      var scenario = try S(.coloured, options: options)
      let policy = DMAPolicy.allCases[Int(random.next() % 4)]
      let direction = DMADirection.allCases[Int(random.next() % 2)]
      let (buffer, size) = Self.randomLocalBuffer(&random)
      let report = try scenario.run(policy, "mmc", buffer: buffer, size: size, direction)
      #expect(report.outcome == .corruption, "\(report)")
    }
  }
}
