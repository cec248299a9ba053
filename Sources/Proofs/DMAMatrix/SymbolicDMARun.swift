import Claims
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
  /// The machine frame each device page reached.
  let touchedFrames: [SymbolicWord]
  /// Whether the transfer reaches device page k at all.
  let activePages: [SymbolicBool]

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
    let pages = state.pageCount
    let firstOffset = deviceAddress & 0xFFF
    let active = (0..<pages).map { k in k == 0 ? zero.condition(true) : firstOffset &+ size > UInt64(k) * 4096 }
    var faults: [SymbolicBool] = []
    var frames: [SymbolicWord] = []
    var ideal: [SymbolicWord] = []
    for k in 0..<pages {
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
    activePages = active
    // The device stops at its first fault (as ``performDMA`` does).
    var accessed: [SymbolicBool] = []
    var noFaultYet = zero.condition(true)
    var live = zero.condition(true)
    var correct = zero.condition(true)
    for k in 0..<pages {
      noFaultYet = noFaultYet && !faults[k]
      accessed.append(active[k] && noFaultYet)
      live = live && !(active[k] && faults[k])
      correct = correct && active[k].implies(frames[k] == ideal[k])
    }
    liveness = live
    integrity = live && correct

    // Isolation: each page's touched byte range lies inside a byte range
    // that backs the buffer or, when bounced, the slot.
    func ranges(start: SymbolicWord, frames backing: [SymbolicWord]) -> [ByteRange] {
      let startOffset = start & 0xFFF
      let end = startOffset &+ size
      return backing.enumerated().map { k, frame in
        let pageStart = UInt64(k) * 4096
        let low = k == 0 ? startOffset : zero
        let beyond = end &- pageStart
        let high = SymbolicWord.select(end > pageStart, SymbolicWord.select(beyond < 4096, beyond, zero.constant(4096)), zero)
        return (frame, low, high)
      }
    }
    let bufferFrames = try (0..<pages).map { try state.lookup(state.bufferPage &+ UInt64($0)).mfn }
    var legitimate = ranges(start: phys, frames: bufferFrames)
    let slotFrames = try (0..<pages).map { try state.lookup((slot >> 12) &+ UInt64($0)).mfn }
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
