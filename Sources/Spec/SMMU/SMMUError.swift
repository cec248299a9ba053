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
  /// `arm_smmu_find_sme()` (smmu.c, RELEASE-4.20.0 on) returns −EINVAL
  /// when the new `{id, mask}` overlaps a valid SMR without being entirely
  /// inside it: some stream would match both, a stream match conflict.
  case partialStreamMatchOverlap(device: String, smmu: String, request: StreamMatchRegister, entry: Int, existing: StreamMatchRegister)
  /// A device-tree mask wider than SMR.MASK's 15 bits.
  case streamMatchMaskOutOfRange(device: String, mask: StreamID)
  /// A mask on a device behind an SMMUv3, which has no SMRs: its stream
  /// table is indexed by the stream ID.
  case streamMatchMaskWithoutSMRs(device: String, smmu: String)
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
    case .partialStreamMatchOverlap(let device, let smmu, let request, let entry, let existing):
      "\(device): \(request) partly overlaps SME \(entry) \(existing) on \(smmu) (arm_smmu_find_sme: -EINVAL)"
    case .streamMatchMaskOutOfRange(let device, let mask): "\(device): stream-match mask \(hex(UInt64(mask))) does not fit SMR.MASK's 15 bits"
    case .streamMatchMaskWithoutSMRs(let device, let smmu): "\(device): a stream-match mask on \(smmu), an SMMUv3 without SMRs"
    case .malformedRegisters(let why): "malformed SMMU registers: \(why)"
    }
  }
}
