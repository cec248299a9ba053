import Benchmark
import P2MImpl
import Spec

// Lookups: the same 1024 GFNs, mapped 4K by 4K to scattered
// frames, looked up through the TLB (all hits), by the generic walk, and
// in the spec's dictionary. Updates: a 1 GiB aligned range (one block), a
// 2 MiB range unaligned by one page (4K chunks), and random 4K maps, each
// also reporting the descriptors written.

/// 1024 pages from GFN 0x80000, each to its own scattered frame.
let lookupPages: [UInt64] = (0..<1024).map { 0x80000 + $0 }

func scatteredFrame(_ gfn: UInt64) -> MFN { MFN((gfn &* 0x9E37_79B9) & 0xFF_FFFF | 0x100_0000) }

func lookupFixture() -> (p2m: XenP2M, spec: ReferenceP2M) {
  var p2m = try! XenP2M(ipaBits: 40, vmid: 1, tableBase: MFN(0x800_0000), poolPages: 64)
  var spec = ReferenceP2M(ipaBits: 40)
  for gfn in lookupPages {
    try! p2m.map(GFN(gfn), to: scatteredFrame(gfn), type: .ramRW)
    try! spec.map(GFN(gfn), to: scatteredFrame(gfn), type: .ramRW)
  }
  return (p2m, spec)
}

/// Descriptors written per call, as a custom metric.
let descriptorsWritten = BenchmarkMetric.custom("descriptors written", polarity: .prefersSmaller, useScalingFactor: false)

let benchmarks: @Sendable () -> Void = {
  Benchmark.defaultConfiguration = .init(
    metrics: [.wallClock, .instructions, .mallocCountTotal],
    maxDuration: .seconds(2))

  Benchmark("lookup ×1024: TLB hit (XenP2M.translate)") { benchmark in
    var (p2m, _) = lookupFixture()
    for gfn in lookupPages { _ = p2m.translate(gfn << pageShift, access: .read) }
    benchmark.startMeasurement()
    for _ in benchmark.scaledIterations {
      for gfn in lookupPages { blackHole(p2m.translate(gfn << pageShift | 0x10, access: .read)) }
    }
  }

  Benchmark("lookup ×1024: generic stageTwoWalk (XenP2M.walk)") { benchmark in
    let (p2m, _) = lookupFixture()
    benchmark.startMeasurement()
    for _ in benchmark.scaledIterations {
      for gfn in lookupPages { blackHole(p2m.walk(gfn << pageShift | 0x10, access: .read)) }
    }
  }

  Benchmark("lookup ×1024: spec dictionary (ReferenceP2M.lookup)") { benchmark in
    let (_, spec) = lookupFixture()
    benchmark.startMeasurement()
    for _ in benchmark.scaledIterations {
      for gfn in lookupPages { blackHole(spec.lookup(GFN(gfn))) }
    }
  }

  Benchmark("setEntry: 1 GiB aligned (one L1 block)",
            configuration: .init(metrics: [.wallClock, .instructions, descriptorsWritten])) { benchmark in
    var p2m = try! XenP2M(ipaBits: 40, vmid: 1, tableBase: MFN(0x800_0000), poolPages: 8)
    benchmark.startMeasurement()
    try! p2m.map(GFN(1 << 18), count: 1 << 18, to: MFN(1 << 18), type: .ramRW)
    benchmark.stopMeasurement()
    benchmark.measurement(descriptorsWritten, p2m.counters.descriptorWrites)
  }

  Benchmark("setEntry: 2 MiB + 1 page (4K chunks)",
            configuration: .init(metrics: [.wallClock, .instructions, descriptorsWritten])) { benchmark in
    var p2m = try! XenP2M(ipaBits: 40, vmid: 1, tableBase: MFN(0x800_0000), poolPages: 8)
    benchmark.startMeasurement()
    try! p2m.map(GFN(1 << 18), count: 513, to: MFN(1 << 18), type: .ramRW)
    benchmark.stopMeasurement()
    benchmark.measurement(descriptorsWritten, p2m.counters.descriptorWrites)
  }

  Benchmark("setEntry: 1024 random 4K maps",
            configuration: .init(metrics: [.wallClock, .instructions, descriptorsWritten])) { benchmark in
    var p2m = try! XenP2M(ipaBits: 40, vmid: 1, tableBase: MFN(0x800_0000), poolPages: 2048)
    var random = SplitMix64(seed: 0xBE7C)
    let gfns = (0..<1024).map { _ in random.next() % (1 << 24) }
    benchmark.startMeasurement()
    for gfn in gfns { try! p2m.map(GFN(gfn), to: scatteredFrame(gfn), type: .ramRW) }
    benchmark.stopMeasurement()
    benchmark.measurement(descriptorsWritten, p2m.counters.descriptorWrites)
  }
}
