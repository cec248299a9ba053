import Spec

/// A scenario being run one statement at a time, with the spec's state
/// visible between statements.
///
/// ``ScenarioRunner/run(_:file:)`` runs a whole scenario; the differential
/// fuzzer (DESIGN.md §5) must instead compare the spec with the optimized
/// p2m after every step, so it needs the Xen state the runner builds. This
/// is the same interpreter (`ScenarioMachine`), stepped from outside.
package struct ScenarioExecution {
  var machine = ScenarioMachine()

  package init() {}

  /// Whether each ``StepReport`` carries the statement's canonical text
  /// and, for a DMA that ran, its account (``DMAReport/description``).
  /// Off, both are empty and everything else is as before: the fuzzer
  /// judges the structured report, and printing it was a tenth of each
  /// input's time (BENCHMARKS.md, Fuzzing). Refusals keep their text.
  package var describesSteps: Bool {
    get { machine.describesSteps }
    set { machine.describesSteps = newValue }
  }

  /// Executes one statement as ``ScenarioRunner/run(_:file:)`` would.
  /// - Throws: ``ScenarioError`` for a statement that cannot mean anything
  ///   here; the state is then unspecified.
  package mutating func execute(_ statement: Statement) throws(ScenarioError) -> StepReport {
    try machine.execute(statement)
  }

  /// Xen's state once dom0 exists, else nil.
  package var xen: XenState? { machine.system?.xen }

  /// The domain a scenario name refers to (`dom0`, or a declared domU).
  package func domainID(named name: String) -> DomainID? { machine.system?.domainNames[name] }

  /// Which domain each SMMU-attached device is assigned to.
  package var deviceAssignments: [String: DomainID] { machine.system?.platform.assignments ?? [:] }

  /// The declared devices.
  package var devices: [Device] { machine.declaration.devices }

  /// Grant handles currently mapped (a refused grant never becomes live).
  package func isLiveGrant(_ handle: String) -> Bool { machine.system?.grants[handle] != nil }

  /// Foreign-mapping handles currently mapped.
  package func isLiveForeignMapping(_ handle: String) -> Bool { machine.system?.foreignMaps[handle] != nil }

  // MARK: What an implementation needs to run the same DMA

  /// The SMMUs as declared, before boot touched them, driven as the
  /// declared release drives them (``SMMU/sharesMaskedStreamMatchEntries``):
  /// what an implementation probes to build its own platform.
  package var declaredSMMUs: [SMMU] { machine.declaration.smmusAsXenDrivesThem }

  /// The SMMUs and their attachments now, once dom0 exists.
  package var smmuPlatform: SMMUPlatform? { machine.system?.platform }

  /// The state `smmu` is left in when Xen does not drive it (`iommu off`),
  /// as the boot of dom0 sets it (`ScenarioMachine.Declaration.firmwareState(of:)`).
  package func firmwareState(of smmu: SMMU) throws(SMMUError) -> SMMU.State {
    try machine.declaration.firmwareState(of: smmu)
  }

  /// dom0 Linux's DMA policy.
  package var policy: DMAPolicy { machine.declaration.policy }

  /// What the next DMA starts from on dom0's side, built as the runner
  /// builds it for each `dma` statement; nil before dom0 exists.
  package var dom0DMAState: Dom0DMAState? { try? machine.system?.dom0DMAState() }

  /// Machine memory as the DMAs so far left it; nil before dom0 exists.
  package var memory: MachineMemory? { machine.system?.memory }
}
