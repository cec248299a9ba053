import P2MImpl
import Spec

/// What one DMA transaction from a stream becomes: the spec's stream
/// outcome, and for a translating context the stage-2 result — the pair
/// the spec computes with ``SMMUPlatform/resolve(_:)`` and a
/// ``StageTwoTranslator``, so the two compare with `==`.
public struct SMMUTranslation: Hashable, Sendable, CustomStringConvertible {
  /// The bus address the device issued.
  public var address: UInt64
  public var stream: StreamOutcome
  /// Present exactly when ``stream`` is a context.
  public var stageTwo: StageTwoTranslation?

  public init(address: UInt64, stream: StreamOutcome, stageTwo: StageTwoTranslation?) {
    self.address = address
    self.stream = stream
    self.stageTwo = stageTwo
  }

  /// The expected translation according to the spec: `stream` from the
  /// spec platform, stage 2 from `translate` when it is a context.
  public init(expectedFor address: UInt64, stream: StreamOutcome, access: Access, translate: StageTwoTranslator) {
    self.address = address
    self.stream = stream
    if case .context(let domain, _) = stream {
      stageTwo = translate(domain, address, access)
    } else {
      stageTwo = nil
    }
  }

  /// The machine address the transaction reaches, nil when it is
  /// terminated (a stream fault, an abort, a stage-2 fault). Untranslated
  /// and bypassed transactions reach the bus address itself (§6.4).
  public var machineAddress: UInt64? {
    switch stream {
    case .untranslated, .bypass: return address
    case .fault, .abort: return nil
    case .context:
      if case .translated(let pa) = stageTwo { return pa }
      return nil
    }
  }

  public var description: String {
    "\(hex(address)): \(stream)" + (stageTwo.map { " → \($0)" } ?? "")
  }
}

/// Why the SMMU model refused an operation.
public enum XenSMMUError: Error, Hashable, Sendable, CustomStringConvertible {
  /// What the spec's ``SMMUPlatform`` refuses, with the same value.
  case smmu(SMMUError)
  /// A p2m operation run through ``XenSMMUPlatform/updateP2M(of:_:)`` failed.
  case p2m(XenP2MError)
  /// No p2m is registered for the domain (`iommu_assign_dt_device()` on a
  /// domain that does not exist).
  case unknownDomain(DomainID)
  case duplicateDomain(DomainID)
  /// `is_iommu_enabled(d)` is false: Xen refuses to assign a device
  /// (`iommu_assign_dt_device()` returns −EINVAL without `dom_iommu(d)`'s
  /// platform ops) and would never flush the IOTLB for the p2m.
  case iommuDisabled(DomainID)
  /// A hand-set S2VMID does not fit the SMMU's VMID width.
  case vmidOutOfRange(smmu: String, domain: DomainID, vmid: Int)

  public var description: String {
    switch self {
    case .smmu(let error): error.description
    case .p2m(let error): error.description
    case .unknownDomain(let domain): "no p2m is registered for \(domain)"
    case .duplicateDomain(let domain): "\(domain) already has a p2m"
    case .iommuDisabled(let domain): "\(domain) does not have the IOMMU enabled"
    case .vmidOutOfRange(let smmu, let domain, let vmid): "\(smmu): S2VMID \(vmid) of \(domain) does not fit"
    }
  }
}
