import Spec
import SymbolicWord

/// One DMA of the state's buffer by a device, under a policy, run on
/// symbolic words through the same generic Linux code the program runs:
/// `swiotlbXenMapsDirectly` (with `xen_phys_to_bus`,
/// `range_straddles_page_boundary`, `xen_arch_need_swiotlb`,
/// `dma_capable`) and `dmaDirectAddress`; the policy's choice of path is
/// `DMAPolicy.path(for:features:platform:)` itself.
///
/// The device writes the buffer (`DMA_FROM_DEVICE`), page by page, and
/// stops at the first fault, as ``performDMA`` does.
struct SymbolicDMARun {
  let path: DMAPath
  /// The address programmed into the device.
  let deviceAddress: SymbolicWord
  /// Whether swiotlb-xen bounced (false on dma-direct).
  let bounced: SymbolicBool
  let liveness: SymbolicBool
  let integrity: SymbolicBool
  let isolation: SymbolicBool
  /// The machine frame each device page reached, and whether it was active.
  let touchedFrames: [SymbolicWord]

  init(state: SymbolicDMAState, policy: DMAPolicy, device deviceClass: MatrixCell.DeviceClass, layout: MatrixCell.Layout, xen: MatrixCell.XenFix) throws {
    let zero = state.session.constant(0)
    let phys = state.bufferAddress
    let size = state.size

    // Which DMA ops the device gets: the policy on a concrete platform with
    // this device, as Xen builds it (described devices assigned to dom0).
    let device = Device(name: "dev", coherent: false, attachment: deviceClass == .untranslated
      ? .notBehindSMMU : .behindSMMU(smmu: "smmu0", streamIDs: [StreamID(MatrixPlatform.stream)], described: deviceClass == .attached))
    var platform = try SMMUPlatform(smmus: [.v2(name: "smmu0")], devices: [device])
    try platform.assignDescribedDevicesToDom0()
    let features = XenFeatures(version: xen.version, dom0DirectMapped: layout == .direct, iommuEnabled: true)
    path = try policy.path(for: device, features: features, platform: platform)

    // The first-fit pool is fresh: the first slot is the pool's start.
    let slot = state.session.constant(MatrixPlatform.poolStart << 12)
    var source = phys
    switch path {
    case .swiotlbXen:
      let direct = swiotlbXenMapsDirectly(
        phys: phys, size: size, mask: zero.constant(.max),
        maximumPages: state.mutation == .straddleChecksFirstPageOnly ? 1 : state.pageCount + 1, hypercallCacheFlush: true,
        coherent: device.coherent, forceBounce: false, pfnToBfn: state.pfnToBfn)
      bounced = !direct
      deviceAddress = SymbolicWord.select(
        direct, xenPhysToBus(phys, pfnToBfn: state.pfnToBfn), xenPhysToBus(slot, pfnToBfn: state.pfnToBfn))
      source = SymbolicWord.select(direct, phys, slot)
    case .dmaDirect:
      bounced = zero.condition(false)
      deviceAddress = dmaDirectAddress(phys)
    }

    // Device pages: the address keeps the source's page offset, so device
    // page k carries source page k.
    let firstOffset = deviceAddress & 0xFFF
    let active = [zero.condition(true), firstOffset &+ size > 4096]
    var faults: [SymbolicBool] = []
    var frames: [SymbolicWord] = []
    var ideal: [SymbolicWord] = []
    for k in 0..<2 {
      let devicePage = (deviceAddress >> 12) &+ UInt64(k)
      switch deviceClass {
      case .attached:
        let entry = try state.lookup(devicePage)
        faults.append(!entry.mapped)
        frames.append(entry.mfn)
      case .untranslated:
        faults.append(zero.condition(false))
        frames.append(devicePage)
      case .undescribed:
        faults.append(zero.condition(true))  // USFCFG = 1 (§6.1)
        frames.append(devicePage)
      }
      ideal.append(try state.lookup((source >> 12) &+ UInt64(k)).mfn)
    }
    touchedFrames = frames
    let accessed = [active[0] && !faults[0], active[1] && !faults[0] && !faults[1]]
    liveness = !(active[0] && faults[0]) && !(active[1] && faults[1])
    integrity = liveness && active[0].implies(frames[0] == ideal[0]) && active[1].implies(frames[1] == ideal[1])

    // Isolation: each page's touched byte range lies inside a byte range
    // that backs the buffer or, when bounced, the slot.
    func ranges(start: SymbolicWord, frames backing: [SymbolicWord]) -> [ByteRange] {
      let startOffset = start & 0xFFF
      let end = startOffset &+ size
      return [
        (backing[0], startOffset, SymbolicWord.select(end < 4096, end, zero.constant(4096))),
        (backing[1], zero, SymbolicWord.select(end > 4096, end &- 4096, zero)),
      ]
    }
    let bufferFrames = [try state.lookup(state.bufferPage).mfn, try state.lookup(state.bufferPage &+ 1).mfn]
    var legitimate = ranges(start: phys, frames: bufferFrames)
    let slotFrames = [try state.lookup(slot >> 12).mfn, try state.lookup((slot >> 12) &+ 1).mfn]
    let wasBounced = bounced
    let slotRanges = ranges(start: slot, frames: slotFrames).map { range in
      (frame: range.frame, low: range.low, high: SymbolicWord.select(wasBounced, range.high, zero))
    }
    legitimate += slotRanges
    isolation = Self.contained(ranges(start: deviceAddress, frames: frames), accessed: accessed, within: legitimate)
  }

  typealias ByteRange = (frame: SymbolicWord, low: SymbolicWord, high: SymbolicWord)

  /// Every accessed page's touched range lies inside one legitimate range.
  static func contained(_ touched: [ByteRange], accessed: [SymbolicBool], within legitimate: [ByteRange]) -> SymbolicBool {
    var isolated = accessed[0].constant(true)
    for (range, wasAccessed) in zip(touched, accessed) {
      var inside = wasAccessed.constant(false)
      for candidate in legitimate {
        let sameFrame = range.frame == candidate.frame
        let within = range.low >= candidate.low && range.high <= candidate.high && candidate.low < candidate.high
        inside = inside || (sameFrame && within)
      }
      isolated = isolated && wasAccessed.implies(inside)
    }
    return isolated
  }

  func property(_ property: DMAProperty) -> SymbolicBool {
    switch property {
    case .integrity: integrity
    case .isolation: isolation
    case .liveness: liveness
    }
  }
}
