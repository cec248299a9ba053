import SMMUImpl
import Scenario
import Spec

/// The differential oracle for the SMMUs: the spec's ``SMMUPlatform`` and
/// its DMAs against `SMMUImpl.XenSMMUPlatform` walking the
/// implementation's p2m tables behind VMID-tagged IOTLBs.
///
/// - **Streams.** After dom0's boot, an attach or a detach, every stream
///   of every device resolves alike (fault, abort, bypass, or the same
///   domain's context with the same VMID). The implementation is driven
///   as Xen drives it: at boot, `handle_device()` assigns the described
///   devices to dom0, or with `iommu off` the SMMUs stay as firmware left
///   them (``ScenarioExecution/firmwareState(of:)``); `attach`/`detach`
///   are `iommu_assign_dt_device()`/`iommu_deassign_dt_device()`, refused
///   exactly when the spec refuses them.
/// - **DMAs.** Every DMA runs twice through the same Linux code and
///   judgement (``performDMA(_:policy:dom0:platform:memory:transact:)``):
///   the spec's run, and one from the same dom0 state over the
///   implementation's SMMUs (IOTLB hits included) and the implementation's
///   own machine memory. The reports must be equal, and so must the bytes
///   of every frame either run touched or should have, and of the buffer.
///   A stale IOTLB entry shows here as a DMA to the wrong frame.
/// - **IOTLB coherence.** After every operation that can change a p2m or
///   a context, and at the end, no IOTLB entry may disagree with the walk
///   of its context's tables (`incoherentIOTLBEntries()`, DESIGN.md §4
///   `smmu.regression`): a missing flush is caught at the update that
///   needed it, before any DMA uses the entry.
/// - **The fast path.** Each transaction of the implementation's DMA through
///   an SMMU is asked of the fast path (`translateCompact`, the packed IOTLB
///   probe DMA takes on a hit) and then of the full path, which by then
///   finds the same IOTLB entry through the full decode and generic lookup;
///   the two must answer alike. `smmu.fast-path` proves this for every slot
///   content; here it is judged on the states the fuzzer reaches, stream
///   resolution and the projection included.
package struct SMMUDifferentialOracle: StepOracle {
  /// dom0's DMA state before the running DMA, which the implementation's
  /// run starts from (the spec's run has since changed it).
  var dom0Before: Dom0DMAState?

  package init() {}

  package var judgesCurrentDMA: Bool { true }

  package mutating func prepare(_ step: StepContext) {
    dom0Before = nil
    if case .dma = step.statement.kind { dom0Before = step.spec.dom0DMAState }
  }

  package mutating func check(_ step: StepContext, report: StepReport) -> FuzzFailure? {
    func failure(_ property: String, _ detail: String) -> FuzzFailure {
      FuzzFailure(oracle: .smmu, property: property, stepIndex: step.index, statement: step.statement, detail: detail)
    }
    let spec = step.spec
    guard let platform = step.implementation.platform else { return nil }
    let effects = report.effects
    if effects.createdDomain?.id == .dom0 {
      if let detail = Self.boot(platform, spec: spec) { return failure("boot", detail) }
      return Self.compareStreams(spec: spec, implementation: platform).map { failure("stream", $0) }
    }
    if let assignment = effects.assignment {
      let refusal = Self.refusal { () throws(XenSMMUError) in
        if let id = assignment.domain { try platform.attach(assignment.device, to: id) } else { try platform.detach(assignment.device) }
      }
      if let detail = Self.compareRefusals(spec: report, implementation: refusal) { return failure(assignment.domain == nil ? "detach" : "attach", detail) }
      return Self.compareStreams(spec: spec, implementation: platform).map { failure("stream", $0) }
        ?? Self.checkCoherence(platform).map { failure("iotlb-coherence", $0) }
    }
    if !effects.p2mWrites.isEmpty {
      return Self.checkCoherence(platform).map { failure("iotlb-coherence", $0) }
    }
    if case .dma(let dma) = step.statement.kind {
      guard let before = dom0Before, let specPlatform = spec.smmuPlatform, let specMemory = spec.memory else { return nil }
      var dom0 = before
      let implementation = step.implementation
      let result: Result<DMAReport, DMARequestError>
      let fastPath = FastPathRecord()
      do {
        result = .success(try performDMA(
          dma.request, policy: spec.policy, dom0: &dom0, platform: specPlatform, memory: &implementation.memory,
          transact: Self.transactor(platform, fastPath: fastPath)))
      } catch {
        result = .failure(error)
      }
      if let detail = fastPath.disagreement { return failure("fast-path", detail) }
      let memory = implementation.memory
      switch (report.dma, result) {
      case (let expected?, .success(let seen)):
        if let difference = Self.difference(expected, seen) { return failure("dma-report", difference) }
        let frames = Set(expected.framesTouched + expected.framesExpected + seen.framesTouched + seen.framesExpected)
          .union(Self.bufferFrames(dma.request, dom0: before))
        return Self.compareMemory(frames.sorted(), spec: specMemory, implementation: memory).map { failure("memory", $0) }
      case (let expected?, .failure(let error)):
        return failure("dma-report", "spec ran it (\(expected.outcome.rawValue)), impl refused: \(error)")
      case (nil, .success(let seen)):
        return failure("dma-report", "spec \(report.result), impl ran it (\(seen.outcome.rawValue)): \(seen.description)")
      case (nil, .failure(let error)):
        if report.result != "refused: \(error)" { return failure("dma-report", "spec \(report.result), impl refused: \(error)") }
        return nil
      }
    }
    return nil
  }

  package mutating func finish(lastIndex: Int, spec: ScenarioExecution, implementation: ImplementationState) -> FuzzFailure? {
    guard let platform = implementation.platform, let detail = Self.checkCoherence(platform) else { return nil }
    return FuzzFailure(oracle: .smmu, property: "iotlb-coherence", afterStep: lastIndex, detail: detail)
  }

  // MARK: The implementation driven as Xen drives it

  /// dom0's boot on the implementation's SMMUs, as the spec's boot did it.
  static func boot(_ platform: XenSMMUPlatform, spec: ScenarioExecution) -> String? {
    do throws(XenSMMUError) {
      if spec.xen?.domains[.dom0]?.iommuEnabled == true {
        try platform.assignDescribedDevicesToDom0()
      } else {
        for smmu in spec.declaredSMMUs {
          let state: SMMU.State
          do { state = try spec.firmwareState(of: smmu) } catch { throw .smmu(error) }
          try platform.setState(state, of: smmu.name)
        }
      }
    } catch {
      return "the implementation refused dom0's SMMU setup: \(error)"
    }
    return nil
  }

  /// The first transaction of a DMA whose fast and full translations
  /// differed, described; set by ``transactor(_:fastPath:)``.
  final class FastPathRecord {
    var disagreement: String?
  }

  /// A device's transactions through the implementation's SMMUs:
  /// `XenSMMUPlatform.translate(device:address:access:)`, IOTLB included.
  /// Behind an SMMU the fast path answers first (filling the IOTLB on a
  /// miss, as a DMA does), then the full path, whose answer the DMA uses;
  /// the first difference is kept in `fastPath`.
  static func transactor(_ platform: XenSMMUPlatform, fastPath: FastPathRecord) -> DeviceTransactor {
    { device, busAddress, access throws(DMARequestError) in
      do throws(XenSMMUError) {
        guard let (stream, smmu, smmuName) = try platform.entry(ofDevice: device.name) else {
          let translation = try platform.translate(device: device.name, address: busAddress, access: access)
          return DeviceTransaction(stream: translation.stream, stageTwo: translation.stageTwo)
        }
        let fast = try platform.translateCompact(stream: stream, on: smmu, address: busAddress, access: access)
        let translation = try platform.translate(stream: stream, on: smmu, address: busAddress, access: access)
        let full = CompactTranslation(translation)
        if fast != full, fastPath.disagreement == nil {
          fastPath.disagreement = "\(device.name) stream \(hex(UInt64(stream))) on \(smmuName), \(access) of \(hex(busAddress)): fast path \(fast), full path \(full)"
        }
        return DeviceTransaction(stream: translation.stream, stageTwo: translation.stageTwo)
      } catch {
        throw .unknownDevice(device.name)
      }
    }
  }

  static func refusal(_ body: () throws(XenSMMUError) -> Void) -> XenSMMUError? {
    do { try body() } catch { return error }
    return nil
  }

  // MARK: Comparisons

  /// Whether both refused or both succeeded; the reasons may differ (Xen
  /// and the spec check in different orders).
  static func compareRefusals(spec: StepReport, implementation: XenSMMUError?) -> String? {
    switch (spec.succeeded, implementation) {
    case (true, let error?): "spec: \(spec.result); impl refused: \(error)"
    case (false, nil): "spec \(spec.result); impl succeeded"
    default: nil
    }
  }

  /// Every stream of every device behind an SMMU.
  static func compareStreams(spec: ScenarioExecution, implementation: XenSMMUPlatform) -> String? {
    guard let platform = spec.smmuPlatform else { return nil }
    for device in platform.devices {
      guard case .behindSMMU(let smmuName, let streams, _) = device.attachment, let smmu = platform.smmus[smmuName] else { continue }
      for stream in streams {
        let expected = smmu.resolve(stream: stream)
        let seen: StreamOutcome
        do { seen = try implementation.resolve(stream: stream, on: implementation.smmuIndex(named: smmuName)) } catch {
          return "\(device.name) stream \(hex(UInt64(stream))) on \(smmuName): spec \(expected), impl \(error)"
        }
        if seen != expected { return "\(device.name) stream \(hex(UInt64(stream))) on \(smmuName): spec \(expected), impl \(seen)" }
      }
    }
    return nil
  }

  static func checkCoherence(_ platform: XenSMMUPlatform) -> String? {
    let stale = platform.incoherentIOTLBEntries()
    guard let first = stale.first else { return nil }
    return "stale IOTLB entr\(stale.count == 1 ? "y" : "ies"): \(first)" + (stale.count > 1 ? " (and \(stale.count - 1) more)" : "")
  }

  /// The fields of two reports that differ, spec first, up to the level
  /// of a stage-2 fault (``withoutFaultLevel(_:)``).
  static func difference(_ expected: DMAReport, _ seen: DMAReport) -> String? {
    guard expected != seen else { return nil }
    let (expected, seen) = (withoutFaultLevel(expected), withoutFaultLevel(seen))
    guard expected != seen else { return nil }
    let fields = zip(Mirror(reflecting: expected).children, Mirror(reflecting: seen).children).compactMap { spec, impl in
      let (a, b) = (String(describing: spec.value), String(describing: impl.value))
      return a == b ? nil : "\(spec.label ?? "?"): spec \(a), impl \(b)"
    }
    return fields.joined(separator: "; ")
  }

  /// `report` without the level at which a stage-2 walk faulted. Where a
  /// walk stops in a hole depends on which tables exist: `XenP2M`, like
  /// Xen's `__p2m_set_entry()`, keeps a table after its last entry is
  /// removed, while the spec lays out only the tables its entries need
  /// (found by this oracle: a grant mapped and unmapped in an otherwise
  /// empty 2 MiB region faults at level 3 in the implementation, level 2
  /// in the spec). Levels are the implementation's business, as in the
  /// p2m oracle's comparison of translations.
  static func withoutFaultLevel(_ report: DMAReport) -> DMAReport {
    var report = report
    report.fault = report.fault?.replacing(#/ at level \d+/#, with: "")
    report.liveness.reason = report.liveness.reason.replacing(#/ at level \d+/#, with: "")
    return report
  }

  /// The frames backing the buffer in dom0's p2m: the runs write them
  /// (the fill, a bounce's copy back) whether or not the device touches them.
  static func bufferFrames(_ request: DMARequest, dom0: Dom0DMAState) -> [UInt64] {
    guard request.size > 0, request.size <= maximumDMASize, request.buffer <= UInt64.max - request.size else { return [] }
    return ((request.buffer >> pageShift)...((request.buffer + request.size - 1) >> pageShift)).compactMap {
      dom0.p2m.lookup(GFN($0))?.mfn.rawValue
    }
  }

  /// `==` on two pages, eight bytes at a time: `Array`'s own `==` goes
  /// byte by byte through the element's `Equatable`, and was 5 % of the
  /// fuzz loop.
  static func samePage(_ first: [UInt8], _ second: [UInt8]) -> Bool {
    first.withUnsafeBytes { a in
      second.withUnsafeBytes { b in
        guard a.count == b.count else { return false }
        if a.baseAddress == b.baseAddress { return true }
        var offset = 0
        while offset + 8 <= a.count {
          if a.loadUnaligned(fromByteOffset: offset, as: UInt64.self) != b.loadUnaligned(fromByteOffset: offset, as: UInt64.self) {
            return false
          }
          offset += 8
        }
        while offset < a.count {
          if a[offset] != b[offset] { return false }
          offset += 1
        }
        return true
      }
    }
  }

  static func compareMemory(_ frames: [UInt64], spec: MachineMemory, implementation: MachineMemory) -> String? {
    let zeros = [UInt8](repeating: 0, count: Int(pageSize))
    for frame in frames {
      let expected = spec.frames[MFN(frame)] ?? zeros
      let seen = implementation.frames[MFN(frame)] ?? zeros
      guard !samePage(expected, seen), let offset = expected.indices.first(where: { expected[$0] != seen[$0] }) else { continue }
      return "mfn \(hex(frame)) byte \(hex(UInt64(offset))): spec \(hex(UInt64(expected[offset]))), impl \(hex(UInt64(seen[offset])))"
    }
    return nil
  }
}
