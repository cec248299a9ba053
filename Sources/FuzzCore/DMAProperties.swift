import Spec

/// The DMA properties the fuzzer requires of the spec, beyond a scenario's
/// own `expect`s: one place, so that the proofs' expectations file can
/// replace it (DESIGN.md §4 `dma.matrix`, §5).
///
/// The built-in rule, derived from the semantics (fact sheet §2.1, §3.5,
/// §3.6): **on a direct-mapped dom0 with Xen ≥ 4.15, when every device is
/// behind the SMMU and attached to dom0, every DMA of dom0 RAM, grant and
/// foreign pages is `ok`, under every policy.** Why it should hold: a
/// direct-mapped dom0's RAM has GFN = MFN; swiotlb-xen programs the MFN
/// (from the grant rbtree for grants, the GFN otherwise) and dma-direct the
/// GFN; the SMMU walks dom0's p2m, which maps a grant both at dom0's GFN
/// and, since `04085ec1ac` (4.15), at the 1:1 GFN = MFN; a foreign page is
/// reached through its dom0 GFN either way.
///
/// Its hypotheses, each of which the rule needs:
/// - every page of the buffer is mapped in dom0's p2m, hardware-valid, as
///   RAM, grant or foreign, with the permission the direction needs (a
///   device may not write a read-only grant);
/// - no raw `p2m` statement ran before: a raw update is not something Xen
///   does, and can clobber the 1:1 entries the rule relies on;
/// - every declared device is attached to dom0 (an undescribed device
///   faults, an untranslated one bypasses the p2m, one attached to a domU
///   walks the wrong p2m);
/// - no page of the buffer is a dom0 GFN where a grant or foreign map was
///   made while another grant or foreign map was live there: Linux's grant
///   rbtree then disagrees with the p2m (a foreign map over a live grant
///   leaves the grant's MFN in the tree, so swiotlb-xen programs a frame
///   the page no longer maps; found by the fuzzer). That is dom0 misusing
///   its own physmap, not the question the rule asks;
/// - dom0 never placed a grant or foreign map at a GFN that is host RAM
///   outside its own: Linux maps them in its own (ballooned) RAM or in the
///   extended regions Xen advertises, which exclude host RAM. At such a
///   GFN — a domU's MFN — the map and the 1:1 grant entry of that MFN
///   (GFN = MFN, §2.1) displace each other, and swiotlb-xen's MFN-addressed
///   DMA reaches the wrong page (found by the in-process search);
/// - for a DMA from the device, the buffer's pages map distinct frames: a
///   buffer two of whose GFNs are one machine page (a grant and a foreign
///   map of the same guest page, side by side) cannot receive distinct
///   bytes, so the ideal DMA itself is unsatisfiable and a bounced copy
///   overwrites its own first half (found by libFuzzer).
public enum DMAProperties {
  /// The rule's name in failures.
  public static let directMappedRule = "direct-mapped-dom0-ok"

  /// Whether the built-in rule covers `request` in the spec's current state.
  public static func ruleApplies(
    to request: DMARequest, spec: ScenarioExecution, rawP2MUpdates: Bool, aliased: Set<UInt64> = [],
    mappedOverForeignRAM: Bool = false
  ) -> Bool {
    guard !rawP2MUpdates, !mappedOverForeignRAM, let xen = spec.xen, let dom0 = xen.domains[.dom0], dom0.isDirectMapped,
      xen.version >= XenVersion.v4_15
    else { return false }
    let assignments = spec.deviceAssignments
    guard spec.devices.allSatisfy({ assignments[$0.name] == .dom0 }) else { return false }
    guard request.size > 0, request.buffer <= UInt64.max - request.size else { return false }
    let access = request.direction.deviceAccess
    var machineFrames: Set<MFN> = []
    for frame in (request.buffer >> 12)...((request.buffer + request.size - 1) >> 12) {
      guard !aliased.contains(frame), let entry = dom0.p2m.lookup(GFN(frame)), entry.hardwareValid,
        entry.type.isRAM || entry.type.isGrant || entry.type.isForeign, entry.permissions.allows(access)
      else { return false }
      guard machineFrames.insert(entry.mfn).inserted || request.direction == .toDevice else { return false }
    }
    return true
  }
}

/// Oracle (b) of issue 7: every DMA with an `expect` meets it, and every
/// DMA the built-in rule covers (``DMAProperties``) is `ok`.
public struct DMAPropertyOracle: StepOracle {
  var rawP2MUpdates = false
  var ruleApplies = false
  var expectation = false
  /// Live grant and foreign handles → their dom0 GFN.
  var mappings: [String: UInt64] = [:]
  /// Dom0 GFNs mapped twice over (see ``DMAProperties``).
  var aliased: Set<UInt64> = []
  /// Whether dom0 put a grant or foreign map on another domain's RAM frame
  /// number (see ``DMAProperties``).
  var mappedOverForeignRAM = false

  public var judgesCurrentDMA: Bool { ruleApplies || expectation }

  public init() {}

  public mutating func prepare(_ step: StepContext) {
    ruleApplies = false
    expectation = false
    switch step.statement.kind {
    case .p2mMap, .p2mUnmap:
      rawP2MUpdates = true
    case .grant(let grant):
      note(hostFrame: grant.hostAddress >> 12, spec: step.spec)
    case .foreign(let foreign):
      note(hostFrame: foreign.hostAddress >> 12, spec: step.spec)
    case .dma(let dma):
      ruleApplies = DMAProperties.ruleApplies(
        to: dma.request, spec: step.spec, rawP2MUpdates: rawP2MUpdates, aliased: aliased,
        mappedOverForeignRAM: mappedOverForeignRAM)
      expectation = dma.expected != nil
    default:
      break
    }
  }

  mutating func note(hostFrame frame: UInt64, spec: ScenarioExecution) {
    if mappings.values.contains(frame) { aliased.insert(frame) }
    guard let xen = spec.xen else { return }
    let hostRAM = xen.host.banks.contains { $0.contains(frame) }
    let ownRAM = xen.domains[.dom0]?.ram.contains { $0.contains(GFN(frame)) } ?? false
    if hostRAM && !ownRAM { mappedOverForeignRAM = true }
  }

  public mutating func check(_ step: StepContext, report: StepReport) -> FuzzFailure? {
    switch step.statement.kind {
    case .grant(let grant) where step.spec.isLiveGrant(grant.handle): mappings[grant.handle] = grant.hostAddress >> 12
    case .ungrant(let handle) where !step.spec.isLiveGrant(handle): mappings[handle] = nil
    case .foreign(let foreign) where step.spec.isLiveForeignMapping(foreign.handle): mappings[foreign.handle] = foreign.hostAddress >> 12
    case .unforeign(let handle) where !step.spec.isLiveForeignMapping(handle): mappings[handle] = nil
    default: break
    }
    guard case .dma(let dma) = step.statement.kind else { return nil }
    let outcome = report.dma.map { "\($0.outcome.rawValue): \($0.description)" } ?? report.result
    if let expected = dma.expected, report.expectationMet == false {
      return FuzzFailure(
        oracle: .dmaProperty, property: "expectation", stepIndex: step.index, statement: step.statement,
        detail: "expected \(expected.rawValue), got \(outcome)")
    }
    if ruleApplies && report.dma?.outcome != .ok {
      return FuzzFailure(
        oracle: .dmaProperty, property: DMAProperties.directMappedRule, stepIndex: step.index, statement: step.statement,
        detail: "direct-mapped dom0, every device attached, a RAM/grant/foreign buffer: required ok, got \(outcome)")
    }
    return nil
  }

  public func finish(lastIndex: Int, spec: ScenarioExecution, implementation: ImplementationState) -> FuzzFailure? { nil }
}
