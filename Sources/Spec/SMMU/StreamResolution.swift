/// Why an SMMU refused a transaction before any translation.
public enum StreamFault: Hashable, Sendable, CustomStringConvertible {
  /// No valid SMR matches and sCR0.USFCFG = 1: an unidentified stream
  /// fault (sGFSR.USF), the SMMUv2 case of an undescribed master (§6.4).
  case unidentifiedStream
  /// The matching SME's S2CR is FAULT: Xen's reset value and the state
  /// after a detach (§6.1).
  case streamToContextFault(entry: Int)
  /// More than one valid SMR matches. The SMMUv2 architecture makes this
  /// a stream match conflict (sGFSR.SMCF) and the result otherwise
  /// UNPREDICTABLE **[uncertain: modelled as a fault; an implementation
  /// may instead pick one entry]**. Xen never writes overlapping SMRs.
  case streamMatchConflict(entries: [Int])
  /// An S2CR sends the stream to a context bank that is not configured.
  /// Xen never does this; the model reports it rather than guess.
  case disabledContextBank(Int)

  public var description: String {
    switch self {
    case .unidentifiedStream: "unidentified stream (USFCFG=1)"
    case .streamToContextFault(let entry): "S2CR \(entry) is FAULT"
    case .streamMatchConflict(let entries): "stream match conflict (SMEs \(entries.map(String.init).joined(separator: ",")))"
    case .disabledContextBank(let bank): "context bank \(bank) is disabled"
    }
  }
}

/// What happens to a transaction from a stream, before stage-2 (§6.4).
public enum StreamOutcome: Hashable, Sendable, CustomStringConvertible {
  /// Not behind any SMMU: the bus address is the machine address.
  case untranslated
  /// The SMMUv2 terminates the transaction; the master sees a bus error.
  case fault(StreamFault)
  /// The SMMUv3 STE is ABORT (`disable_bypass`).
  case abort
  /// The SMMU passes the address through untranslated (S2CR or STE bypass).
  case bypass
  /// Stage-2 translation through `domain`'s p2m, under SMMU-local `vmid`.
  case context(domain: DomainID, vmid: Int)

  public var description: String {
    switch self {
    case .untranslated: "untranslated"
    case .fault(let why): "fault: \(why)"
    case .abort: "abort (STE ABORT)"
    case .bypass: "bypass"
    case .context(let domain, let vmid): "context \(domain) vmid \(vmid)"
    }
  }
}

extension SMMU {
  /// Resolves one stream ID against this SMMU's registers.
  ///
  /// SMMUv2 (ARM IHI 0062 stream mapping, with Xen's settings of §6.1):
  /// the valid SMRs matching the stream; none → USFCFG decides (Xen: 1,
  /// fault); one → its S2CR; several → stream match conflict.
  /// SMMUv3: the STE (§6.2).
  public func resolve(stream: StreamID) -> StreamOutcome {
    switch state {
    case .v2(let registers):
      let matching = registers.streamMatch.indices.filter { registers.streamMatch[$0]?.matches(stream) ?? false }
      guard let entry = matching.first else {
        return registers.unidentifiedStreamFaults ? .fault(.unidentifiedStream) : .bypass
      }
      guard matching.count == 1 else { return .fault(.streamMatchConflict(entries: matching)) }
      switch registers.streamToContext[entry] {
      case .fault: return .fault(.streamToContextFault(entry: entry))
      case .bypass: return .bypass
      case .translate(let bank):
        guard registers.contextBanks.indices.contains(bank), let domain = registers.contextBanks[bank] else {
          return .fault(.disabledContextBank(bank))
        }
        return .context(domain: domain, vmid: SMMUv2Registers.vmid(ofContextBank: bank))
      }
    case .v3(let table):
      if streamIDBits < 32 && stream >> StreamID(streamIDBits) != 0 { return .abort }
      switch table.entry(for: stream) {
      case .abort: return .abort
      case .bypass: return .bypass
      case .s2Translate(let vmid, let domain): return .context(domain: domain, vmid: vmid)
      }
    }
  }
}

extension SMMUPlatform {
  /// What happens to a DMA transaction of `device`.
  ///
  /// A master behind an SMMU is resolved by the first of its stream IDs
  /// **[derived: the model's device issues every transaction on its first
  /// stream; Xen attaches all of a device's streams together, so they
  /// agree unless a scenario sets registers by hand]**.
  public func resolve(_ device: Device) throws(SMMUError) -> StreamOutcome {
    switch device.attachment {
    case .notBehindSMMU:
      return .untranslated
    case .behindSMMU(let smmuName, let streams, _):
      guard let smmu = smmus[smmuName] else { throw .unknownSMMU(smmuName) }
      guard let stream = streams.first else { throw .noStreamIDs(device: device.name) }
      return smmu.resolve(stream: stream)
    }
  }

  /// `resolve(_:)` by device name.
  public func resolve(deviceNamed name: String) throws(SMMUError) -> StreamOutcome {
    try resolve(device(named: name))
  }

  /// Whether `device`'s DMA is translated through `domain`'s p2m: what
  /// Julien's per-device proposal would tell Linux (§0).
  public func isProtected(_ device: Device, for domain: DomainID) throws(SMMUError) -> Bool {
    if case .context(domain, _) = try resolve(device) { return true }
    return false
  }
}
