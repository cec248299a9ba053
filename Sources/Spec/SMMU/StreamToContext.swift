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
