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
  ///   for its SMMU, a stream-match mask wider than 15 bits or on an
  ///   SMMUv3, or a DMA mask outside 1...64 bits.
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
        for mask in device.streamMatchMasks.prefix(streams.count) where mask != 0 {
          guard smmu.version == .v2 else { throw .streamMatchMaskWithoutSMRs(device: device.name, smmu: smmuName) }
          guard mask <= Device.streamMatchMaskLimit else { throw .streamMatchMaskOutOfRange(device: device.name, mask: mask) }
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
    guard case .behindSMMU(let smmuName, _, let described) = device.attachment else {
      throw .notBehindSMMU(device: deviceName)
    }
    guard described else { throw .undescribed(device: deviceName) }
    if let current = assignments[deviceName] { throw .alreadyAttached(device: deviceName, domain: current) }
    guard var smmu = smmus[smmuName] else { throw .unknownSMMU(smmuName) }
    // A refusal may still have changed the SMMU: Xen keeps the stream map
    // entries it allocated before running out of context banks.
    defer { smmus[smmuName] = smmu }
    try smmu.attach(device: deviceName, requests: device.streamMatchRequests, to: domain)
    assignments[deviceName] = domain
  }

  /// Whether Xen 4.16 lost `deviceName`'s stream map entries at an earlier
  /// detach (``SMMU/hasLostStreamMapEntries(_:)``).
  public func hasLostStreamMapEntries(_ deviceName: String) -> Bool {
    guard let device = devices.first(where: { $0.name == deviceName }),
      case .behindSMMU(let smmuName, _, _) = device.attachment
    else { return false }
    return smmus[smmuName]?.hasLostStreamMapEntries(deviceName) ?? false
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

  /// What `handle_device()` (xen/arch/arm/domain_build.c, §6.3; device.c
  /// from 4.19) does while building dom0: every device given to dom0 whose
  /// streams Xen knows is assigned to dom0; the others are left as they
  /// are (undescribed ones fault or abort, those not behind an SMMU are
  /// untranslated, ``Device/passthrough`` ones wait for their guest).
  public mutating func assignDescribedDevicesToDom0() throws(SMMUError) {
    for device in devices where assignments[device.name] == nil && !device.passthrough {
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
