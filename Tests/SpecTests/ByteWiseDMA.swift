import Testing

@testable import Spec

// The byte-by-byte definition of a DMA: `performDMA` as first written, with
// every byte's ideal, expected and touched address in its own array and
// data moved one byte at a time through `MachineMemory.byte(at:)` and
// `setByte(_:at:)`. Spec's `performDMA` holds the same maps as page runs
// and moves data a run at a time (BENCHMARKS.md "Fuzzing"); this is the
// reference it is checked against, kept verbatim so that the obvious form
// of the semantics is not lost.

func byteWisePerformDMA(
  _ request: DMARequest, policy: DMAPolicy, dom0: inout Dom0DMAState, platform: SMMUPlatform,
  memory: inout MachineMemory, transact: DeviceTransactor
) throws(DMARequestError) -> DMAReport {
  let device: Device
  do { device = try platform.device(named: request.device) } catch { throw .unknownDevice(request.device) }
  try validateDMARange(request.buffer, size: request.size)
  let count = Int(request.size)
  let offsets = (0..<UInt64(count))

  // The pool is dom0 RAM; checked before anything changes.
  for page in 0..<dom0.pool.pages {
    let gfn = dom0.pool.start.advanced(by: page)
    guard dom0.p2m.lookup(gfn) != nil else { throw .bufferNotMapped(gfn) }
  }
  // The ideal location of every buffer byte; also proves the buffer mapped.
  var ideal: [UInt64] = []
  for i in offsets { ideal.append(try machineAddress(ofDom0: request.buffer + i, in: dom0.p2m)) }
  // `xen_swiotlb_dma_supported()`: the pool's last byte, as a DMA address,
  // within the mask, asked before anything changes (added to performDMA
  // after this reference was written).
  if (try? policy.path(for: device, features: dom0.features, platform: platform)) == .swiotlbXen {
    let poolLast = ((dom0.pool.start.rawValue + dom0.pool.pages) << UInt64(pageShift)) &- 1
    guard physToDMA(poolLast, regions: device.dmaRegions) <= device.dmaMask else {
      throw .maskBelowPool(device: device.name, maskBits: device.dmaMaskBits, poolLast: poolLast)
    }
  }
  let pattern = offsets.map { dmaPattern($0, direction: request.direction) }
  for (i, pa) in ideal.enumerated() {
    memory.setByte(request.direction == .toDevice ? pattern[i] : 0, at: pa)
  }

  var report = DMAReport(
    policy: policy, device: device.name, direction: request.direction, buffer: request.buffer, size: request.size,
    path: .dmaDirect, mapping: .dmaDirect, dmaAddress: nil, bounceSlot: nil, stream: nil, outcome: .ok,
    integrity: DMAVerdict(holds: true, reason: ""), isolation: DMAVerdict(holds: true, reason: ""),
    liveness: DMAVerdict(holds: true, reason: ""), fault: nil, framesTouched: [], framesExpected: [])

  do { report.path = try policy.path(for: device, features: dom0.features, platform: platform) } catch {
    throw .unknownDevice(request.device)
  }

  // Linux maps the buffer.
  let dmaAddress: UInt64
  var slot: UInt64?
  switch report.path {
  case .swiotlbXen:
    switch try mapPageThroughSwiotlbXen(
      request.buffer, size: request.size, device: device, grantTree: dom0.grantTree, options: dom0.options,
      pool: &dom0.pool)
    {
    case .direct(let address):
      report.mapping = .direct
      dmaAddress = address.rawValue
    case .bounce(let address, let bounceSlot):
      report.mapping = .bounce
      dmaAddress = address.rawValue
      slot = bounceSlot
    case .mappingError(let why):
      report.mapping = .bounce
      return byteWiseJudgeMappingError(report, why: why, ideal: ideal)
    }
  case .dmaDirect:
    switch try mapPageDirect(request.buffer, size: request.size, device: device) {
    case .mapped(let address): dmaAddress = address.rawValue
    case .mappingError(let why): return byteWiseJudgeMappingError(report, why: why, ideal: ideal)
    }
  }
  report.dmaAddress = dmaAddress
  report.bounceSlot = slot

  // Where the device should go: the buffer, or the bounce slot.
  var expected = ideal
  if let slot {
    expected = offsets.map { i in
      // The pool's pages were checked above, and a slot lies in the pool.
      dom0.p2m.lookup(GFN((slot + i) >> UInt64(pageShift)))!.mfn.address | ((slot + i) & (pageSize - 1))
    }
    if request.direction == .toDevice {
      for i in 0..<count { memory.setByte(memory.byte(at: ideal[i]), at: expected[i]) }
    }
  }

  // The device accesses memory, page by page of its address range; the
  // stream is reported as the first transaction found it.
  var touched: [UInt64?] = Array(repeating: nil, count: count)
  var received: [UInt8] = Array(repeating: 0, count: count)
  var i = 0
  deviceLoop: while i < count {
    // The bus's dma-ranges translation comes before the SMMU.
    let address = dmaToPhys(dmaAddress &+ UInt64(i), regions: device.dmaRegions)
    let chunk = min(count - i, Int(pageSize - (address & (pageSize - 1))))
    let transaction = try transact(device, address, request.direction.deviceAccess)
    if report.stream == nil { report.stream = transaction.stream.description }
    let pa: UInt64
    switch (transaction.stream, transaction.stageTwo) {
    case (.untranslated, _), (.bypass, _):
      pa = address
    case (.fault, _), (.abort, _):
      report.fault = "stream: \(transaction.stream)"
      break deviceLoop
    case (.context(let domain, let vmid), let stageTwo):
      switch stageTwo {
      case .translated(let translated)?: pa = translated
      case .fault(let fault)?:
        report.fault = "SMMU context fault (\(domain), vmid \(vmid)): \(fault.kind) fault at level \(fault.level), iova \(hex(address))"
        break deviceLoop
      case nil:
        report.fault = "SMMU context (\(domain), vmid \(vmid)) without a stage-2 result, iova \(hex(address))"
        break deviceLoop
      }
    }
    for j in 0..<chunk {
      let byteAddress = pa &+ UInt64(j)
      touched[i + j] = byteAddress
      switch request.direction {
      case .toDevice: received[i + j] = memory.byte(at: byteAddress)
      case .fromDevice: memory.setByte(pattern[i + j], at: byteAddress)
      }
    }
    i += chunk
  }

  if let slot {
    if request.direction == .fromDevice {
      for i in 0..<count { memory.setByte(memory.byte(at: expected[i]), at: ideal[i]) }
    }
    dom0.pool.unmapSingle(slot)
  }

  let arrived: [UInt8] =
    request.direction == .toDevice ? received : ideal.map { memory.byte(at: $0) }
  return byteWiseJudge(report, touched: touched, expected: expected, arrived: arrived, pattern: pattern)
}

/// The verdicts when Linux refused to map: nothing touched, a fault.
func byteWiseJudgeMappingError(_ report: DMAReport, why: String, ideal: [UInt64]) -> DMAReport {
  var report = report
  report.fault = "DMA_MAPPING_ERROR: \(why)"
  report.outcome = .fault
  report.liveness = DMAVerdict(holds: false, reason: "the mapping failed: \(why)")
  report.isolation = DMAVerdict(holds: true, reason: "the device was never started")
  report.integrity = DMAVerdict(holds: false, reason: "no data moved")
  report.framesExpected = byteWiseFrames(of: ideal)
  return report
}

/// The verdicts of a DMA that ran.
func byteWiseJudge(
  _ report: DMAReport, touched: [UInt64?], expected: [UInt64], arrived: [UInt8], pattern: [UInt8]
) -> DMAReport {
  var report = report
  report.framesTouched = byteWiseFrames(of: touched.compactMap { $0 })
  report.framesExpected = byteWiseFrames(of: expected)
  let target = report.bounceSlot == nil ? "buffer" : "bounce slot"

  let allowed = Set(expected)
  if let stray = touched.firstIndex(where: { $0 != nil && !allowed.contains($0!) }), let pa = touched[stray] {
    report.isolation = DMAVerdict(
      holds: false,
      reason: "byte \(stray) went to pa \(hex(pa)) (mfn \(hex(pa >> UInt64(pageShift)))), "
        + "which backs neither the buffer nor its bounce slot")
  } else {
    report.isolation = DMAVerdict(holds: true, reason: "every byte touched backs the \(target)")
  }

  if let fault = report.fault {
    report.liveness = DMAVerdict(holds: false, reason: fault)
  } else {
    report.liveness = DMAVerdict(holds: true, reason: "no fault")
  }

  if let missing = touched.firstIndex(of: nil) {
    report.integrity = DMAVerdict(holds: false, reason: "byte \(missing) was never transferred")
  } else if let wrong = touched.indices.first(where: { touched[$0] != expected[$0] }) {
    report.integrity = DMAVerdict(
      holds: false,
      reason: "byte \(wrong) went to pa \(hex(touched[wrong]!)), its \(target) byte is at \(hex(expected[wrong]))")
  } else if let lost = arrived.indices.first(where: { arrived[$0] != pattern[$0] }) {
    report.integrity = DMAVerdict(
      holds: false, reason: "byte \(lost) arrived as \(hex(UInt64(arrived[lost]))), sent \(hex(UInt64(pattern[lost])))")
  } else {
    report.integrity = DMAVerdict(
      holds: true,
      reason: "every byte went to its \(target) byte and the data arrived"
        + (report.bounceSlot == nil ? "" : " after the copy"))
  }

  let silentlyWrong = report.fault == nil && !report.integrity.holds
  if !report.isolation.holds || silentlyWrong {
    report.outcome = .corruption
  } else if report.fault != nil {
    report.outcome = .fault
  } else {
    report.outcome = .ok
  }
  return report
}

/// The distinct machine frames of a list of machine addresses, ascending.
func byteWiseFrames(of addresses: [UInt64]) -> [UInt64] {
  Set(addresses.map { $0 >> UInt64(pageShift) }).sorted()
}
