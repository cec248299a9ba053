/// The result of translating one IPA through a domain's stage-2 tables.
public enum StageTwoTranslation: Hashable, Sendable, CustomStringConvertible {
  case translated(pa: UInt64)
  case fault(StageTwoFault)

  public var description: String {
    switch self {
    case .translated(let pa): "pa \(hex(pa))"
    case .fault(let fault): "\(fault.kind) fault at level \(fault.level)"
    }
  }
}

/// How the SMMU translates an IPA for a context attached to a domain.
///
/// The DMA semantics take this as a parameter, so that the architectural
/// walk over descriptor memory (DESIGN.md §2) can be plugged in; tests use
/// ``referenceStageTwoTranslator(p2ms:)``. The p2m is the SMMU's table on
/// Arm (`iommu_use_hap_pt`, §1.6), so the domain names the tables.
public typealias StageTwoTranslator = (DomainID, _ ipa: UInt64, Access) -> StageTwoTranslation

/// A stage-2 translator read off reference p2ms: no tables, no levels.
///
/// - An IPA at or above 2^ipaBits: translation fault at level 0
///   (`p2m_get_root_pointer()` has no root for it, §1.3; level per §7.2
///   **[uncertain]**).
/// - No entry, or an entry whose hardware valid bit is 0 (Set/Way
///   tracking, §1.2): translation fault.
/// - An access the type's permissions forbid (`p2m_set_permission()`,
///   §1.1): permission fault.
/// - Otherwise the entry's MFN with the IPA's page offset.
///
/// Faults other than the out-of-range one are reported at level 3
/// **[derived: the reference p2m has no levels; where the architectural
/// walk stops depends on which tables exist, so a comparison with it
/// must not compare levels]**. A domain with no p2m faults at level 0.
public func referenceStageTwoTranslator(p2ms: [DomainID: ReferenceP2M]) -> StageTwoTranslator {
  { domain, ipa, access in
    guard let p2m = p2ms[domain], ipa >> UInt64(p2m.ipaBits) == 0 else {
      return .fault(StageTwoFault(kind: .translation, level: 0))
    }
    guard let entry = p2m.lookup(GFN(ipa >> UInt64(pageShift))), entry.hardwareValid else {
      return .fault(StageTwoFault(kind: .translation, level: 3))
    }
    guard entry.permissions.allows(access) else { return .fault(StageTwoFault(kind: .permission, level: 3)) }
    return .translated(pa: entry.mfn.address | (ipa & (pageSize - 1)))
  }
}
