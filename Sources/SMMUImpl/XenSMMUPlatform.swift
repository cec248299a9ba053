import P2MImpl
import Spec

/// A handle on one SMMU of a ``XenSMMUPlatform``, so the hot path indexes
/// an array instead of hashing a name.
public struct SMMUIndex: Hashable, Sendable {
  @usableFromInline let rawValue: Int
}

/// The SMMUs of a machine as Xen drives them, over the domains' p2ms —
/// the optimized counterpart of the spec's ``SMMUPlatform`` (DESIGN.md §3,
/// `SMMUImpl`).
///
/// The p2m *is* the SMMU's stage-2 table on Arm (`iommu_use_hap_pt`, fact
/// sheet §1.6): contexts walk each ``XenP2M``'s ``TablePool`` with the
/// spec's generic ``stageTwoWalk(memory:geometry:rootAddress:inputAddress:access:)``,
/// behind a per-SMMU ``IOTLB``. The platform owns the p2ms so that it sees
/// every table write; they change only through ``updateP2M(of:_:)``.
///
/// Coherence comes from Xen's discipline alone: the SMMU ignores CPU TLB
/// flushes (private TLB maintenance, §6.1/§6.2), so the only invalidation
/// of a domain's translations is the `iommu_iotlb_flush()` that
/// `__p2m_set_entry()` issues after writing an entry and before freeing
/// the old one (`9ed527dc95`, `6718787797`, §1.5). Each registered p2m's
/// ``XenP2M/iotlbFlushHandler`` is that call: `arm_smmu_iotlb_flush()`
/// ignores the range and invalidates the VMID of every context of the
/// domain, one per (domain, SMMU instance) (`arm_smmu_iotlb_flush_all()`,
/// smmu.c and smmu-v3.c).
///
/// A class, because the p2ms' flush callbacks must reach the IOTLBs while
/// a p2m is being updated.
public final class XenSMMUPlatform {
  /// Each SMMU in its own box, so that updating one (an IOTLB fill, a
  /// statistic) never makes the array itself copy-on-write.
  @usableFromInline let instances: [InstanceBox]
  let indexByName: [String: Int]
  /// Devices in declaration order, and by name.
  public let devices: [Device]
  let deviceIndex: [String: Int]
  /// The domain each attached device's streams translate through.
  public private(set) var assignments: [String: DomainID] = [:]
  /// Per domain: its p2m, the SMMU's stage-2 tables.
  var p2ms: [DomainID: XenP2M] = [:]
  /// Runs Xen's SMMUv3 driver with the fix `smmu.coherence[v3,detach]`
  /// asks for: the S2VMID invalidated when `arm_smmu_domain_free()` gives
  /// it back, as Linux's driver does (``XenSMMUDriver/invalidatesReleasedVMID``).
  /// False — Xen as released — everywhere but the differential harnesses
  /// (the fuzzer's and SMMUImplTests'), which compare with the spec, where
  /// there is no IOTLB: there this known finding would mask every other.
  package var invalidatesReleasedS2VMIDs = false {
    didSet { for box in instances { box.value.invalidatesReleasedS2VMIDs = invalidatesReleasedS2VMIDs } }
  }

  /// A platform as Xen leaves it after probing: every SMMU in the state
  /// given (``SMMU/v2(name:streamMapEntries:contextBanks:streamIDBits:)``
  /// and ``SMMU/v3(name:streamIDBits:vmidBits:)`` are the post-reset
  /// states), nothing attached, no domain registered.
  ///
  /// - Parameter iotlbCapacity: entries per SMMU IOTLB, for an SMMU whose
  ///   declaration does not state its own (``SMMU/iotlbEntries``).
  /// - Throws: what ``SMMUPlatform/init(smmus:devices:)`` throws, with the
  ///   same value, and ``XenSMMUError/smmu(_:)`` for registers the model
  ///   cannot hold.
  public init(smmus: [SMMU], devices: [Device], iotlbCapacity: Int = 1024) throws(XenSMMUError) {
    // The spec's validation is the definition of a well-formed platform.
    do { _ = try SMMUPlatform(smmus: smmus, devices: devices) } catch { throw .smmu(error) }
    var instances: [InstanceBox] = []
    for smmu in smmus {
      instances.append(InstanceBox(try SMMUInstance(smmu, iotlbCapacity: smmu.iotlbEntries ?? iotlbCapacity, p2ms: [:])))
    }
    self.instances = instances
    indexByName = Dictionary(uniqueKeysWithValues: smmus.enumerated().map { ($1.name, $0) })
    self.devices = devices
    deviceIndex = Dictionary(uniqueKeysWithValues: devices.enumerated().map { ($1.name, $0) })
  }

  /// An independent platform in the same state: each SMMU's registers
  /// and IOTLB, the assignments, and the p2ms with their IOTLB flushes
  /// rewired to the copy, so that an update of the copy's p2m invalidates
  /// the copy's IOTLBs and never this platform's.
  ///
  /// Cheap to make: the SMMUs and p2ms are values whose storage the two
  /// platforms share until one of them writes (then that one copies what
  /// it writes, e.g. a p2m's table pool on its first update). The fuzzer
  /// boots a platform once and starts every input from a copy.
  public func copy() -> XenSMMUPlatform { XenSMMUPlatform(copying: self) }

  private init(copying other: XenSMMUPlatform) {
    instances = other.instances.map { InstanceBox($0.value) }
    indexByName = other.indexByName
    devices = other.devices
    deviceIndex = other.deviceIndex
    assignments = other.assignments
    // Set before `p2ms`, without their `didSet` (the instances copied
    // above already carry both settings).
    invalidatesReleasedS2VMIDs = other.invalidatesReleasedS2VMIDs
    for (domain, p2m) in other.p2ms {
      var p2m = p2m
      p2m.iotlbFlushHandler = { [weak self] _ in self?.p2mFlushedIOTLB(domain) }
      p2ms[domain] = p2m
    }
  }

  // MARK: Domains

  /// Registers `domain`'s p2m and wires its IOTLB flushes to this
  /// platform's SMMUs (replacing any handler it had).
  public func addDomain(_ domain: DomainID, p2m: XenP2M) throws(XenSMMUError) {
    guard p2ms[domain] == nil else { throw .duplicateDomain(domain) }
    var p2m = p2m
    p2m.iotlbFlushHandler = { [weak self] _ in self?.p2mFlushedIOTLB(domain) }
    p2ms[domain] = p2m
    for index in instances.indices { instances[index].value.domainAdded(domain, p2m: p2m) }
  }

  /// A copy of `domain`'s p2m.
  public func p2m(of domain: DomainID) -> XenP2M? { p2ms[domain] }

  /// Runs `body` on `domain`'s p2m in place — `p2m_set_entry()` and
  /// friends — with its IOTLB flushes reaching the SMMUs as they happen.
  public func updateP2M<Result>(
    of domain: DomainID, _ body: (inout XenP2M) throws(XenP2MError) -> Result
  ) throws(XenSMMUError) -> Result {
    // Through `values` at an index, which yields the stored p2m in place;
    // `p2ms[domain]!` moves it out and back (and hashes twice), which was
    // most of the fuzz loop's p2m comparisons (BENCHMARKS.md, Fuzzing).
    guard let index = p2ms.index(forKey: domain) else { throw .unknownDomain(domain) }
    do { return try body(&p2ms.values[index]) } catch { throw .p2m(error) }
  }

  /// A registered p2m's `iommu_iotlb_flush()` → `arm_smmu_iotlb_flush(d,
  /// dfn, count, flags)` → `arm_smmu_iotlb_flush_all(d)`: on each SMMU the
  /// callback reaches (``flushedSMMUs(count:)``), TLBIVMID (v2) or
  /// TLBI_S12_VMALL (v3) for each of the domain's contexts
  /// (``iotlbFlushDomain(_:domain:contexts:)``) — the generic code
  /// `smmu.coherence` proves; the range is ignored (§6.1).
  func p2mFlushedIOTLB(_ domain: DomainID) {
    for index in flushedSMMUs(count: instances.count) {
      instances[index].value.flushIOTLB(of: domain)
    }
  }

  // MARK: Devices

  func device(named name: String) throws(XenSMMUError) -> Device {
    guard let index = deviceIndex[name] else { throw .smmu(.unknownDevice(name)) }
    return devices[index]
  }

  /// `iommu_assign_dt_device(d, dev)`: attach every stream of a described
  /// device to `domain`'s context on its SMMU. Refuses what the spec
  /// refuses, in the same order, then a domain without a p2m or without
  /// the IOMMU enabled.
  public func attach(_ deviceName: String, to domain: DomainID) throws(XenSMMUError) {
    let device = try device(named: deviceName)
    guard case .behindSMMU(let smmuName, _, let described) = device.attachment else {
      throw .smmu(.notBehindSMMU(device: deviceName))
    }
    guard described else { throw .smmu(.undescribed(device: deviceName)) }
    if let current = assignments[deviceName] { throw .smmu(.alreadyAttached(device: deviceName, domain: current)) }
    guard let index = indexByName[smmuName] else { throw .smmu(.unknownSMMU(smmuName)) }
    guard let p2m = p2ms[domain] else { throw .unknownDomain(domain) }
    guard p2m.iommuEnabled else { throw .iommuDisabled(domain) }
    try instances[index].value.attach(device: deviceName, requests: device.streamMatchRequests, to: domain, p2m: p2m)
    assignments[deviceName] = domain
  }

  /// `iommu_deassign_dt_device()`: the device's streams fault (v2) or
  /// abort (v3) again.
  public func detach(_ deviceName: String) throws(XenSMMUError) {
    let device = try device(named: deviceName)
    guard case .behindSMMU(let smmuName, let streams, _) = device.attachment else {
      throw .smmu(.notBehindSMMU(device: deviceName))
    }
    guard let domain = assignments[deviceName] else { throw .smmu(.notAttached(device: deviceName)) }
    guard let index = indexByName[smmuName] else { throw .smmu(.unknownSMMU(smmuName)) }
    instances[index].value.detach(device: deviceName, streams: streams, from: domain)
    assignments[deviceName] = nil
  }

  /// `handle_device()` while building dom0 (§6.3): every described device
  /// not yet assigned and not kept for a guest (``Device/passthrough``)
  /// goes to dom0.
  public func assignDescribedDevicesToDom0() throws(XenSMMUError) {
    for device in devices where assignments[device.name] == nil && !device.passthrough {
      if case .behindSMMU(_, _, described: true) = device.attachment { try attach(device.name, to: .dom0) }
    }
  }

  /// Replaces an SMMU's registers (hand-set states, for scenarios), as
  /// ``SMMUPlatform/setState(_:of:)`` does; the IOTLB starts empty.
  public func setState(_ state: SMMU.State, of smmuName: String) throws(XenSMMUError) {
    let index = try smmuIndex(named: smmuName).rawValue
    try instances[index].value.load(state, p2ms: p2ms)
  }

  // MARK: Translation

  public func smmuIndex(named name: String) throws(XenSMMUError) -> SMMUIndex {
    guard let index = indexByName[name] else { throw .smmu(.unknownSMMU(name)) }
    return SMMUIndex(rawValue: index)
  }

  func instance(_ smmu: SMMUIndex) throws(XenSMMUError) -> Int {
    guard instances.indices.contains(smmu.rawValue) else { throw .smmu(.unknownSMMU("#\(smmu.rawValue)")) }
    return smmu.rawValue
  }

  /// What happens to `stream` on `smmu` before stage 2 (§6.4).
  public func resolve(stream: StreamID, on smmu: SMMUIndex) throws(XenSMMUError) -> StreamOutcome {
    let index = try instance(smmu)
    return instances[index].value.outcome(instances[index].value.route(stream))
  }

  /// A transaction of `stream` on `smmu` to bus address `address`: stream
  /// matching, then for a translating context the IOTLB, then on a miss the
  /// walk of the context's p2m, whose translation fills the IOTLB.
  public func translate(stream: StreamID, on smmu: SMMUIndex, address: UInt64, access: Access) throws(XenSMMUError) -> SMMUTranslation {
    let index = try instance(smmu)
    let box = instances[index]
    switch box.value.translateFromIOTLB(stream: stream, address: address, access: access) {
    case .done(let translation):
      return translation
    case .miss(let slot):
      // Slots name live contexts only.
      let domain = box.value.contexts[slot]!.domain
      return box.value.walkAndFill(slot: slot, address: address, access: access, p2m: p2ms[domain])
    }
  }

  /// ``translate(stream:on:address:access:)`` reduced to what the master
  /// sees (a machine address or why the transaction was terminated), with
  /// the IOTLB hit inlined into the caller: the path DMA takes when the
  /// IOTLB holds the page. Anything else — a miss, a stream that faults,
  /// aborts or bypasses — goes through the full path, which walks and
  /// fills, and its answer is projected. Always equal to
  /// `CompactTranslation(translate(stream:on:address:access:))`, and counts
  /// hits and misses the same way: the IOTLB's decision is
  /// ``IOTLBSlot/probe(vmid:ipa:access:generation:)``, proved equal
  /// to the full path's decode and generic lookup for every slot content
  /// (`smmu.fast-path`); the stream's VMID and the projection are checked
  /// against the full path by `FastPathTests`.
  ///
  /// Inlinable because the IOTLB hit is a few dozen instructions and a
  /// call that cannot be inlined across the module boundary, with a
  /// non-trivial result, cost several times that (BENCHMARKS.md, SMMU).
  @inlinable @inline(__always)
  public func translateCompact(stream: StreamID, on smmu: SMMUIndex, address: UInt64, access: Access) throws(XenSMMUError) -> CompactTranslation {
    if instances.indices.contains(smmu.rawValue),
       let hit = instances[smmu.rawValue].value.cachedTranslation(stream: stream, address: address, access: access) {
      return hit
    }
    return CompactTranslation(try translate(stream: stream, on: smmu, address: address, access: access))
  }

  /// A transaction of `device` (on its first stream, as the spec's
  /// ``SMMUPlatform/resolve(_:)`` takes it). A device not behind any SMMU
  /// reaches memory untranslated (§6.4).
  public func translate(device deviceName: String, address: UInt64, access: Access) throws(XenSMMUError) -> SMMUTranslation {
    guard let entry = try entry(ofDevice: deviceName) else {
      return SMMUTranslation(address: address, stream: .untranslated, stageTwo: nil)
    }
    return try translate(stream: entry.stream, on: entry.smmu, address: address, access: access)
  }

  /// Where a device's transactions enter the SMMUs: its first stream (as
  /// the spec's ``SMMUPlatform/resolve(_:)`` takes it) on its SMMU; nil
  /// for a device not behind any SMMU.
  package func entry(ofDevice deviceName: String) throws(XenSMMUError) -> (stream: StreamID, smmu: SMMUIndex, smmuName: String)? {
    switch try device(named: deviceName).attachment {
    case .notBehindSMMU:
      return nil
    case .behindSMMU(let smmuName, let streams, _):
      guard let stream = streams.first else { throw .smmu(.noStreamIDs(device: deviceName)) }
      return (stream, try smmuIndex(named: smmuName), smmuName)
    }
  }

  /// The walk alone, without the IOTLB: what a context of `domain` would
  /// see if nothing were cached. The reference for coherence checks.
  public func walk(domain: DomainID, address: UInt64, access: Access) -> StageTwoTranslation {
    guard let p2m = p2ms[domain] else { return .fault(StageTwoFault(kind: .translation, level: 0)) }
    return ContextOutcome(stageTwoWalk(
      memory: p2m.memory, geometry: p2m.geometry, rootAddress: p2m.rootAddress, inputAddress: address, access: access)).translation
  }

  // MARK: Inspection

  /// The IOTLB of `smmu` (a copy).
  public func iotlb(of smmu: SMMUIndex) throws(XenSMMUError) -> IOTLB { instances[try instance(smmu)].value.iotlb }

  /// The registers of the context `stream` reaches on `smmu`, if any.
  public func contextRegisters(stream: StreamID, on smmu: SMMUIndex) throws(XenSMMUError) -> ContextRegisters? {
    let index = try instance(smmu)
    guard case .context(let slot) = instances[index].value.route(stream) else { return nil }
    return instances[index].value.contexts[slot]?.registers
  }

  /// IOTLB entries that disagree with the walk of their context's p2m:
  /// empty whenever Xen's flush discipline has been kept (DESIGN.md §4,
  /// `smmu.regression`). Each is described with its SMMU, VMID and page.
  public func incoherentIOTLBEntries() -> [String] {
    var found: [String] = []
    for box in instances {
      let instance = box.value
      for (vmid, page, entry) in instance.iotlb.entries {
        guard let domain = instance.domain(ofVMID: vmid) else {
          found.append("\(instance.name) vmid \(vmid) page \(hex(page)): no context has this VMID")
          continue
        }
        guard let p2m = p2ms[domain] else { continue }
        // The entry was filled by an access it allowed; walk for that one.
        let walk = stageTwoWalk(
          memory: p2m.memory, geometry: p2m.geometry, rootAddress: p2m.rootAddress, inputAddress: page << pageShift,
          access: entry.read ? .read : .write)
        let matches = !walk.faulted && walk.outputAddress & bitMask(high: 47, low: 12) == entry.outputPage
          && walk.read == entry.read && walk.write == entry.write && Int(walk.level) == entry.level
        if !matches {
          found.append("\(instance.name) vmid \(vmid) page \(hex(page)): cached \(entry), walk \(ContextOutcome(walk).translation)")
        }
      }
    }
    return found
  }
}

/// One SMMU, boxed so the platform's array of them never copies on write.
@usableFromInline
final class InstanceBox {
  /// Not checked for exclusivity at run time, because the check (a
  /// `swift_beginAccess` call per access) was a measurable part of an
  /// IOTLB hit. Static checking still applies. Sound because no access to
  /// `value` can overlap another: only `XenSMMUPlatform` reaches it, each
  /// of its accesses is one synchronous method call on the instance that
  /// calls back into nothing, and the one re-entry into the platform —
  /// a p2m's IOTLB-flush callback — runs inside ``XenSMMUPlatform/updateP2M(of:_:)``,
  /// which holds an access to the p2ms, never to a box. The platform is
  /// not `Sendable`, so there is no concurrent access either.
  @usableFromInline @exclusivity(unchecked) var value: SMMUInstance
  init(_ value: SMMUInstance) { self.value = value }
}
