/// One SMMU instance and its programmable state.
public struct SMMU: Hashable, Sendable, CustomStringConvertible {
  public enum State: Hashable, Sendable {
    case v2(SMMUv2Registers)
    case v3(SMMUv3StreamTable)
  }

  public let name: String
  /// Width of the stream IDs this instance accepts: 15 for an SMMUv2
  /// without EXIDS (SMR.ID is 15 bits), SIDSIZE for an SMMUv3.
  public let streamIDBits: Int
  public internal(set) var state: State
  /// Devices attached per domain, so that the last detach frees the
  /// context (`arm_smmu_destroy_iommu_domain()` on the last reference).
  public internal(set) var attachedDevices: [DomainID: Set<String>] = [:]
  /// Entries of the SMMU's TLB, when the platform states it (nil: the
  /// implementation's choice). The spec translates as if nothing were
  /// cached — what Xen's IOTLB flushes owe the guest — so only an
  /// implementation with an IOTLB reads it; a small one makes two VMIDs'
  /// entries for one page share a slot, which a large one hides.
  public var iotlbEntries: Int?
  /// Whether Xen writes a stream's device-tree mask into its SMR and lets
  /// streams share entries (``XenVersion/sharesMaskedStreamMatchEntries``:
  /// Xen 4.20 on). The scenario sets it from its `xen` release; an SMMU
  /// built in code behaves as the default release's.
  public var sharesMaskedStreamMatchEntries = XenVersion.defaultRelease.sharesMaskedStreamMatchEntries
  /// SMMUv2: when Xen allocates and frees a device's stream map entries
  /// (``XenVersion/streamMapEntryLifetime``), set from the scenario's `xen`
  /// release as ``sharesMaskedStreamMatchEntries`` is.
  public var streamMapEntryLifetime = XenVersion.defaultRelease.streamMapEntryLifetime
  /// SMMUv2: the stream map entries Xen allocated to each device, by stream
  /// position (`cfg->smendx[]`). Allocated on the device's first assignment
  /// (`arm_smmu_assign_dev()` → `arm_smmu_add_device()` →
  /// `arm_smmu_master_alloc_smes()`, 4.16 … 4.21, only while the device has
  /// no IOMMU group yet) and never freed since `fc151829ba` (4.17): detach
  /// only resets their S2CRs.
  /// Under ``StreamMapEntryLifetime/freedOnDetach`` a detached device's
  /// positions hold ``invalidStreamMapEntry``.
  public internal(set) var streamMapEntries: [String: [Int]] = [:]
  /// `INVALID_SMENDX` (smmu.c, 4.16 on): a position whose entry was freed.
  public static let invalidStreamMapEntry = -1
  /// SMMUv2: `s2crs[idx].count`, the number of streams that claimed entry
  /// `idx` since its S2CR was last reset (absent: 0). A claim of an entry
  /// whose count is 0 rewrites its SMR (`arm_smmu_master_alloc_smes()`);
  /// a detach resets the count with the S2CR (`s2cr_init_val`,
  /// `arm_smmu_domain_remove_master()`), even for an entry other devices
  /// still share.
  public internal(set) var streamMapEntryCounts: [Int: Int] = [:]

  /// An SMMUv2 after `arm_smmu_device_reset()`.
  public static func v2(name: String, streamMapEntries: Int = 16, contextBanks: Int = 8, streamIDBits: Int = 15) -> SMMU {
    SMMU(name: name, streamIDBits: streamIDBits, state: .v2(SMMUv2Registers(streamMapEntries: streamMapEntries, contextBanks: contextBanks)))
  }

  /// An SMMUv3 after probe with `disable_bypass = 1`.
  public static func v3(name: String, streamIDBits: Int = 16, vmidBits: Int = 16) -> SMMU {
    SMMU(name: name, streamIDBits: streamIDBits, state: .v3(SMMUv3StreamTable(vmidBits: vmidBits)))
  }

  /// An SMMU with an arbitrary register state.
  public init(name: String, streamIDBits: Int, state: State) {
    self.name = name
    self.streamIDBits = streamIDBits
    self.state = state
  }

  public var version: SMMUVersion {
    switch state {
    case .v2: .v2
    case .v3: .v3
    }
  }

  public var description: String { "\(name) (SMMU\(version.rawValue))" }

  /// Attaches a device's streams to `domain`'s context, allocating the
  /// context on the domain's first device on this SMMU. `requests` are the
  /// device's streams with their device-tree masks
  /// (``Device/streamMatchRequests``).
  ///
  /// SMMUv2 (`arm_smmu_assign_dev()`, smmu.c): on the device's first
  /// assignment `arm_smmu_master_alloc_smes()` finds each stream an entry
  /// (``findStreamMapEntry(for:in:)``: reuse, −EINVAL or the first free),
  /// writes the SMR of a claimed entry whose count is 0 and counts the
  /// claim; a later assignment reuses those entries as they are. Then
  /// `arm_smmu_init_domain_context()` takes the domain's bank or the first
  /// free one (`__arm_smmu_alloc_bitmap(context_map, 0, …)`, stage 2), so
  /// a refusal for want of a bank leaves the entries allocated, as Xen
  /// does; and `arm_smmu_domain_add_master()` writes each entry's S2CR =
  /// TRANS to the bank — shared entries included, so every other device
  /// whose stream matches them now translates through this domain
  /// (RELEASE-4.20.0 and 4.21.0).
  ///
  /// A refused allocation changes nothing here. **[uncertain, not
  /// modelled]** In Xen it changes two things the registers do not show:
  /// `arm_smmu_add_device()` has already given the device its IOMMU group,
  /// so the next assignment skips the allocation and writes the S2CR of
  /// `cfg->smendx[i]` = `INVALID_SMENDX` (−1); and the rollback
  /// (`arm_smmu_free_sme()`) may mark invalid, in Xen's copy only, an entry
  /// a detached device kept at count 0. The model allocates again.
  ///
  /// SMMUv3 (`arm_smmu_attach_dev()`, `arm_smmu_domain_finalise_s2()`,
  /// smmu-v3.c): the S2VMID is the lowest free in the VMID bitmap, from 1:
  /// `arm_smmu_init_strtab()` sets bit 0 at probe ("Allocate the first VMID
  /// for stage-2 bypass STEs", RELEASE-4.15.0 through 4.21.0); each
  /// stream's STE becomes S2_TRANS.
  ///
  /// Up to 4.15 (``StreamMapEntryLifetime/perAttach``) the bank is taken
  /// first and each stream then gets the first unallocated entry, written
  /// `{id, mask 0}`, so a refusal changes nothing. In 4.16 a device given
  /// back keeps `INVALID_SMENDX` positions: nothing is matched for it
  /// (``hasLostStreamMapEntries(_:)``).
  mutating func attach(device: String, requests: [StreamMatchRegister], to domain: DomainID) throws(SMMUError) {
    switch state {
    case .v2(var registers) where streamMapEntryLifetime == .perAttach:
      let bank = try contextBank(for: domain, in: registers)
      var claimed: [Int] = []
      for _ in requests {
        guard let free = registers.streamMatch.indices.first(where: { registers.streamMatch[$0] == nil && !claimed.contains($0) }) else {
          throw .outOfStreamMapEntries(smmu: name)
        }
        claimed.append(free)
      }
      for (index, request) in zip(claimed, requests) {
        registers.streamMatch[index] = StreamMatchRegister(id: request.id)
        registers.streamToContext[index] = .translate(contextBank: bank)
      }
      registers.contextBanks[bank] = domain
      streamMapEntries[device] = claimed
      state = .v2(registers)
    case .v2(var registers):
      let entries: [Int]
      if let kept = streamMapEntries[device] {
        entries = kept
      } else {
        var smrs = registers.streamMatch
        var counts = streamMapEntryCounts
        var claimed: [Int] = []
        for request in requests {
          let wanted = sharesMaskedStreamMatchEntries ? request : StreamMatchRegister(id: request.id)
          let index: Int
          switch Self.findStreamMapEntry(for: wanted, in: smrs) {
          case .entry(let found): index = found
          case .full: throw .outOfStreamMapEntries(smmu: name)
          case .partialOverlap(let entry):
            throw .partialStreamMatchOverlap(device: device, smmu: name, request: wanted, entry: entry, existing: smrs[entry] ?? wanted)
          }
          if counts[index, default: 0] == 0 { smrs[index] = wanted }
          counts[index, default: 0] += 1
          claimed.append(index)
        }
        registers.streamMatch = smrs
        streamMapEntryCounts = counts
        streamMapEntries[device] = claimed
        state = .v2(registers)
        entries = claimed
      }
      let bank = try contextBank(for: domain, in: registers)
      registers.contextBanks[bank] = domain
      for index in entries where registers.streamToContext.indices.contains(index) {
        registers.streamToContext[index] = .translate(contextBank: bank)
      }
      state = .v2(registers)
    case .v3(var table):
      let vmid: Int
      if let existing = table.vmids[domain] {
        vmid = existing
      } else {
        let used = Set(table.vmids.values)
        guard let free = (1..<(1 << table.vmidBits)).first(where: { !used.contains($0) }) else {
          throw .outOfVMIDs(smmu: name)
        }
        vmid = free
      }
      table.vmids[domain] = vmid
      for request in requests { table.entries[request.id] = .s2Translate(vmid: vmid, domain: domain) }
      state = .v3(table)
    }
    attachedDevices[domain, default: []].insert(device)
  }

  /// `arm_smmu_init_domain_context()`'s bank: the domain's own, or the
  /// first free one (`__arm_smmu_alloc_bitmap(context_map, 0, …)`).
  func contextBank(for domain: DomainID, in registers: SMMUv2Registers) throws(SMMUError) -> Int {
    if let existing = registers.contextBanks.firstIndex(of: domain) { return existing }
    guard let free = registers.contextBanks.firstIndex(of: nil) else { throw .outOfContextBanks(smmu: name) }
    return free
  }

  /// Detaches `streams` of `device` from `domain`.
  ///
  /// SMMUv2 up to 4.15: S2CR = FAULT and the SMR invalid, its index free
  /// (``StreamMapEntryLifetime/perAttach``). In 4.16 each entry's count is
  /// decremented and one reaching 0 gets S2CR = FAULT and an invalid SMR
  /// (`arm_smmu_free_sme()`); every position becomes `INVALID_SMENDX`
  /// (``StreamMapEntryLifetime/freedOnDetach``). From 4.17:
  /// SMMUv2: the S2CR of each of the device's entries back to
  /// `s2cr_init_val` — FAULT, count 0 — and the SMRs kept for a later
  /// attach (`fc151829ba`, Aug 2022: freeing them caused global faults on
  /// reassignment; `arm_smmu_detach_dev()` → `arm_smmu_domain_remove_master()`,
  /// RELEASE-4.17.0 … 4.21.0). An entry another device shares faults for
  /// that device too. SMMUv3: STE back to ABORT (`arm_smmu_detach_dev()` →
  /// `arm_smmu_install_ste_for_dev()` with no domain, `disable_bypass`).
  /// The domain's context bank or VMID is freed with its last device.
  mutating func detach(device: String, streams: [StreamID], from domain: DomainID) {
    attachedDevices[domain]?.remove(device)
    let lastDevice = attachedDevices[domain]?.isEmpty ?? true
    if lastDevice { attachedDevices[domain] = nil }
    switch state {
    case .v2(var registers):
      let entries = streamMapEntries[device] ?? []
      for index in entries where registers.streamToContext.indices.contains(index) {
        switch streamMapEntryLifetime {
        case .keptOnDetach:
          registers.streamToContext[index] = .fault
          streamMapEntryCounts[index] = nil
        case .perAttach:
          registers.streamToContext[index] = .fault
          registers.streamMatch[index] = nil
          streamMapEntryCounts[index] = nil
        case .freedOnDetach:
          // `if (--smmu->s2crs[idx].count) return false;`
          let count = streamMapEntryCounts[index, default: 0] - 1
          if count != 0 {
            streamMapEntryCounts[index] = count
          } else {
            registers.streamToContext[index] = .fault
            registers.streamMatch[index] = nil
            streamMapEntryCounts[index] = nil
          }
        }
      }
      switch streamMapEntryLifetime {
      case .keptOnDetach: break
      case .perAttach: streamMapEntries[device] = nil
      case .freedOnDetach: streamMapEntries[device] = entries.map { _ in Self.invalidStreamMapEntry }
      }
      if lastDevice, let bank = registers.contextBanks.firstIndex(of: domain) { registers.contextBanks[bank] = nil }
      state = .v2(registers)
    case .v3(var table):
      for stream in streams { table.entries[stream] = nil }
      if lastDevice { table.vmids[domain] = nil }
      state = .v3(table)
    }
  }

  /// Whether Xen 4.16 freed `device`'s stream map entries at a detach and
  /// kept its IOMMU group: every later attach writes `s2crs[-1]` (out of
  /// bounds) and leaves its streams unmatched
  /// (``StreamMapEntryLifetime/freedOnDetach``).
  public func hasLostStreamMapEntries(_ device: String) -> Bool {
    streamMapEntries[device]?.contains(Self.invalidStreamMapEntry) ?? false
  }
}
