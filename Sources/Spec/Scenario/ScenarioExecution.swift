/// A scenario being run one statement at a time, with the spec's state
/// visible between statements.
///
/// ``ScenarioRunner/run(_:file:)`` runs a whole scenario; the differential
/// fuzzer (DESIGN.md §5) must instead compare the spec with the optimized
/// p2m after every step, so it needs the Xen state the runner builds. This
/// is the same interpreter (`ScenarioMachine`), stepped from outside.
public struct ScenarioExecution {
  var machine = ScenarioMachine()

  public init() {}

  /// Executes one statement as ``ScenarioRunner/run(_:file:)`` would.
  /// - Throws: ``ScenarioError`` for a statement that cannot mean anything
  ///   here; the state is then unspecified.
  public mutating func execute(_ statement: Statement) throws(ScenarioError) -> StepReport {
    try machine.execute(statement)
  }

  /// Xen's state once dom0 exists, else nil.
  public var xen: XenState? { machine.system?.xen }

  /// The domain a scenario name refers to (`dom0`, or a declared domU).
  public func domainID(named name: String) -> DomainID? { machine.system?.domainNames[name] }

  /// Which domain each SMMU-attached device is assigned to.
  public var deviceAssignments: [String: DomainID] { machine.system?.platform.assignments ?? [:] }

  /// The declared devices.
  public var devices: [Device] { machine.devices }

  /// Grant handles currently mapped (a refused grant never becomes live).
  public func isLiveGrant(_ handle: String) -> Bool { machine.system?.grants[handle] != nil }

  /// Foreign-mapping handles currently mapped.
  public func isLiveForeignMapping(_ handle: String) -> Bool { machine.system?.foreignMaps[handle] != nil }
}
