/// A stream ID: what an SMMU sees of a master on each transaction.
/// SMMUv2 stream IDs are at most 16 bits, SMMUv3 at most 32.
public typealias StreamID = UInt32

/// How a DMA master is wired to memory (fact sheet §6.4).
public enum DeviceAttachment: Hashable, Sendable, CustomStringConvertible {
  /// No SMMU in the path (the MMC controller of the RFC thread): the bus
  /// address reaches memory untranslated, and Xen cannot tell (§0, §6.4).
  case notBehindSMMU
  /// Wired to `smmu`, emitting `streamIDs`. `described` says whether the
  /// device tree gives Xen those IDs (`iommus`, or `mmu-masters` on 4.15):
  /// only then can Xen program the SMMU for it (`iommu_add_dt_device()`,
  /// xen/arch/arm/domain_build.c `handle_device()`, §6.3).
  case behindSMMU(smmu: String, streamIDs: [StreamID], described: Bool)

  public var description: String {
    switch self {
    case .notBehindSMMU: "not behind an SMMU"
    case .behindSMMU(let smmu, let ids, let described):
      "behind \(smmu) streams \(ids.map { hex(UInt64($0)) }.joined(separator: ","))"
        + (described ? "" : " (undescribed)")
    }
  }
}

/// A DMA master as dom0 Linux and the hardware see it.
public struct Device: Hashable, Sendable, CustomStringConvertible {
  public var name: String
  /// `dev_is_dma_coherent()`: the device snoops CPU caches. A non-coherent
  /// device makes `xen_arch_need_swiotlb()` bounce foreign pages when Xen
  /// lacks GNTTABOP_cache_flush (arch/arm/xen/mm.c, §3.5).
  public var coherent: Bool
  /// Width of the device's DMA mask, `DMA_BIT_MASK(n)` (1...64).
  public var dmaMaskBits: Int
  public var attachment: DeviceAttachment
  /// The SMR mask the device tree gives each stream of ``attachment``, by
  /// position; empty (or shorter) means mask 0. Only an SMMUv2 matches
  /// through masks: ``StreamMatchRegister/mask``, from a second `iommus`
  /// cell or the SMMU's `stream-match-mask` (`arm_smmu_dt_xlate_generic()`,
  /// smmu.c). Whether Xen writes it into the SMR is the release's
  /// (``XenVersion/sharesMaskedStreamMatchEntries``).
  public var streamMatchMasks: [StreamID]
  /// The node has `xen,passthrough`: Xen keeps the device for a guest, so
  /// while building dom0 `handle_device()` neither adds it to the IOMMU nor
  /// assigns it (`need_mapping = !dt_device_for_passthrough(dev)` in
  /// xen/arch/arm/domain_build.c, RELEASE-4.16.0; `own_device` in
  /// xen/arch/arm/device.c, RELEASE-4.19.0 … 4.21.0). Its first assignment
  /// is the toolstack's (`XEN_DOMCTL_assign_device` → `iommu_add_dt_device()`,
  /// `iommu_assign_dt_device()`, xen/drivers/passthrough/device_tree.c),
  /// which is when an SMMUv2 allocates its stream map entries.
  public var passthrough: Bool
  /// The `dma-ranges` of the device's bus as Linux reads them
  /// (``DMARegion``); empty: DMA addresses are physical ones.
  public var dmaRegions: [DMARegion]

  public init(
    name: String, coherent: Bool = true, dmaMaskBits: Int = 64, attachment: DeviceAttachment, streamMatchMasks: [StreamID] = [],
    passthrough: Bool = false, dmaRegions: [DMARegion] = []
  ) {
    self.dmaRegions = dmaRegions
    self.name = name
    self.coherent = coherent
    self.dmaMaskBits = dmaMaskBits
    self.attachment = attachment
    self.streamMatchMasks = streamMatchMasks
    self.passthrough = passthrough
  }

  /// `DMA_BIT_MASK(dmaMaskBits)` (include/linux/dma-mapping.h).
  public var dmaMask: UInt64 {
    dmaBitMask(bits: UInt64(clamping: max(dmaMaskBits, 0)))
  }

  public var description: String {
    var placement = attachment.description
    if case .behindSMMU(let smmu, let ids, let described) = attachment, streamMatchMasks.contains(where: { $0 != 0 }) {
      let streams = ids.indices.map { hex(UInt64(ids[$0])) + (streamMatchMask(at: $0) == 0 ? "" : "/" + hex(UInt64(streamMatchMask(at: $0)))) }
      placement = "behind \(smmu) streams \(streams.joined(separator: ","))" + (described ? "" : " (undescribed)")
    }
    let ranges = dmaRegions.isEmpty ? "" : ", dma-ranges " + dmaRegions.map(\.description).joined(separator: ",")
    return "\(name) (\(coherent ? "coherent" : "non-coherent"), \(dmaMaskBits)-bit mask, \(placement)\(passthrough ? ", passthrough" : "")\(ranges))"
  }
}

/// `DMA_BIT_MASK(n)` (include/linux/dma-mapping.h): `n == 64 ? ~0ULL :
/// (1ULL << n) - 1`. Over ``Word`` a shift by 64 gives 0, so `(1 << n) - 1`
/// is the whole macro, for any `n` from 0 to 64.
public func dmaBitMask<W: Word>(bits: W) -> W {
  (bits.constant(1).shiftedLeft(by: bits)) &- 1
}
