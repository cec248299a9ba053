/// The SMMU architecture version of an instance. Xen drives v1/v2 with
/// `drivers/passthrough/arm/smmu.c` and v3 with `smmu-v3.c` (fact sheet §6).
public enum SMMUVersion: String, Hashable, Sendable, CaseIterable, Codable {
  case v2
  case v3
}

/// An SMMUv2 stream match register (SMR): a stream matches when its ID
/// equals `id` in every bit not set in `mask`.
public struct StreamMatchRegister: Hashable, Sendable, CustomStringConvertible {
  public var id: StreamID
  public var mask: StreamID

  public init(id: StreamID, mask: StreamID = 0) {
    self.id = id
    self.mask = mask
  }

  /// SMMUv2 architecture (ARM IHI 0062, "Stream mapping"): a transaction
  /// matches an SMR when `(streamID ^ SMR.ID) & ~SMR.MASK == 0`.
  public func matches(_ stream: StreamID) -> Bool {
    (stream ^ id) & ~mask == 0
  }

  public var description: String { "smr{id \(hex(UInt64(id))), mask \(hex(UInt64(mask)))}" }
}

/// An SMMUv2 stream-to-context register (S2CR): what a matched stream does.
public enum StreamToContext: Hashable, Sendable, CustomStringConvertible {
  /// TYPE = translation: use context bank `contextBank` (written by
  /// `arm_smmu_domain_add_master()`, smmu.c, §6.1).
  case translate(contextBank: Int)
  /// TYPE = fault: the value Xen writes to every S2CR at reset
  /// (`arm_smmu_device_reset()`) and on detach since `fc151829ba`.
  case fault
  /// TYPE = bypass: untranslated. Xen never writes it; kept so that a
  /// scenario can show what Linux's default would do.
  case bypass

  public var description: String {
    switch self {
    case .translate(let bank): "trans(cb \(bank))"
    case .fault: "fault"
    case .bypass: "bypass"
    }
  }
}

/// An SMMUv3 stream table entry, reduced to what decides a transaction.
public enum StreamTableEntry: Hashable, Sendable, CustomStringConvertible {
  /// CFG = ABORT: what Xen writes for every stream not attached to a domain
  /// because it sets `disable_bypass` (`arm_smmu_init_bypass_stes()`,
  /// `arm_smmu_write_strtab_ent(NULL, …)`, smmu-v3.c, §6.2).
  case abort
  /// CFG = BYPASS: only without `disable_bypass`; never written by Xen.
  case bypass
  /// CFG = S2_TRANS with S2VMID `vmid` and S2TTB = `domain`'s p2m root.
  case s2Translate(vmid: Int, domain: DomainID)

  public var description: String {
    switch self {
    case .abort: "abort"
    case .bypass: "bypass"
    case .s2Translate(let vmid, let domain): "s2(vmid \(vmid), \(domain))"
    }
  }
}

/// The registers of an SMMUv1/v2 that stream resolution reads.
public struct SMMUv2Registers: Hashable, Sendable {
  /// One SMR per stream map entry; nil when SMR.VALID is 0.
  public var streamMatch: [StreamMatchRegister?]
  /// One S2CR per stream map entry, same index as `streamMatch`.
  public var streamToContext: [StreamToContext]
  /// The domain whose p2m each context bank walks (TTBR0 = p2m root), nil
  /// when the bank is free (SCTLR.M = 0).
  public var contextBanks: [DomainID?]
  /// sCR0.USFCFG: an unidentified stream faults (true) or bypasses. Xen
  /// sets 1, "Unlike Linux, any access to a non-configured stream will
  /// fault" (`arm_smmu_device_reset()`, §6.1).
  public var unidentifiedStreamFaults: Bool

  /// The state `arm_smmu_device_reset()` leaves: every SMR invalid, every
  /// S2CR FAULT, every context bank disabled, USFCFG = 1.
  public init(streamMapEntries: Int, contextBanks: Int) {
    streamMatch = Array(repeating: nil, count: streamMapEntries)
    streamToContext = Array(repeating: .fault, count: streamMapEntries)
    self.contextBanks = Array(repeating: nil, count: contextBanks)
    unidentifiedStreamFaults = true
  }

  /// An arbitrary register state, for scenarios that show what the
  /// architecture does with values Xen would not write.
  /// - Throws: ``SMMUError/malformedRegisters(_:)`` when the SMR and S2CR
  ///   counts differ or an S2CR names a bank that does not exist.
  public init(
    streamMatch: [StreamMatchRegister?], streamToContext: [StreamToContext], contextBanks: [DomainID?],
    unidentifiedStreamFaults: Bool = true
  ) throws(SMMUError) {
    guard streamMatch.count == streamToContext.count else {
      throw .malformedRegisters("\(streamMatch.count) SMRs but \(streamToContext.count) S2CRs")
    }
    for case .translate(let bank) in streamToContext where !contextBanks.indices.contains(bank) {
      throw .malformedRegisters("an S2CR names context bank \(bank) of \(contextBanks.count)")
    }
    self.streamMatch = streamMatch
    self.streamToContext = streamToContext
    self.contextBanks = contextBanks
    self.unidentifiedStreamFaults = unidentifiedStreamFaults
  }

  /// `ARM_SMMU_CB_VMID(cfg) = cbndx + 1`: the SMMU-local VMID of a context
  /// bank, not the CPU's VMID of the domain (§6.1).
  public static func vmid(ofContextBank bank: Int) -> Int { bank + 1 }
}

/// The stream table of an SMMUv3, reduced to the STEs Xen has written.
public struct SMMUv3StreamTable: Hashable, Sendable {
  /// Entries written on attach; every other stream's STE is ABORT.
  public var entries: [StreamID: StreamTableEntry]
  /// S2VMIDs in use, by domain (`arm_smmu_domain_finalise_s2()`).
  public var vmids: [DomainID: Int]
  /// Width of the VMID bitmap (`smmu->vmid_bits`, 8 or 16).
  public var vmidBits: Int

  /// The state after probe with `disable_bypass`: all STEs ABORT.
  public init(vmidBits: Int = 16) {
    entries = [:]
    vmids = [:]
    self.vmidBits = vmidBits
  }

  /// The STE for `stream`: ABORT unless an attach wrote another
  /// (`arm_smmu_init_bypass_stes()` writes ABORT to all, §6.2).
  public func entry(for stream: StreamID) -> StreamTableEntry {
    entries[stream] ?? .abort
  }
}

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

/// Why a platform description or an SMMU operation was refused.
public enum SMMUError: Error, Hashable, Sendable, CustomStringConvertible {
  case unknownSMMU(String)
  case unknownDevice(String)
  case duplicateName(String)
  case noStreamIDs(device: String)
  case streamIDOutOfRange(device: String, stream: StreamID, bits: Int)
  case dmaMaskOutOfRange(device: String, bits: Int)
  /// `iommu_assign_dt_device()` needs `dt_device_is_protected()`: Xen
  /// knows no stream of an undescribed device, so it cannot attach it.
  case undescribed(device: String)
  case notBehindSMMU(device: String)
  /// `iommu_assign_dt_device()` returns −EBUSY for a device already used.
  case alreadyAttached(device: String, domain: DomainID)
  case notAttached(device: String)
  case outOfStreamMapEntries(smmu: String)
  case outOfContextBanks(smmu: String)
  case outOfVMIDs(smmu: String)
  case malformedRegisters(String)

  public var description: String {
    switch self {
    case .unknownSMMU(let name): "no SMMU called \(name)"
    case .unknownDevice(let name): "no device called \(name)"
    case .duplicateName(let name): "\(name) is declared twice"
    case .noStreamIDs(let device): "\(device) is behind an SMMU but has no stream ID"
    case .streamIDOutOfRange(let device, let stream, let bits):
      "\(device): stream \(hex(UInt64(stream))) does not fit \(bits) bits"
    case .dmaMaskOutOfRange(let device, let bits): "\(device): a DMA mask of \(bits) bits"
    case .undescribed(let device): "Xen does not know the streams of \(device)"
    case .notBehindSMMU(let device): "\(device) is not behind an SMMU"
    case .alreadyAttached(let device, let domain): "\(device) is already attached to \(domain)"
    case .notAttached(let device): "\(device) is not attached"
    case .outOfStreamMapEntries(let smmu): "\(smmu) has no free stream map entry"
    case .outOfContextBanks(let smmu): "\(smmu) has no free context bank"
    case .outOfVMIDs(let smmu): "\(smmu) has no free VMID"
    case .malformedRegisters(let why): "malformed SMMU registers: \(why)"
    }
  }
}

/// The SMMUs of a machine, the DMA masters, and which domain each master
/// is attached to (fact sheet §6, §6.3).
public struct SMMUPlatform: Hashable, Sendable {
  public private(set) var smmus: [String: SMMU]
  /// Devices in declaration order, so reports list them stably.
  public private(set) var devices: [Device]
  /// The domain each attached device's streams translate through.
  public private(set) var assignments: [String: DomainID] = [:]

  /// A platform as Xen leaves it after probing the SMMUs: nothing attached.
  /// - Throws: ``SMMUError`` for a duplicate name, a device on an unknown
  ///   SMMU, a device behind an SMMU without streams, a stream ID too wide
  ///   for its SMMU, or a DMA mask outside 1...64 bits.
  public init(smmus: [SMMU], devices: [Device]) throws(SMMUError) {
    var byName: [String: SMMU] = [:]
    for smmu in smmus {
      guard byName[smmu.name] == nil else { throw .duplicateName(smmu.name) }
      byName[smmu.name] = smmu
    }
    var seen: Set<String> = []
    for device in devices {
      guard seen.insert(device.name).inserted else { throw .duplicateName(device.name) }
      guard (1...64).contains(device.dmaMaskBits) else {
        throw .dmaMaskOutOfRange(device: device.name, bits: device.dmaMaskBits)
      }
      if case .behindSMMU(let smmuName, let streams, _) = device.attachment {
        guard let smmu = byName[smmuName] else { throw .unknownSMMU(smmuName) }
        guard !streams.isEmpty else { throw .noStreamIDs(device: device.name) }
        for stream in streams where smmu.streamIDBits < 32 && stream >> StreamID(smmu.streamIDBits) != 0 {
          throw .streamIDOutOfRange(device: device.name, stream: stream, bits: smmu.streamIDBits)
        }
      }
    }
    self.smmus = byName
    self.devices = devices
  }

  public func device(named name: String) throws(SMMUError) -> Device {
    guard let device = devices.first(where: { $0.name == name }) else { throw .unknownDevice(name) }
    return device
  }

  /// `iommu_assign_dt_device(d, dev)`: attach every stream of a described
  /// device to `domain`'s context on its SMMU.
  public mutating func attach(_ deviceName: String, to domain: DomainID) throws(SMMUError) {
    let device = try device(named: deviceName)
    guard case .behindSMMU(let smmuName, let streams, let described) = device.attachment else {
      throw .notBehindSMMU(device: deviceName)
    }
    guard described else { throw .undescribed(device: deviceName) }
    if let current = assignments[deviceName] { throw .alreadyAttached(device: deviceName, domain: current) }
    guard var smmu = smmus[smmuName] else { throw .unknownSMMU(smmuName) }
    try smmu.attach(device: deviceName, streams: streams, to: domain)
    smmus[smmuName] = smmu
    assignments[deviceName] = domain
  }

  /// `iommu_deassign_dt_device()`: the device's streams fault (v2) or abort
  /// (v3) again.
  public mutating func detach(_ deviceName: String) throws(SMMUError) {
    let device = try device(named: deviceName)
    guard case .behindSMMU(let smmuName, let streams, _) = device.attachment else {
      throw .notBehindSMMU(device: deviceName)
    }
    guard let domain = assignments[deviceName] else { throw .notAttached(device: deviceName) }
    guard var smmu = smmus[smmuName] else { throw .unknownSMMU(smmuName) }
    smmu.detach(device: deviceName, streams: streams, from: domain)
    smmus[smmuName] = smmu
    assignments[deviceName] = nil
  }

  /// What `handle_device()` (xen/arch/arm/domain_build.c, §6.3) does while
  /// building dom0: every device given to dom0 whose streams Xen knows is
  /// assigned to dom0; the others are left as they are (undescribed ones
  /// fault or abort, those not behind an SMMU are untranslated).
  public mutating func assignDescribedDevicesToDom0() throws(SMMUError) {
    for device in devices where assignments[device.name] == nil {
      if case .behindSMMU(_, _, described: true) = device.attachment {
        try attach(device.name, to: .dom0)
      }
    }
  }

  /// Replaces an SMMU's state, for scenarios that start from registers
  /// Xen would not write.
  public mutating func setState(_ state: SMMU.State, of smmuName: String) throws(SMMUError) {
    guard smmus[smmuName] != nil else { throw .unknownSMMU(smmuName) }
    smmus[smmuName]?.state = state
  }
}
