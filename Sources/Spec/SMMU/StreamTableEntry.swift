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
