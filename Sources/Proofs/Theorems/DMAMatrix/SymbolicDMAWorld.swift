import Claims
import Solver
import Spec
import SymbolicWord

/// The world of one matrix cell as Z3 terms, for the spec's page-level DMA
/// (``runDMAPages(_:buffer:size:path:device:options:access:ideal:maximumPages:maximumSlotPages:)``):
/// dom0's p2m and grant tree from ``SymbolicDMAState``, the SMMU's stream
/// outcome for the device from the spec's own stream resolution
/// (`SMMUPlatform.resolve`, §6.4) on the cell's concrete platform, stage 2
/// by the spec's ``referenceStageTwo(ipa:gfnLimit:entry:access:)`` at the
/// platform's IPA size, and the bounce slot by the pool's own slot search
/// on a fresh pool at the platform's pool place.
struct SymbolicDMAWorld: DMAWorld {
  let state: SymbolicDMAState
  let stream: StreamOutcome
  let pool: SwiotlbPool

  func dom0Frame(_ gfn: SymbolicWord) -> GuardedWord<SymbolicWord> {
    let entry = state.entry(gfn)
    return GuardedWord(present: entry.mapped, value: entry.mfn)
  }

  func pfnToBfn(_ pfn: SymbolicWord) -> SymbolicWord {
    GrantTree.pfnToBfn(pfn, entries: state.grantTreeEntries)
  }

  func deviceTransaction(_ busAddress: SymbolicWord, access: Access) -> GuardedWord<SymbolicWord> {
    switch stream {
    case .untranslated, .bypass:
      return GuardedWord(present: busAddress.condition(true), value: busAddress)
    case .fault, .abort:
      return .absent(busAddress)
    case .context(let domain, _):
      // The cells attach devices to dom0's context only; another domain's
      // p2m is not part of the symbolic state.
      guard domain == .dom0 else { return .absent(busAddress) }
      let outcome = referenceStageTwo(ipa: busAddress, gfnLimit: state.platform.gfnLimit, entry: state.entry, access: access)
      return GuardedWord(present: outcome.translated, value: outcome.pa)
    }
  }

  func mapBounceSlot(size: SymbolicWord) -> GuardedWord<SymbolicWord> {
    pool.firstFreeSlot(size: size, poolAddress: state.platform.poolStart << pageShift)
  }
}

/// One DMA of a matrix cell, run by the spec's page-level DMA over
/// ``SymbolicDMAWorld``: the three properties as Z3 conditions.
struct MatrixRun {
  let run: DMAPageRun<SymbolicWord>
  let path: DMAPath

  var liveness: SymbolicBool { run.liveness }
  var isolation: SymbolicBool { run.isolation }
  /// Integrity at the level of addresses: every byte moved to or from its
  /// expected machine byte. That the data then arrived is what the replay
  /// of a counterexample checks on the concrete runner.
  var integrity: SymbolicBool { run.addressIntegrity }
  var bounced: SymbolicBool { run.bounced }

  init(
    state: SymbolicDMAState, policy: DMAPolicy, device deviceClass: MatrixCell.DeviceClass
  ) throws {
    // The cell's device on the platform Xen builds (described devices
    // assigned to dom0), asked the spec which DMA ops it gets and what the
    // SMMU does with its stream; its coherence and DMA mask, and whether
    // Xen has the cache-flush hypercall, are the state's open variables.
    let (device, platform) = try Self.platform(deviceClass)
    path = try Self.path(policy: policy, device: device, platform: platform, layout: state.layout, version: state.version)
    var world = SymbolicDMAWorld(
      state: state, stream: try platform.resolve(device),
      pool: SwiotlbPool(start: GFN(0), pages: MatrixConstants.poolPages))
    let ideal = idealBuffer(world, buffer: state.bufferAddress, size: state.size, maximumPages: state.pageCount)
    run = try runDMAPages(
      &world, buffer: state.bufferAddress, size: state.size, path: path,
      device: DMADeviceModel(dmaMask: dmaBitMask(bits: state.maskBits), coherent: state.coherent == 1),
      options: DMALinuxSettings(hypercallCacheFlush: state.hypercallCacheFlush == 1, forceBounce: state.coherent.condition(false)),
      access: .write, ideal: ideal, maximumPages: state.pageCount,
      maximumSlotPages: state.pageCount)
  }

  /// The cell's device on the platform Xen builds: described devices are
  /// assigned to dom0.
  static func platform(_ deviceClass: MatrixCell.DeviceClass) throws -> (Device, SMMUPlatform) {
    let device = Device(
      name: "dev", coherent: false,
      attachment: deviceClass == .untranslated
        ? .notBehindSMMU
        : .behindSMMU(smmu: "smmu0", streamIDs: [StreamID(MatrixConstants.stream)], described: deviceClass == .attached))
    var platform = try SMMUPlatform(smmus: [.v2(name: "smmu0")], devices: [device])
    try platform.assignDescribedDevicesToDom0()
    return (device, platform)
  }

  /// The DMA ops the policy gives the device under this release: asked of
  /// the spec (`DMAPolicy.path`, with the release's feature flags).
  static func path(policy: DMAPolicy, device deviceClass: MatrixCell.DeviceClass, layout: MatrixCell.Layout, version: XenVersion) throws -> DMAPath {
    let (device, platform) = try Self.platform(deviceClass)
    return try path(policy: policy, device: device, platform: platform, layout: layout, version: version)
  }

  static func path(policy: DMAPolicy, device: Device, platform: SMMUPlatform, layout: MatrixCell.Layout, version: XenVersion) throws -> DMAPath {
    let features = XenFeatures(version: version, dom0DirectMapped: layout == .direct, iommuEnabled: true)
    return try policy.path(for: device, features: features, platform: platform)
  }

  func property(_ property: DMAProperty) -> SymbolicBool {
    switch property {
    case .integrity: integrity
    case .isolation: isolation
    case .liveness: liveness
    }
  }
}
