#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

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
///
/// The definition is byte by byte: byte *i* of the buffer has an ideal
/// machine address (`ideal[i]`, through dom0's p2m), an address the device
/// should use (`expected[i]`: the ideal one, or the bounce slot's byte),
/// and the address the device actually touched (`touched[i]`, nil once it
/// stopped); the verdicts compare these maps and the data found at them.
/// Every such map is linear within a page, so it is held as ``ByteRun``s,
/// one per page-contiguous piece, and the data moves a run at a time.
/// `DMAByteWiseReferenceTests` keeps the byte-by-byte form of this function
/// and checks that both give the same report, memory and pool on random
/// requests, translations and memories.
public func performDMA(
  _ request: DMARequest, policy: DMAPolicy, dom0: inout Dom0DMAState, platform: SMMUPlatform,
  memory: inout MachineMemory, transact: @escaping DeviceTransactor
) throws(DMARequestError) -> DMAReport {
  let device: Device
  do { device = try platform.device(named: request.device) } catch { throw .unknownDevice(request.device) }
  try validateDMARange(request.buffer, size: request.size)
  let count = Int(request.size)
  let direction = request.direction

  // The pool is dom0 RAM; checked before anything changes.
  for page in 0..<dom0.pool.pages {
    let gfn = dom0.pool.start.advanced(by: page)
    guard dom0.p2m.lookup(gfn) != nil else { throw .bufferNotMapped(gfn) }
  }
  var world = SpecDMAWorld(dom0: dom0, device: device, transact: transact)
  let pages = Int(pagesSpanned(request.buffer, size: request.size))
  let ideal = idealBuffer(world, buffer: request.buffer, size: request.size, maximumPages: pages)
  // The ideal location of every buffer byte must exist.
  for (page, mapped) in zip(ideal.pages, ideal.mapped) where page.active && !mapped {
    throw .bufferNotMapped(GFN((request.buffer + page.firstByte) >> UInt64(pageShift)))
  }
  let path: DMAPath
  do { path = try policy.path(for: device, features: dom0.features, platform: platform) } catch {
    throw .unknownDevice(request.device)
  }
  // `xen_swiotlb_dma_supported()` (drivers/xen/swiotlb-xen.c, v5.10 …
  // current: `xen_phys_to_dma(hwdev, <pool end> - 1) <= mask`), asked by
  // `dma_set_mask()` at probe: a device whose mask cannot reach the pool's
  // last byte gets no DMA at all. The pool is dom0's own RAM, never in the
  // grant tree, so its bus address is its physical one (pfn_to_bfn = pfn).
  // Through the device's `dma-ranges`: a pool in no region is
  // DMA_MAPPING_ERROR, which only a 64-bit mask accepts.
  if path == .swiotlbXen {
    let poolLast = ((dom0.pool.start.rawValue + dom0.pool.pages) << UInt64(pageShift)) &- 1
    guard physToDMA(poolLast, regions: device.dmaRegions) <= device.dmaMask else {
      throw .maskBelowPool(device: device.name, maskBits: device.dmaMaskBits, poolLast: poolLast)
    }
  }

  // Zero bytes: Linux maps them like any buffer and no data moves; the
  // matrix proofs cover one byte and more.
  if request.size == 0 {
    return try zeroLengthDMA(request, policy: policy, path: path, device: device, dom0: dom0)
  }

  // Linux maps the buffer and the device moves it: the page-level DMA,
  // the code the matrix proofs run symbolically.
  let run = try runDMAPages(
    &world, buffer: request.buffer, size: request.size, path: path,
    device: DMADeviceModel(dmaMask: device.dmaMask, coherent: device.coherent, dmaRegions: device.dmaRegions),
    options: DMALinuxSettings(dom0.options),
    access: direction.deviceAccess, ideal: ideal, maximumPages: pages)
  dom0.pool = world.dom0.pool
  defer { if run.slotTaken { dom0.pool.unmapSingle(run.slot) } }

  let idealRuns = byteRuns(ideal.pages)
  var report = DMAReport(
    policy: policy, device: device.name, direction: direction, buffer: request.buffer, size: request.size,
    path: path, mapping: path == .dmaDirect ? .dmaDirect : (run.slotTaken || run.noSlot ? .bounce : .direct),
    dmaAddress: nil, bounceSlot: nil, stream: nil, outcome: .ok,
    integrity: DMAVerdict(holds: true, reason: ""), isolation: DMAVerdict(holds: true, reason: ""),
    liveness: DMAVerdict(holds: true, reason: ""), fault: nil, framesTouched: [], framesExpected: [])

  // Dom0 fills the buffer with the pattern, or zeroes it for the device to fill.
  for run in idealRuns {
    switch direction {
    case .toDevice: withPattern(run.index, count: run.count, direction) { memory.write(run.address, from: $0) }
    case .fromDevice: memory.fill(run.address, count: run.count, with: 0)
    }
  }
  if run.mappingError {
    let why: String
    if path == .dmaDirect {
      why = dmaCapableRefusal(address: run.dmaAddress, of: request.buffer, device: device, bounce: false)
    } else if run.noSlot {
      why = "swiotlb_tbl_map_single found no slot (pool full, or over 256 KiB)"
    } else {
      why = dmaCapableRefusal(address: run.dmaAddress, of: run.slot, device: device, bounce: true)
    }
    return judgeMappingError(report, why: why, ideal: idealRuns)
  }
  report.dmaAddress = run.dmaAddress
  report.bounceSlot = run.bounced ? run.slot : nil
  report.stream = world.stream
  report.fault = world.fault

  // Where the device should go, and where it went.
  let expected = byteRuns(run.expected)
  let touched = byteRuns(run.device.filter { $0.reached }.map { $0.page })
  if run.bounced && direction == .toDevice {
    forEachPiece(idealRuns, expected) { _, from, to, length in memory.copy(from: from, to: to, count: length) }
  }
  // A to-device read needs no copy: nothing writes memory after it, so the
  // bytes the device read are still at `touched` when judged.
  if direction == .fromDevice {
    for piece in touched { withPattern(piece.index, count: piece.count, direction) { memory.write(piece.address, from: $0) } }
  }
  if run.bounced && direction == .fromDevice {
    forEachPiece(expected, idealRuns) { _, from, to, length in memory.copy(from: from, to: to, count: length) }
  }

  // What arrived: what the device read, or what dom0 finds in its buffer.
  let arrived = direction == .toDevice ? touched : idealRuns
  return judge(
    report, count: count, touched: touched, expected: expected, arrived: arrived, memory: memory,
    isolated: run.isolation, addressesRight: run.addressIntegrity, live: run.liveness)
}

/// A zero-length DMA (`dma_map_page()` with `size` 0): mapped by the
/// concrete mapping functions as any other buffer
/// (``mapPageThroughSwiotlbXen(_:size:device:grantTree:options:pool:)``,
/// ``mapPageDirect(_:size:device:)``), and then nothing moves. A
/// zero-length mapping swiotlb-xen would bounce never returns
/// (``zeroLengthBounceBug``): the mapping answers it before taking a slot.
func zeroLengthDMA(
  _ request: DMARequest, policy: DMAPolicy, path: DMAPath, device: Device, dom0: Dom0DMAState
) throws(DMARequestError) -> DMAReport {
  var report = DMAReport(
    policy: policy, device: device.name, direction: request.direction, buffer: request.buffer, size: 0,
    path: path, mapping: path == .dmaDirect ? .dmaDirect : .direct,
    dmaAddress: nil, bounceSlot: nil, stream: nil, outcome: .ok,
    integrity: DMAVerdict(holds: true, reason: "nothing to transfer: a zero-length mapping moves no data"),
    isolation: DMAVerdict(holds: true, reason: "the device touched nothing"),
    liveness: DMAVerdict(holds: true, reason: "no fault"), fault: nil, framesTouched: [], framesExpected: [])
  let refusal: String
  switch path {
  case .swiotlbXen:
    var pool = dom0.pool
    switch try mapPageThroughSwiotlbXen(request.buffer, size: 0, device: device, grantTree: dom0.grantTree, options: dom0.options, pool: &pool) {
    case .direct(let address):
      report.dmaAddress = address.rawValue
      return report
    case .mappingError(let why):
      report.mapping = .bounce
      refusal = why
    case .bounce:
      // Not reached: zero bytes that would bounce stop at the BUG_ON.
      report.mapping = .bounce
      refusal = zeroLengthBounceBug
    }
  case .dmaDirect:
    switch try mapPageDirect(request.buffer, size: 0, device: device) {
    case .mapped(let address):
      report.dmaAddress = address.rawValue
      return report
    case .mappingError(let why):
      refusal = why
    }
  }
  var refused = judgeMappingError(report, why: refusal, ideal: [])
  refused.integrity = DMAVerdict(holds: true, reason: "nothing to transfer")
  return refused
}

/// The concrete world of the page-level DMA: dom0's p2m, grant tree and
/// pool, and the SMMU as `transact` answers; it keeps the first stream
/// outcome and the fault for the report.
struct SpecDMAWorld: DMAWorld {
  var dom0: Dom0DMAState
  let device: Device
  let transact: DeviceTransactor
  var stream: String?
  var fault: String?

  init(dom0: Dom0DMAState, device: Device, transact: @escaping DeviceTransactor) {
    self.dom0 = dom0
    self.device = device
    self.transact = transact
  }

  func dom0Frame(_ gfn: UInt64) -> GuardedWord<UInt64> {
    guard let entry = dom0.p2m.lookup(GFN(gfn)) else { return .absent(gfn) }
    return GuardedWord(present: true, value: entry.mfn.rawValue)
  }

  func pfnToBfn(_ pfn: UInt64) -> UInt64 { dom0.grantTree.pfnToBfn(pfn) }

  mutating func deviceTransaction(_ busAddress: UInt64, access: Access) throws(DMARequestError) -> GuardedWord<UInt64> {
    let transaction = try transact(device, busAddress, access)
    if stream == nil { stream = transaction.stream.description }
    switch (transaction.stream, transaction.stageTwo) {
    case (.untranslated, _), (.bypass, _):
      return GuardedWord(present: true, value: busAddress)
    case (.fault, _), (.abort, _):
      fault = "stream: \(transaction.stream)"
    case (.context, .translated(let pa)?):
      return GuardedWord(present: true, value: pa)
    case (.context(let domain, let vmid), .fault(let stageTwoFault)?):
      fault = "SMMU context fault (\(domain), vmid \(vmid)): \(stageTwoFault.kind) fault at level \(stageTwoFault.level), iova \(hex(busAddress))"
    case (.context(let domain, let vmid), nil):
      fault = "SMMU context (\(domain), vmid \(vmid)) without a stage-2 result, iova \(hex(busAddress))"
    }
    return .absent(busAddress)
  }

  mutating func mapBounceSlot(size: UInt64) -> GuardedWord<UInt64> {
    guard let slot = dom0.pool.mapSingle(size: size) else { return .absent(size) }
    return GuardedWord(present: true, value: slot)
  }
}

/// The active pages of a page-level DMA as byte runs.
func byteRuns(_ pages: [DMAPage<UInt64>]) -> [ByteRun] {
  pages.filter(\.active).map { ByteRun(index: Int($0.firstByte), address: $0.address, count: Int($0.count)) }
}

/// Bytes `index ..< index + count` of a DMA's byte map that lie at
/// consecutive machine addresses from `address`, all in one frame:
/// byte `index + k` is at `address + k`.
struct ByteRun: Hashable, Sendable {
  var index: Int
  var address: UInt64
  var count: Int

  /// The machine address of the run's last byte (a run never wraps: it
  /// lies in one frame).
  var lastAddress: UInt64 { address + UInt64(count - 1) }
}

/// Walks two byte maps over the same indices together, in ascending index
/// order and in pieces where both are contiguous, until either ends:
/// `body(index, first[index], second[index], length)`. Returns early when
/// `body` returns false.
@discardableResult
func forEachPiece(
  _ first: [ByteRun], _ second: [ByteRun], _ body: (Int, UInt64, UInt64, Int) -> Bool = { _, _, _, _ in true }
) -> Bool {
  var a = 0
  var b = 0
  var index = 0
  while a < first.count, b < second.count {
    let x = first[a]
    let y = second[b]
    let end = min(x.index + x.count, y.index + y.count)
    if !body(index, x.address + UInt64(index - x.index), y.address + UInt64(index - y.index), end - index) { return false }
    index = end
    if index == x.index + x.count { a += 1 }
    if index == y.index + y.count { b += 1 }
  }
  return true
}

/// ``forEachPiece(_:_:_:)`` with a body that never stops the walk.
func forEachPiece(_ first: [ByteRun], _ second: [ByteRun], _ body: (Int, UInt64, UInt64, Int) -> Void) {
  forEachPiece(first, second) { body($0, $1, $2, $3); return true }
}

/// `dmaPattern` repeats every 255 bytes (37 × 255 ≡ 0 mod 255), so the
/// pattern of any run of up to a page is a slice of one table per
/// direction.
let patternTables: (toDevice: [UInt8], fromDevice: [UInt8]) = (
  (0..<(255 + Int(pageSize))).map { dmaPattern(UInt64($0), direction: .toDevice) },
  (0..<(255 + Int(pageSize))).map { dmaPattern(UInt64($0), direction: .fromDevice) }
)

/// Calls `body` with `dmaPattern(index + k)` for `k` below `count` (at most
/// a page).
func withPattern<Result>(
  _ index: Int, count: Int, _ direction: DMADirection, _ body: (UnsafeRawBufferPointer) throws -> Result
) rethrows -> Result {
  precondition(count <= Int(pageSize), "a pattern run is at most a page")
  let table = direction == .toDevice ? patternTables.toDevice : patternTables.fromDevice
  let start = index % 255
  return try table.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[start..<(start + count)])) }
}

/// The verdicts when Linux refused to map: nothing touched, a fault.
func judgeMappingError(_ report: DMAReport, why: String, ideal: [ByteRun]) -> DMAReport {
  var report = report
  report.fault = "DMA_MAPPING_ERROR: \(why)"
  report.outcome = .fault
  report.liveness = DMAVerdict(holds: false, reason: "the mapping failed: \(why)")
  report.isolation = DMAVerdict(holds: true, reason: "the device was never started")
  report.integrity = DMAVerdict(holds: false, reason: "no data moved")
  report.framesExpected = frames(of: ideal)
  return report
}

/// The verdicts of a DMA that ran. Whether each property holds at the
/// level of addresses is the page-level DMA's answer (`isolated`,
/// `addressesRight`, `live`); the byte maps give the reasons — `touched`
/// covers the bytes the device moved (a prefix of the `count` bytes),
/// `expected` all of them — and `arrived` says where to find the data
/// that arrived, which integrity also needs.
func judge(
  _ report: DMAReport, count: Int, touched: [ByteRun], expected: [ByteRun], arrived: [ByteRun], memory: MachineMemory,
  isolated: Bool, addressesRight: Bool, live: Bool
) -> DMAReport {
  var report = report
  report.framesTouched = frames(of: touched)
  report.framesExpected = frames(of: expected)
  let target = report.bounceSlot == nil ? "buffer" : "bounce slot"

  if isolated {
    report.isolation = DMAVerdict(holds: true, reason: "every byte touched backs the \(target)")
  } else if let (stray, pa) = firstStray(touched, allowed: expected) {
    report.isolation = DMAVerdict(
      holds: false,
      reason: "byte \(stray) went to pa \(hex(pa)) (mfn \(hex(pa >> UInt64(pageShift)))), "
        + "which backs neither the buffer nor its bounce slot")
  } else {
    assertionFailure("the page-level DMA found a stray byte that the byte map does not have")
    report.isolation = DMAVerdict(holds: false, reason: "a touched byte backs neither the buffer nor its bounce slot")
  }

  if live {
    report.liveness = DMAVerdict(holds: true, reason: "no fault")
  } else {
    report.liveness = DMAVerdict(holds: false, reason: report.fault ?? "a transaction faulted")
  }

  // The first byte the device never moved, went to the wrong address, or
  // whose data differs from the pattern, in that order.
  let moved = touched.last.map { $0.index + $0.count } ?? 0
  if !addressesRight {
    var wrong: (index: Int, touched: UInt64, expected: UInt64)?
    forEachPiece(touched, expected) { index, touchedAt, expectedAt, _ in
      guard touchedAt != expectedAt else { return true }
      wrong = (index, touchedAt, expectedAt)
      return false
    }
    if moved < count {
      report.integrity = DMAVerdict(holds: false, reason: "byte \(moved) was never transferred")
    } else if let wrong {
      report.integrity = DMAVerdict(
        holds: false,
        reason: "byte \(wrong.index) went to pa \(hex(wrong.touched)), its \(target) byte is at \(hex(wrong.expected))")
    } else {
      assertionFailure("the page-level DMA found a misplaced byte that the byte maps do not have")
      report.integrity = DMAVerdict(holds: false, reason: "a byte went to another address than its \(target) byte")
    }
  } else if let (lost, value) = firstDifferenceFromPattern(arrived, memory: memory, direction: report.direction) {
    report.integrity = DMAVerdict(
      holds: false,
      reason: "byte \(lost) arrived as \(hex(UInt64(value))), sent \(hex(UInt64(dmaPattern(UInt64(lost), direction: report.direction))))")
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

/// The first touched byte, in index order, at an address no byte of
/// `allowed` has: its index and address.
func firstStray(_ touched: [ByteRun], allowed: [ByteRun]) -> (Int, UInt64)? {
  for run in touched {
    var at = run.address
    // Skip ahead through allowed runs covering `at` until the run is covered.
    while true {
      let covering = allowed.lazy.filter { $0.address <= at && at <= $0.lastAddress }.map(\.lastAddress).max()
      guard let end = covering else { return (run.index + Int(at - run.address), at) }
      if end >= run.lastAddress { break }
      at = end + 1
    }
  }
  return nil
}

/// The first byte of `arrived`, in index order, that differs from the
/// pattern: its index and value.
func firstDifferenceFromPattern(_ arrived: [ByteRun], memory: MachineMemory, direction: DMADirection) -> (Int, UInt8)? {
  for run in arrived {
    let found: (Int, UInt8)? = memory.withBytes(run.address, count: run.count) { data in
      withPattern(run.index, count: run.count, direction) { pattern in
        guard memcmp(data.baseAddress!, pattern.baseAddress!, run.count) != 0 else { return nil }
        let k = (0..<run.count).first { data[$0] != pattern[$0] }!
        return (run.index + k, data[k])
      }
    }
    if let found { return found }
  }
  return nil
}

/// The distinct machine frames of a byte map, ascending.
func frames(of runs: [ByteRun]) -> [UInt64] {
  Set(runs.map { $0.address >> UInt64(pageShift) }).sorted()
}
