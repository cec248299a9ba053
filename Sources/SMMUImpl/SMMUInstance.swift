import P2MImpl
import Spec

/// A stage-2 translation context: an SMMUv2 context bank or an SMMUv3
/// STE's S2 configuration, as Xen programs it for one domain.
struct TranslationContext: Hashable, Sendable {
  let domain: DomainID
  /// SMMU-local: `cbndx + 1` (v2) or the S2VMID (v3), not the CPU's VMID.
  let vmid: Int
  /// The registers that point at the domain's p2m, nil while the domain
  /// has no p2m registered (only hand-set registers can name one).
  var registers: ContextRegisters?
}

/// The walk configuration of a context: `arm_smmu_init_context_bank()`
/// (smmu.c) writes TTBR0 = `page_to_maddr(d->arch.p2m.root)` and TTBCR
/// T0SZ = 64 − `p2m_ipa_bits`, SL0 = 2 − `P2M_ROOT_LEVEL`;
/// `arm_smmu_domain_finalise_s2()` (smmu-v3.c) writes the same into the
/// STE's S2TTB and S2VTCR (fact sheet §6.1, §6.2).
public struct ContextRegisters: Hashable, Sendable {
  public let ttbr: UInt64
  public let t0sz: Int
  public let sl0: Int
  /// The walk geometry T0SZ and SL0 select (the p2m's own).
  public let geometry: StageTwoGeometry

  init(p2m: XenP2M) {
    ttbr = p2m.rootAddress
    t0sz = p2m.geometry.t0sz
    sl0 = p2m.geometry.sl0
    geometry = p2m.geometry
  }
}

/// Where a stream goes before stage 2, in the form the hot path wants:
/// a context is an index into ``SMMUInstance/contexts``.
enum Route {
  case context(Int)
  case fault(StreamFault)
  case abort
  case bypass
}

/// One SMMU as Xen drives it, with its IOTLB.
@usableFromInline
struct SMMUInstance {
  let name: String
  let streamIDBits: Int
  var variant: Variant
  /// Context banks (v2, index = cbndx) or interned (S2VMID, domain)
  /// configurations (v3); nil for a disabled bank.
  var contexts: [TranslationContext?]
  @usableFromInline var iotlb: IOTLB
  /// Devices attached per domain: the last detach frees the context.
  var attachedDevices: [DomainID: Set<String>] = [:]
  /// The context slot and VMID of each translating stream below 2^16,
  /// rebuilt after each register change. The inlinable hit path reads the
  /// VMID here instead of ``contexts``, whose elements are not trivially
  /// copyable, so a hit copies no context.
  @usableFromInline var streamTable = StreamContextTable(streams: 0)
  /// ``XenSMMUPlatform/invalidatesReleasedS2VMIDs``.
  var invalidatesReleasedS2VMIDs = false
  /// ``SMMU/sharesMaskedStreamMatchEntries``: Xen 4.20 on writes a
  /// stream's device-tree mask into its SMR and shares entries.
  var sharesMaskedStreamMatchEntries = true
  /// ``SMMU/streamMapEntryLifetime``: when Xen allocates and frees a
  /// device's stream map entries, by release.
  var streamMapEntryLifetime = StreamMapEntryLifetime.keptOnDetach
  /// SMMUv2: each device's stream map entries (`cfg->smendx[]`), allocated
  /// on its first assignment and kept from then on (``SMMU/streamMapEntries``).
  var streamMapEntries: [String: [Int]] = [:]
  /// SMMUv2: `s2crs[idx].count` per stream map entry, as long as the SMRs.
  var streamMapEntryCounts: [Int] = []

  enum Variant {
    case v2(V2)
    case v3(V3)
  }

  struct V2 {
    var streamMatch: StreamMatchTable
    var streamToContext: [StreamToContext]
    var unidentifiedStreamFaults: Bool
  }

  struct V3 {
    /// STE per stream: 0 ABORT, 1 BYPASS, k + 2 → `contexts[k]`. A linear
    /// stream table for up to 16 SID bits (`arm_smmu_init_strtab_linear()`);
    /// wider SIDs use `sparse`, standing for the two-level table's lazily
    /// allocated L2 arrays.
    var linear: ContiguousArray<UInt32>
    var sparse: [StreamID: UInt32] = [:]
    /// S2VMIDs in use, by domain (`arm_smmu_domain_finalise_s2()`).
    var vmids: [DomainID: Int]
    let vmidBits: Int
    var contextIndex: [ContextKey: Int] = [:]
    /// Streams of `linear` whose STE translates (code ≥ 2).
    var translating: Set<StreamID> = []

    struct ContextKey: Hashable {
      let vmid: Int
      let domain: DomainID
    }

    static let abort: UInt32 = 0
    static let bypass: UInt32 = 1
  }

  /// The IOTLB's reach: at most this many entries per SMMU.
  init(_ smmu: SMMU, iotlbCapacity: Int, p2ms: [DomainID: XenP2M]) throws(XenSMMUError) {
    name = smmu.name
    streamIDBits = smmu.streamIDBits
    variant = .v2(V2(streamMatch: StreamMatchTable(smrs: [], streamIDBits: 0), streamToContext: [], unidentifiedStreamFaults: true))
    contexts = []
    iotlb = IOTLB(capacity: iotlbCapacity)
    try load(smmu.state, p2ms: p2ms)
    attachedDevices = smmu.attachedDevices
    sharesMaskedStreamMatchEntries = smmu.sharesMaskedStreamMatchEntries
    streamMapEntryLifetime = smmu.streamMapEntryLifetime
    streamMapEntries = smmu.streamMapEntries
    for (index, count) in smmu.streamMapEntryCounts where streamMapEntryCounts.indices.contains(index) {
      streamMapEntryCounts[index] = count
    }
  }

  /// Recomputes ``streamTable`` from the registers.
  ///
  /// Only streams that can reach a context are visited — those an SMR
  /// with a translating S2CR matches (v2), those whose STE translates
  /// (v3) — and only the entries set last time are cleared: a scan of all
  /// 2^16 streams on every attach and detach was the largest single cost
  /// of the fuzz loop (BENCHMARKS.md, Fuzzing).
  mutating func rebuildStreamTable() {
    let covered = 1 << min(max(streamIDBits, 0), 16)
    if streamTable.count != covered {
      streamTable = StreamContextTable(streams: covered)
    } else {
      streamTable.clear()
    }
    for stream in translatingStreams(below: UInt32(covered)) {
      if case .context(let slot) = route(stream) {
        // Routes only name live contexts.
        streamTable.set(Int(stream), slot: slot, vmid: contexts[slot]!.vmid)
      }
    }
  }

  /// A superset of the streams below `coverage` that route to a context.
  func translatingStreams(below coverage: UInt32) -> [StreamID] {
    switch variant {
    case .v2(let v2):
      var streams: [StreamID] = []
      for (entry, s2cr) in v2.streamToContext.enumerated() {
        guard case .translate = s2cr, let smr = v2.streamMatch.smrs[entry] else { continue }
        StreamMatchTable.forEachStream(matching: smr, below: coverage) { streams.append($0) }
      }
      return streams
    case .v3(let v3):
      return v3.translating.filter { $0 < coverage }
    }
  }

  /// The first half of a transaction of `stream` to `address`: the
  /// per-stream context table (else the full ``route(_:)``), then the
  /// IOTLB's one candidate through ``iotlbHit(candidates:vmid:ipa:access:)``.
  /// `.miss(slot)` leaves the walk to ``walkAndFill(slot:address:access:p2m:)``.
  @inline(__always)
  mutating func translateFromIOTLB(stream: StreamID, address: UInt64, access: Access) -> Lookup {
    let slot: Int
    if let entry = streamTable.entry(of: stream) {
      slot = Int(entry.slot)
    } else {
      let route = route(stream)
      guard case .context(let found) = route else {
        return .done(SMMUTranslation(address: address, stream: outcome(route), stageTwo: nil))
      }
      slot = found
    }
    // Slots name live contexts only.
    let context = contexts[slot]!
    guard let candidate = iotlb.candidate(vmid: context.vmid, ipa: address) else { return .miss(slot) }
    let (tagged, hit) = iotlbHit(
      candidates: CollectionOfOne(candidate), vmid: UInt64(context.vmid), ipa: address, access: access)
    guard tagged else { return .miss(slot) }
    iotlb.counters.hits += 1
    return .done(SMMUTranslation(
      address: address, stream: .context(domain: context.domain, vmid: context.vmid), stageTwo: hit.translation))
  }

  /// The hot path: the IOTLB's answer for a translating `stream` — the
  /// per-stream VMID, then ``IOTLB/hit(vmid:ipa:access:)`` — or nil for a
  /// miss, a stream that does not translate, or one beyond the table,
  /// all of which ``translateFromIOTLB(stream:address:access:)`` handles.
  @inlinable @inline(__always)
  mutating func cachedTranslation(stream: StreamID, address: UInt64, access: Access) -> CompactTranslation? {
    guard let entry = streamTable.entry(of: stream) else { return nil }
    return iotlb.hit(vmid: Int(entry.vmid), ipa: address, access: access)
  }

  enum Lookup {
    case done(SMMUTranslation)
    case miss(Int)
  }

  /// The second half on a miss: the walk of context `slot`'s p2m, whose
  /// translation fills the IOTLB (§7.3).
  mutating func walkAndFill(slot: Int, address: UInt64, access: Access, p2m: XenP2M?) -> SMMUTranslation {
    let context = contexts[slot]!
    iotlb.counters.misses += 1
    let stream = StreamOutcome.context(domain: context.domain, vmid: context.vmid)
    guard let registers = context.registers, let p2m else {
      // No tables behind the context: what the spec's reference
      // translator answers for a domain without a p2m.
      return SMMUTranslation(address: address, stream: stream, stageTwo: .fault(StageTwoFault(kind: .translation, level: 0)))
    }
    let outcome = stageTwoWalk(
      memory: p2m.memory, geometry: registers.geometry, rootAddress: registers.ttbr, inputAddress: address, access: access)
    if !outcome.faulted {
      iotlb.fill(
        vmid: context.vmid, ipa: address, outputAddress: outcome.outputAddress, read: outcome.read, write: outcome.write,
        level: Int(outcome.level))
    }
    return SMMUTranslation(address: address, stream: stream, stageTwo: ContextOutcome(outcome).translation)
  }

  /// Replaces the registers (reset state or hand-set ones), then
  /// invalidates the whole IOTLB, as `arm_smmu_device_reset()` does after
  /// programming (STLBIALL, TLBIALLNSNH).
  mutating func load(_ state: SMMU.State, p2ms: [DomainID: XenP2M]) throws(XenSMMUError) {
    defer { rebuildStreamTable() }
    switch state {
    case .v2(let registers):
      guard registers.streamMatch.count <= StreamMatchTable.maximumEntries,
            registers.streamMatch.count == registers.streamToContext.count else {
        throw .smmu(.malformedRegisters("\(registers.streamMatch.count) SMRs and \(registers.streamToContext.count) S2CRs"))
      }
      for case .translate(let bank) in registers.streamToContext where !registers.contextBanks.indices.contains(bank) {
        throw .smmu(.malformedRegisters("an S2CR names context bank \(bank) of \(registers.contextBanks.count)"))
      }
      // VMIDs are cbndx + 1; an SMMUv2 has at most 128 banks, 8-bit VMIDs.
      let vmidBits = max(8, Int.bitWidth - (registers.contextBanks.count + 1).leadingZeroBitCount)
      guard vmidBits <= 16 else { throw .smmu(.malformedRegisters("\(registers.contextBanks.count) context banks")) }
      variant = .v2(V2(
        streamMatch: StreamMatchTable(smrs: registers.streamMatch, streamIDBits: streamIDBits),
        streamToContext: registers.streamToContext, unidentifiedStreamFaults: registers.unidentifiedStreamFaults))
      // Xen's counts are its own bookkeeping, not registers: they survive
      // a load for the entries that still exist.
      streamMapEntryCounts = registers.streamMatch.indices.map { streamMapEntryCounts.indices.contains($0) ? streamMapEntryCounts[$0] : 0 }
      contexts = registers.contextBanks.enumerated().map { bank, domain in
        domain.map { TranslationContext(domain: $0, vmid: SMMUv2Registers.vmid(ofContextBank: bank), registers: p2ms[$0].map(ContextRegisters.init)) }
      }
      iotlb = IOTLB(capacity: iotlb.capacity, vmidBits: vmidBits)
    case .v3(let table):
      guard (1...16).contains(table.vmidBits) else { throw .smmu(.malformedRegisters("\(table.vmidBits)-bit VMIDs")) }
      let linearBits = min(max(streamIDBits, 0), 16)
      var v3 = V3(linear: ContiguousArray(repeating: V3.abort, count: 1 << linearBits), vmids: table.vmids, vmidBits: table.vmidBits)
      // Built aside and installed at the end, so a refusal changes nothing.
      var contexts: [TranslationContext?] = []
      for (domain, vmid) in table.vmids where !(0..<1 << table.vmidBits).contains(vmid) {
        throw .vmidOutOfRange(smmu: name, domain: domain, vmid: vmid)
      }
      for (stream, entry) in table.entries {
        switch entry {
        case .abort: v3.write(V3.abort, for: stream, linearBits: linearBits)
        case .bypass: v3.write(V3.bypass, for: stream, linearBits: linearBits)
        case .s2Translate(let vmid, let domain):
          guard (0..<1 << table.vmidBits).contains(vmid) else { throw .vmidOutOfRange(smmu: name, domain: domain, vmid: vmid) }
          let index = Self.intern(&v3, &contexts, vmid: vmid, domain: domain, registers: p2ms[domain].map(ContextRegisters.init))
          v3.write(UInt32(index + 2), for: stream, linearBits: linearBits)
        }
      }
      variant = .v3(v3)
      self.contexts = contexts
      iotlb = IOTLB(capacity: iotlb.capacity, vmidBits: table.vmidBits)
    }
  }

  static func intern(_ v3: inout V3, _ contexts: inout [TranslationContext?], vmid: Int, domain: DomainID, registers: ContextRegisters?) -> Int {
    let key = V3.ContextKey(vmid: vmid, domain: domain)
    if let index = v3.contextIndex[key] { return index }
    contexts.append(TranslationContext(domain: domain, vmid: vmid, registers: registers))
    v3.contextIndex[key] = contexts.count - 1
    return contexts.count - 1
  }

  /// Fills in the registers of contexts naming `domain` once its p2m exists.
  mutating func domainAdded(_ domain: DomainID, p2m: XenP2M) {
    for index in contexts.indices where contexts[index]?.domain == domain {
      contexts[index]?.registers = ContextRegisters(p2m: p2m)
    }
  }

  // MARK: Resolution

  /// Stream → route: one table load for the SME (v2) or the STE (v3).
  @inline(__always)
  func route(_ stream: StreamID) -> Route {
    switch variant {
    case .v2(let v2):
      let entry = v2.streamMatch.entry(for: stream)
      if entry < 0 {
        if entry == StreamMatchTable.none { return v2.unidentifiedStreamFaults ? .fault(.unidentifiedStream) : .bypass }
        return .fault(.streamMatchConflict(entries: v2.streamMatch.matchingEntries(stream)))
      }
      switch v2.streamToContext[Int(entry)] {
      case .fault: return .fault(.streamToContextFault(entry: Int(entry)))
      case .bypass: return .bypass
      case .translate(let bank):
        guard contexts[bank] != nil else { return .fault(.disabledContextBank(bank)) }
        return .context(bank)
      }
    case .v3(let v3):
      // `arm_smmu_sid_in_range()`: a SID beyond SIDSIZE has no STE.
      if streamIDBits < 32 && stream >> StreamID(streamIDBits) != 0 { return .abort }
      let code = stream < v3.linear.count ? v3.linear[Int(stream)] : v3.sparse[stream] ?? V3.abort
      switch code {
      case V3.abort: return .abort
      case V3.bypass: return .bypass
      default: return .context(Int(code - 2))
      }
    }
  }

  /// The route in the spec's vocabulary.
  func outcome(_ route: Route) -> StreamOutcome {
    switch route {
    case .context(let index):
      // Routes only name live contexts.
      let context = contexts[index]!
      return .context(domain: context.domain, vmid: context.vmid)
    case .fault(let why): return .fault(why)
    case .abort: return .abort
    case .bypass: return .bypass
    }
  }

  // MARK: Attach and detach

  /// `arm_smmu_assign_dev()` for one device's streams, `requests` being
  /// each stream with its device-tree mask. Mirrors the spec's ``SMMU``
  /// attach, allocation choices included, so VMIDs agree:
  ///
  /// SMMUv2: on the device's first assignment `arm_smmu_add_device()` →
  /// `arm_smmu_master_alloc_smes()` claims an entry per stream through
  /// ``StreamMatchTable/find(_:)`` (`arm_smmu_find_sme()`: an SMR entirely
  /// matching the request, −EINVAL on a partial overlap, else the first
  /// invalid one), writing `{id, mask}` — mask 0 before Xen 4.20 — into a
  /// claimed entry whose count is 0 and counting the claim; all streams
  /// are checked before any SMR is written. Later assignments reuse the
  /// entries as kept (`fc151829ba`). `arm_smmu_init_domain_context()` then
  /// takes the domain's existing bank or the first free
  /// (`__arm_smmu_alloc_bitmap(context_map, 0, …)`, stage 2 only) and
  /// programs it (``ContextRegisters``, VMID = cbndx + 1) — a refusal here
  /// keeps the entries, as Xen's does — and `arm_smmu_domain_add_master()`
  /// writes each entry's S2CR = TRANS | cbndx, shared entries included.
  ///
  /// Up to Xen 4.15 (``StreamMapEntryLifetime/perAttach``)
  /// `arm_smmu_master_configure_smrs()` runs at every attach, after the
  /// bank is taken: each stream gets the first SMR not allocated, written
  /// `{id, mask 0}`. In 4.16 a device given back attaches with
  /// `INVALID_SMENDX` positions, which name no register here.
  ///
  /// SMMUv3: `arm_smmu_domain_finalise_s2()` takes the lowest free S2VMID
  /// from 1 (`arm_smmu_bitmap_alloc()`: `find_first_zero_bit()`, bit 0 set
  /// at init; smmu-v3.c, 4.15 … 4.21), with no TLB invalidation, and each
  /// STE becomes S2_TRANS with
  /// S2TTB = the p2m root (`arm_smmu_write_strtab_ent()`). All checks
  /// come before any write, so a refusal changes nothing.
  mutating func attach(device: String, requests: [StreamMatchRegister], to domain: DomainID, p2m: XenP2M) throws(XenSMMUError) {
    defer { rebuildStreamTable() }
    let registers = ContextRegisters(p2m: p2m)
    switch variant {
    case .v2(var v2):
      let perAttach = streamMapEntryLifetime == .perAttach
      let entries: [Int]
      if perAttach {
        entries = []
      } else if let kept = streamMapEntries[device] {
        entries = kept
      } else {
        entries = try allocateStreamMapEntries(requests, of: device, in: &v2.streamMatch)
        streamMapEntries[device] = entries
        variant = .v2(v2)
      }
      let bank: Int
      if let existing = contexts.firstIndex(where: { $0?.domain == domain }) {
        bank = existing
      } else {
        guard let free = contexts.firstIndex(where: { $0 == nil }) else { throw .smmu(.outOfContextBanks(smmu: name)) }
        bank = free
      }
      var claimed = entries
      if perAttach {
        for _ in requests {
          guard let free = v2.streamMatch.smrs.indices.first(where: { v2.streamMatch.smrs[$0] == nil && !claimed.contains($0) }) else {
            throw .smmu(.outOfStreamMapEntries(smmu: name))
          }
          claimed.append(free)
        }
        for (index, request) in zip(claimed, requests) { v2.streamMatch.set(StreamMatchRegister(id: request.id), at: index) }
        streamMapEntries[device] = claimed
      }
      contexts[bank] = TranslationContext(domain: domain, vmid: SMMUv2Registers.vmid(ofContextBank: bank), registers: registers)
      for index in claimed where v2.streamToContext.indices.contains(index) { v2.streamToContext[index] = .translate(contextBank: bank) }
      variant = .v2(v2)
    case .v3(var v3):
      let vmid: Int
      if let existing = v3.vmids[domain] {
        vmid = existing
      } else {
        let used = Set(v3.vmids.values)
        guard let free = (1..<(1 << v3.vmidBits)).first(where: { !used.contains($0) }) else {
          throw .smmu(.outOfVMIDs(smmu: name))
        }
        vmid = free
      }
      v3.vmids[domain] = vmid
      let index = Self.intern(&v3, &contexts, vmid: vmid, domain: domain, registers: registers)
      contexts[index]?.registers = registers
      let linearBits = min(max(streamIDBits, 0), 16)
      for request in requests { v3.write(UInt32(index + 2), for: request.id, linearBits: linearBits) }
      variant = .v3(v3)
    }
    attachedDevices[domain, default: []].insert(device)
  }

  /// `arm_smmu_master_alloc_smes()`'s two loops: first every stream's
  /// entry is found against the SMRs as the earlier streams leave them
  /// (without touching `table`), then the SMRs of entries claimed at count
  /// 0 are written. Throws before any write.
  mutating func allocateStreamMapEntries(
    _ requests: [StreamMatchRegister], of device: String, in table: inout StreamMatchTable
  ) throws(XenSMMUError) -> [Int] {
    var pending: [Int: StreamMatchRegister] = [:]
    var counts = streamMapEntryCounts
    var claimed: [Int] = []
    for request in requests {
      let wanted = sharesMaskedStreamMatchEntries ? request : StreamMatchRegister(id: request.id)
      let index: Int
      switch table.find(wanted, pending: pending) {
      case .entry(let found): index = found
      case .full: throw .smmu(.outOfStreamMapEntries(smmu: name))
      case .partialOverlap(let entry):
        let existing = pending[entry] ?? table.smrs[entry] ?? wanted
        throw .smmu(.partialStreamMatchOverlap(device: device, smmu: name, request: wanted, entry: entry, existing: existing))
      }
      if counts[index] == 0 { pending[index] = wanted }
      counts[index] += 1
      claimed.append(index)
    }
    for (index, smr) in pending where table.smrs[index] != smr { table.set(smr, at: index) }
    streamMapEntryCounts = counts
    return claimed
  }

  /// `arm_smmu_deassign_dev()`. SMMUv2: each of the device's entries gets
  /// `s2cr_init_val` — S2CR = FAULT, count 0 — and keeps its SMR
  /// (`fc151829ba`; `arm_smmu_domain_remove_master()`, 4.17 … 4.21), so an
  /// entry another device shares faults for it too.
  /// SMMUv3: the STEs become ABORT (`disable_bypass`). With the domain's
  /// last device the context is freed: on an SMMUv2 with its VMID
  /// invalidated (`arm_smmu_destroy_domain_context()` "nukes the TLB"), on
  /// an SMMUv3 the S2VMID only returned to the bitmap
  /// (`arm_smmu_domain_free()`), its entries left in the IOTLB for the
  /// VMID's next owner to hit (``XenSMMUDriver/invalidatesReleasedVMID``,
  /// Xen 4.15 … 4.21). The spec has no IOTLB, so there the two diverge.
  mutating func detach(device: String, streams: [StreamID], from domain: DomainID) {
    defer { rebuildStreamTable() }
    attachedDevices[domain]?.remove(device)
    let lastDevice = attachedDevices[domain]?.isEmpty ?? true
    if lastDevice { attachedDevices[domain] = nil }
    switch variant {
    case .v2(var v2):
      let entries = streamMapEntries[device] ?? []
      for index in entries where v2.streamToContext.indices.contains(index) {
        switch streamMapEntryLifetime {
        case .keptOnDetach:
          v2.streamToContext[index] = .fault
          streamMapEntryCounts[index] = 0
        case .perAttach:
          v2.streamToContext[index] = .fault
          v2.streamMatch.set(nil, at: index)
          streamMapEntryCounts[index] = 0
        case .freedOnDetach:
          // `arm_smmu_free_sme()`: `if (--smmu->s2crs[idx].count) return false;`
          streamMapEntryCounts[index] -= 1
          if streamMapEntryCounts[index] == 0 {
            v2.streamToContext[index] = .fault
            v2.streamMatch.set(nil, at: index)
          }
        }
      }
      switch streamMapEntryLifetime {
      case .keptOnDetach: break
      case .perAttach: streamMapEntries[device] = nil
      case .freedOnDetach: streamMapEntries[device] = entries.map { _ in SMMU.invalidStreamMapEntry }
      }
      if lastDevice, let bank = contexts.firstIndex(where: { $0?.domain == domain }) {
        contexts[bank] = nil
        iotlbReleaseVMID(&iotlb, vmid: UInt64(SMMUv2Registers.vmid(ofContextBank: bank)), lastDevice: true, invalidates: XenSMMUDriver.v2.invalidatesReleasedVMID)
      }
      variant = .v2(v2)
    case .v3(var v3):
      let linearBits = min(max(streamIDBits, 0), 16)
      for stream in streams { v3.write(V3.abort, for: stream, linearBits: linearBits) }
      if lastDevice, let vmid = v3.vmids[domain] {
        v3.vmids[domain] = nil
        iotlbReleaseVMID(&iotlb, vmid: UInt64(vmid), lastDevice: true,
          invalidates: XenSMMUDriver.v3.invalidatesReleasedVMID || invalidatesReleasedS2VMIDs)
      }
      variant = .v3(v3)
    }
  }

  /// The domain whose translations the IOTLB tags with `vmid` now. On an
  /// SMMUv3 a freed S2VMID's interned context stays in ``contexts`` and
  /// the VMID may since serve another domain, so the allocation decides
  /// (hand-set stream tables may name VMIDs it does not hold).
  func domain(ofVMID vmid: Int) -> DomainID? {
    if case .v3(let v3) = variant, let holder = v3.vmids.first(where: { $0.value == vmid }) { return holder.key }
    return contexts.lazy.compactMap { $0 }.first { $0.vmid == vmid }?.domain
  }

  /// This SMMU's contexts as the generic IOTLB maintenance reads them.
  /// An SMMUv3's interned context of a freed S2VMID stays listed, so a
  /// flush of its old domain invalidates the VMID again: harmless.
  var contextWords: some Sequence<ContextWords<UInt64>> {
    contexts.lazy.map { context in
      ContextWords(live: context != nil, domain: UInt64(context?.domain.rawValue ?? 0), vmid: UInt64(context?.vmid ?? 0))
    }
  }

  /// `arm_smmu_iotlb_flush_all(d)` on this SMMU.
  mutating func flushIOTLB(of domain: DomainID) {
    iotlbFlushDomain(&iotlb, domain: UInt64(domain.rawValue), contexts: contextWords)
  }
}

extension SMMUInstance.V3 {
  mutating func write(_ code: UInt32, for stream: StreamID, linearBits: Int) {
    if stream >> StreamID(linearBits) == 0 {
      linear[Int(stream)] = code
      if code > Self.bypass { translating.insert(stream) } else { translating.remove(stream) }
    } else if code == Self.abort {
      sparse[stream] = nil
    } else {
      sparse[stream] = code
    }
  }
}
