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

  /// Attaches `streams` to `domain`'s context, allocating the context on
  /// the domain's first device on this SMMU.
  ///
  /// SMMUv2 (`arm_smmu_assign_dev()` → `arm_smmu_init_domain_context()`,
  /// `arm_smmu_domain_add_master()`, smmu.c): the context bank is the first
  /// free one (`__arm_smmu_alloc_bitmap(context_map, 0, …)` for stage 2);
  /// each stream gets an SME, reused if one was kept by an earlier detach
  /// (`fc151829ba`) or else the first invalid SMR, written `{id, mask 0}`
  /// ("We don't currently share SMRs"); its S2CR becomes TRANS to the bank.
  ///
  /// SMMUv3 (`arm_smmu_attach_dev()`, `arm_smmu_domain_finalise_s2()`,
  /// smmu-v3.c): the S2VMID is the lowest free in the VMID bitmap, from 1
  /// **[uncertain: whether Xen's import reserves VMID 0; the VMID is only
  /// reported, so no outcome depends on it]**; each stream's STE becomes
  /// S2_TRANS.
  mutating func attach(device: String, streams: [StreamID], to domain: DomainID) throws(SMMUError) {
    switch state {
    case .v2(var registers):
      let bank: Int
      if let existing = registers.contextBanks.firstIndex(of: domain) {
        bank = existing
      } else {
        guard let free = registers.contextBanks.firstIndex(of: nil) else { throw .outOfContextBanks(smmu: name) }
        bank = free
      }
      var entries: [Int] = []
      var claimed = registers.streamMatch
      for stream in streams {
        let kept = claimed.indices.first { claimed[$0] == StreamMatchRegister(id: stream) }
        guard let index = kept ?? claimed.firstIndex(of: nil) else { throw .outOfStreamMapEntries(smmu: name) }
        claimed[index] = StreamMatchRegister(id: stream)
        entries.append(index)
      }
      registers.contextBanks[bank] = domain
      registers.streamMatch = claimed
      for index in entries { registers.streamToContext[index] = .translate(contextBank: bank) }
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
      for stream in streams { table.entries[stream] = .s2Translate(vmid: vmid, domain: domain) }
      state = .v3(table)
    }
    attachedDevices[domain, default: []].insert(device)
  }

  /// Detaches `streams` of `device` from `domain`.
  ///
  /// SMMUv2: S2CR back to FAULT, the SMEs kept for a later attach
  /// (`fc151829ba`, Aug 2022: freeing them caused global faults on
  /// reassignment). SMMUv3: STE back to ABORT (`arm_smmu_detach_dev()` →
  /// `arm_smmu_install_ste_for_dev()` with no domain, `disable_bypass`).
  /// The domain's context bank or VMID is freed with its last device.
  mutating func detach(device: String, streams: [StreamID], from domain: DomainID) {
    attachedDevices[domain]?.remove(device)
    let lastDevice = attachedDevices[domain]?.isEmpty ?? true
    if lastDevice { attachedDevices[domain] = nil }
    switch state {
    case .v2(var registers):
      for (index, smr) in registers.streamMatch.enumerated() {
        if let smr, streams.contains(smr.id), smr.mask == 0 { registers.streamToContext[index] = .fault }
      }
      if lastDevice, let bank = registers.contextBanks.firstIndex(of: domain) { registers.contextBanks[bank] = nil }
      state = .v2(registers)
    case .v3(var table):
      for stream in streams { table.entries[stream] = nil }
      if lastDevice { table.vmids[domain] = nil }
      state = .v3(table)
    }
  }
}
