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
