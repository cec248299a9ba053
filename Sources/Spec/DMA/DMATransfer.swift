/// Dom0's side of a DMA: what Linux reads when it maps a buffer, and the
/// p2m that says where the buffer's bytes really are.
///
/// Passed in whole, so that the Xen state (domains, grants, allocator) can
/// build it: `p2m` is dom0's p2m, `grantTree` what Linux recorded of its
/// grant maps (§3.3), `pool` the swiotlb pool in dom0 RAM.
public struct Dom0DMAState: Hashable, Sendable {
  public var p2m: ReferenceP2M
  public var grantTree: GrantTree
  public var pool: SwiotlbPool
  public var options: SwiotlbXenOptions
  public var features: XenFeatures

  public init(p2m: ReferenceP2M, grantTree: GrantTree, pool: SwiotlbPool, options: SwiotlbXenOptions, features: XenFeatures) {
    self.p2m = p2m
    self.grantTree = grantTree
    self.pool = pool
    self.options = options
    self.features = features
  }
}

/// One DMA: `size` bytes of dom0's buffer at dom0 physical address `buffer`
/// (gfn << 12 | offset), moved by `device` in `direction`.
public struct DMARequest: Hashable, Sendable {
  public var device: String
  public var buffer: UInt64
  public var size: UInt64
  public var direction: DMADirection

  public init(device: String, buffer: UInt64, size: UInt64, direction: DMADirection) {
    self.device = device
    self.buffer = buffer
    self.size = size
    self.direction = direction
  }
}

/// The recognisable data of a DMA: never 0 (unwritten memory), and
/// different for each direction, so that data found in memory says where
/// it came from.
func dmaPattern(_ index: UInt64, direction: DMADirection) -> UInt8 {
  let salt: UInt64 = direction == .toDevice ? 0x11 : 0x77
  return UInt8(1 + (index &* 37 &+ salt) % 255)
}

/// Where dom0's p2m puts the byte at dom0 physical address `phys`: the
/// ideal location of that byte (DESIGN.md §2). This is also how dom0's CPU
/// reaches it, since the CPU's stage 2 is the same p2m.
func machineAddress(ofDom0 phys: UInt64, in p2m: ReferenceP2M) throws(DMARequestError) -> UInt64 {
  let gfn = GFN(phys >> UInt64(pageShift))
  guard let entry = p2m.lookup(gfn) else { throw .bufferNotMapped(gfn) }
  return entry.mfn.address | (phys & (pageSize - 1))
}

/// Runs one DMA through Linux's mapping, the SMMU and machine memory, and
/// judges it against the ideal DMA (DESIGN.md §2).
///
/// 1. Dom0 fills the buffer (to-device) through its p2m with a pattern; for
///    from-device the buffer is zeroed and the device will write the pattern.
/// 2. `policy` picks the DMA ops (§3.5); the ops map the buffer
///    (``mapPageThroughSwiotlbXen`` or ``mapPageDirect``). A to-device
///    bounce copies buffer → slot first (`swiotlb_tbl_map_single`).
/// 3. The device issues the access page by page of its address range: the
///    SMMU resolves its stream (§6.4); untranslated and bypass use the
///    address as the machine address; a context translates it with
///    `translate`; a fault or abort stops the device (the SMMU terminates
///    the transaction and the master sees a bus error, §6.1 SCTLR.CFCFG=0)
///    **[derived: a real master may retry or carry on; stopping is the
///    model's choice and does not hide a byte touched before the fault]**.
/// 4. A from-device bounce copies slot → buffer at unmap
///    (`swiotlb_tbl_unmap_single`), whatever the device did, and the slot
///    is released.
///
/// Verdicts: integrity (byte i went to or came from the ideal byte of the
/// buffer, or of the bounce slot when bounced, and the data arrived),
/// isolation (no other byte touched), liveness (no fault). The outcome is
/// `corruption` if isolation or integrity fails without a fault to explain
/// it, else `fault` if liveness fails, else `ok`; a byte touched before a
/// fault still makes it `corruption`, the dangerous case.
///
/// - Throws: ``DMARequestError`` for an unknown device, a size outside the
///   model, or a buffer or swiotlb pool page not mapped in dom0's p2m;
///   nothing has changed then.
public func performDMA(
  _ request: DMARequest, policy: DMAPolicy, dom0: inout Dom0DMAState, platform: SMMUPlatform,
  memory: inout MachineMemory, translate: @escaping StageTwoTranslator
) throws(DMARequestError) -> DMAReport {
  try performDMA(request, policy: policy, dom0: &dom0, platform: platform, memory: &memory, transact: platform.transactor(translate: translate))
}

/// ``performDMA(_:policy:dom0:platform:memory:translate:)`` with the
/// device's transactions translated by `transact` instead of the spec's
/// SMMU: the differential fuzzer runs the same Linux mapping and the same
/// judgement over SMMUImpl. `platform` still names the devices and decides
/// Linux's path (§3.5); only where the device's accesses land comes from
/// `transact`.
public func performDMA(
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
      return judgeMappingError(report, why: why, ideal: ideal)
    }
  case .dmaDirect:
    switch try mapPageDirect(request.buffer, size: request.size, device: device) {
    case .mapped(let address): dmaAddress = address.rawValue
    case .mappingError(let why): return judgeMappingError(report, why: why, ideal: ideal)
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
    let address = dmaAddress &+ UInt64(i)
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
  return judge(report, touched: touched, expected: expected, arrived: arrived, pattern: pattern)
}

/// The verdicts when Linux refused to map: nothing touched, a fault.
func judgeMappingError(_ report: DMAReport, why: String, ideal: [UInt64]) -> DMAReport {
  var report = report
  report.fault = "DMA_MAPPING_ERROR: \(why)"
  report.outcome = .fault
  report.liveness = DMAVerdict(holds: false, reason: "the mapping failed: \(why)")
  report.isolation = DMAVerdict(holds: true, reason: "the device was never started")
  report.integrity = DMAVerdict(holds: false, reason: "no data moved")
  report.framesExpected = frames(of: ideal)
  return report
}

/// The verdicts of a DMA that ran.
func judge(
  _ report: DMAReport, touched: [UInt64?], expected: [UInt64], arrived: [UInt8], pattern: [UInt8]
) -> DMAReport {
  var report = report
  report.framesTouched = frames(of: touched.compactMap { $0 })
  report.framesExpected = frames(of: expected)
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
func frames(of addresses: [UInt64]) -> [UInt64] {
  Set(addresses.map { $0 >> UInt64(pageShift) }).sorted()
}
