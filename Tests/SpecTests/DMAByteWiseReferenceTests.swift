import Testing

@testable import Spec

/// `performDMA` (page runs) against `byteWisePerformDMA` (the byte-by-byte
/// definition, ByteWiseDMA.swift): same report, same memory frame for
/// frame, same dom0 state, same refusal.
@Suite("performDMA equals its byte-by-byte definition")
struct DMAByteWiseReferenceTests {
  typealias S = DMAScenario

  /// A translation that lands anywhere: each bus page goes, by a hash of
  /// the page and `salt`, to its own address, a page of dom0's RAM or
  /// pool (so that it may alias the buffer or the bounce slot), a domU
  /// frame, a stage-2 fault, or a stream fault; otherwise the spec's SMMU.
  static func chaotic(_ platform: SMMUPlatform, _ p2m: ReferenceP2M, salt: UInt64) -> DeviceTransactor {
    let spec = platform.transactor(translate: referenceStageTwoTranslator(p2ms: [.dom0: p2m]))
    return { device, address, access throws(DMARequestError) in
      var mix = SplitMix64(seed: salt ^ (address >> 12))
      let page = address & 0xFFF
      let context = StreamOutcome.context(domain: .dom0, vmid: 1)
      switch mix.next() % 8 {
      case 0: return DeviceTransaction(stream: context, stageTwo: .translated(pa: address))
      case 1, 2:
        let frame = S.ramStart + 0xF0 + mix.next() % 0x20  // the top of RAM and the pool
        return DeviceTransaction(stream: context, stageTwo: .translated(pa: frame << 12 | page))
      case 3: return DeviceTransaction(stream: context, stageTwo: .translated(pa: S.remoteMFN << 12 | page))
      case 4: return DeviceTransaction(stream: context, stageTwo: .fault(StageTwoFault(kind: .permission, level: 3)))
      case 5: return DeviceTransaction(stream: .fault(.unidentifiedStream), stageTwo: nil)
      default: return try spec(device, address, access)
      }
    }
  }

  /// No `dma-ranges` half the time; else one or two regions, page
  /// aligned, that cover part of dom0's RAM and pool (or the grant's and
  /// the remote frames) at an offset or at themselves.
  static func randomRegions(_ random: inout SplitMix64) -> [DMARegion] {
    guard random.next() % 2 == 0 else { return [] }
    return (0..<(1 + random.next() % 2)).map { _ in
      let starts: [UInt64] = [S.ramStart, S.ramStart + 0x80, S.poolStart, S.remoteMFN, S.grantGFN]
      let cpu = starts[Int(random.next() % UInt64(starts.count))] << 12
      let dma = [cpu, cpu &- 0x4000_0000, cpu + 0x1_0000_0000, 0][Int(random.next() % 4)]
      return DMARegion(cpuStart: cpu, dmaStart: dma, size: (1 + random.next() % 0x180) << 12)
    }
  }

  /// One random machine, request and translation; `Hashable` parts only,
  /// so a failing case prints what it was.
  static func randomCase(_ random: inout SplitMix64) throws -> (S, DMAPolicy, DMARequest, DeviceTransactor) {
    let layout: S.Layout = random.next() % 2 == 0 ? .direct : .coloured
    var scenario = try S(
      layout, smmu: random.next() % 2 == 0 ? .v2 : .v3, grantMFN: random.next() % 3 == 0 ? S.aliasingMFN : S.remoteMFN,
      identityGrantEntry: random.next() % 4 == 0 ? nil : random.next() % 2 == 0,
      options: SwiotlbXenOptions(hypercallCacheFlush: random.next() % 4 != 0, forceBounce: random.next() % 3 == 0),
      dmaMaskBits: random.next() % 4 == 0 ? 32 : 64, coherent: random.next() % 3 != 0,
      dmaRegions: Self.randomRegions(&random))
    // Sometimes two dom0 pages share a frame, so ideal bytes alias.
    for _ in 0..<(random.next() % 3) {
      let gfn = S.ramStart + random.next() % (S.ramPages + S.poolPages)
      let other = S.ramStart + random.next() % (S.ramPages + S.poolPages)
      try scenario.dom0.p2m.map(GFN(gfn), to: scenario.dom0.p2m.lookup(GFN(other))!.mfn, type: .ramRW)
    }
    // Old contents, which a missed copy would leave behind.
    for _ in 0..<(random.next() % 4) {
      let frame = S.dom0MFN(S.ramStart + random.next() % (S.ramPages + S.poolPages), layout: layout)
      scenario.memory.write(frame << 12 | random.next() % 0x1000, bytes: (0..<(random.next() % 0x1800)).map { _ in UInt8(truncatingIfNeeded: random.next()) })
    }
    let pages: [UInt64] = [
      S.local, S.grant, S.foreign, (S.ramStart + random.next() % S.ramPages) << 12, (S.poolStart + random.next() % S.poolPages) << 12,
      (S.poolStart + S.poolPages - 1) << 12, 0x1234_5000,
    ]
    let offset = random.next() % 4 == 0 ? 0 : random.next() % 0x1000
    let buffer = (pages[Int(random.next() % UInt64(pages.count))] & ~0xFFF) | offset
    let sizes: [UInt64] = [1, 0x10, 0x40, 0x200, 0x1000, 0x2000, 0x2001, 0x3FFF, 1 + random.next() % 0x5000]
    let size = sizes[Int(random.next() % UInt64(sizes.count))]
    let device = ["eth", "gpu", "mmc", "nope"][Int(random.next() % (random.next() % 8 == 0 ? 4 : 3))]
    let request = DMARequest(device: device, buffer: buffer, size: size, direction: random.next() % 2 == 0 ? .toDevice : .fromDevice)
    let policy = DMAPolicy.allCases[Int(random.next() % UInt64(DMAPolicy.allCases.count))]
    let transact = random.next() % 2 == 0
      ? scenario.platform.transactor(translate: scenario.translate)
      : chaotic(scenario.platform, scenario.dom0.p2m, salt: random.next())
    return (scenario, policy, request, transact)
  }

  @Test("property: random requests, p2ms, memories and translations (seeds 0xD3A0…)", arguments: 0..<8)
  func randomDMAs(batch: UInt64) throws {
    var random = SplitMix64(seed: 0xD3A0 + batch)
    for _ in 0..<60 {
      let (scenario, policy, request, transact) = try Self.randomCase(&random)
      var fast = scenario
      var slow = scenario
      let fastResult = Result { () throws(DMARequestError) in
        try performDMA(request, policy: policy, dom0: &fast.dom0, platform: fast.platform, memory: &fast.memory, transact: transact)
      }
      let slowResult = Result { () throws(DMARequestError) in
        try byteWisePerformDMA(request, policy: policy, dom0: &slow.dom0, platform: slow.platform, memory: &slow.memory, transact: transact)
      }
      #expect(fastResult == slowResult, "\(policy) \(request)")
      #expect(fast.memory.frames == slow.memory.frames, "\(policy) \(request)")
      #expect(fast.dom0 == slow.dom0, "\(policy) \(request)")
    }
  }

  @Test("the verdicts of every §3.6 cell equal the byte-by-byte ones")
  func matrixCells() throws {
    for layout in S.Layout.allCases {
      for policy in DMAPolicy.allCases {
        for device in ["eth", "gpu", "mmc"] {
          for page in [S.local, S.grant, S.foreign] {
            for size: UInt64 in [0x200, 0x1000, 0x2345] {
              for direction in DMADirection.allCases {
                var fast = try S(layout)
                var slow = fast
                let request = DMARequest(device: device, buffer: page, size: size, direction: direction)
                let transact = fast.platform.transactor(translate: fast.translate)
                let a = Result { () throws(DMARequestError) in
                  try performDMA(request, policy: policy, dom0: &fast.dom0, platform: fast.platform, memory: &fast.memory, transact: transact)
                }
                let b = Result { () throws(DMARequestError) in
                  try byteWisePerformDMA(request, policy: policy, dom0: &slow.dom0, platform: slow.platform, memory: &slow.memory, transact: transact)
                }
                #expect(a == b)
                #expect(fast.memory.frames == slow.memory.frames)
              }
            }
          }
        }
      }
    }
  }
}
