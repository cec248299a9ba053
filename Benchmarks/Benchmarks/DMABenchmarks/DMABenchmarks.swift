import Benchmark
import Spec

// The spec's DMA path as the fuzzer runs it (BENCHMARKS.md
// "Fuzzing"): `performDMA` of 8 KiB buffers over dom0's p2m laid out as
// tables and walked architecturally, and the layout itself.
//
// Dom0: 512 pages direct-mapped from GFN 0x40000 (the fuzzer's 2 MiB dom0),
// its last 64 pages the swiotlb pool; one device behind an SMMUv2,
// attached to dom0.

let ramStart: UInt64 = 0x40000
let ramPages: UInt64 = 512

func dom0P2M() -> ReferenceP2M {
  var p2m = ReferenceP2M(ipaBits: 40)
  try! p2m.map(GFN(ramStart), count: ramPages, to: MFN(ramStart), type: .ramRW)
  return p2m
}

/// Table frames at the top of the 40-bit space, as the scenario runner uses.
let tableFrames = ((UInt64(1) << 28) - 16_384)..<(UInt64(1) << 28)

struct DMAFixture {
  var dom0: Dom0DMAState
  var platform: SMMUPlatform
  var memory = MachineMemory()
  let translate: StageTwoTranslator

  init() {
    let p2m = dom0P2M()
    dom0 = Dom0DMAState(
      p2m: p2m, grantTree: GrantTree(), pool: SwiotlbPool(start: GFN(ramStart + ramPages - 64), pages: 64),
      options: SwiotlbXenOptions(), features: XenFeatures(dom0Layout: .directMapped, iommuEnabled: true))
    platform = try! SMMUPlatform(
      smmus: [.v2(name: "smmu0")],
      devices: [Device(name: "nic", coherent: true, dmaMaskBits: 64, attachment: .behindSMMU(smmu: "smmu0", streamIDs: [0x10], described: true))])
    try! platform.assignDescribedDevicesToDom0()
    let (tables, root) = try! p2m.materialize(tableFrames: tableFrames.lazy.map(MFN.init))
    let geometry = try! StageTwoGeometry(ipaBits: 40)
    translate = { _, ipa, access in
      switch stageTwoWalk(memory: tables, geometry: geometry, rootAddress: root.address, inputAddress: ipa, access: access).result {
      case .translated(let address, _, _, _): .translated(pa: address)
      case .fault(let fault): .fault(fault)
      }
    }
  }

  mutating func run(_ policy: DMAPolicy, _ direction: DMADirection, buffer: UInt64, size: UInt64) -> DMAReport {
    try! performDMA(
      DMARequest(device: "nic", buffer: buffer, size: size, direction: direction), policy: policy, dom0: &dom0,
      platform: platform, memory: &memory, translate: translate)
  }
}

let benchmarks: @Sendable () -> Void = {
  Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .mallocCountTotal], maxDuration: .seconds(2))

  // merged-flags on a direct-mapped dom0 is swiotlb-xen; the buffer is
  // machine-contiguous, so no bounce: the device walks to the buffer.
  for direction in DMADirection.allCases {
    Benchmark("performDMA 8 KiB \(direction.rawValue), swiotlb-xen direct, straddling 3 pages") { benchmark in
      var fixture = DMAFixture()
      benchmark.startMeasurement()
      for _ in benchmark.scaledIterations {
        blackHole(fixture.run(.mergedFlags, direction, buffer: (ramStart + 0x10) << pageShift | 0x800, size: 0x2000))
      }
    }
  }

  // swiotlb=force-style bounce through the pool: two copies of 8 KiB more.
  Benchmark("performDMA 8 KiB to-device, bounced through the pool") { benchmark in
    var fixture = DMAFixture()
    fixture.dom0.options.forceBounce = true
    benchmark.startMeasurement()
    for _ in benchmark.scaledIterations {
      blackHole(fixture.run(.mergedFlags, .toDevice, buffer: (ramStart + 0x10) << pageShift | 0x800, size: 0x2000))
    }
  }

  Benchmark("materialize dom0's p2m (512 pages) as tables") { benchmark in
    let p2m = dom0P2M()
    benchmark.startMeasurement()
    for _ in benchmark.scaledIterations {
      blackHole(try! p2m.materialize(tableFrames: tableFrames.lazy.map(MFN.init)))
    }
  }
}
