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
