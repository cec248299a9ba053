import Spec

/// The board as Xen sees it, for one Xen release, build and boot: which
/// IOMMUs it drives, where each of dom0's masters sits, and whether Xen
/// gets as far as running dom0.
public struct XenView: Hashable, Sendable {
  public var owners: [String: IOMMUOwner]
  /// Per enabled DMA master of dom0's (not assumed DMA-free): its place.
  public var placements: [String: XenPlacement]
  /// Xen's `iommu_enabled`: `iommu=` is on and some IOMMU was probed
  /// (`iommu_setup()`: `iommu_enabled = (rc == 0)` where
  /// `iommu_hardware_setup()` returns −ENODEV when no driver initialised
  /// any IOMMU; `xen/drivers/passthrough/iommu.c` and `arm/iommu.c`,
  /// RELEASE-4.15.0). Off, no 1:1 grant entries are made
  /// (`gnttab_need_iommu_mapping()`, §2.1) and the RFC's flag is not set.
  public var iommuEnabled: Bool
  /// Non-empty when Xen panics building dom0: no policy matters then.
  public var panics: [XenPanic]
  /// Per SMMUv1/v2 Xen drives: the stream-map entries Xen allocates for
  /// the streams it adds, disabled nodes included.
  public var streamMapUse: [String: Int]
  /// One sentence per thing worth telling the user about Xen's view.
  public var notes: [String]
}

extension Platform {
  /// Who drives `iommu` under `config` and `version`.
  ///
  /// Xen's drivers match these compatibles (`arm_smmu_of_match` in
  /// `smmu.c`, `arm_smmu_of_match` in `smmu-v3.c`, `ipmmu_dt_match` in
  /// `ipmmu-vmsa.c`, `xen/drivers/passthrough/arm/`, RELEASE-4.15.0 and
  /// RELEASE-4.21.0): `arm,smmu-v1`, `arm,smmu-v2`, `arm,mmu-400`,
  /// `arm,mmu-401`, `arm,mmu-500`; `arm,smmu-v3`; some R-Car Gen3/Gen4
  /// IPMMUs (``ipmmuCompatibles(_:)``).
  /// `cavium,smmu-v2`, Rockchip's and NVIDIA Tegra's own IOMMUs are not
  /// among them.
  public static func owner(of iommu: PlatformIOMMU, config: XenConfig, version: XenVersion) -> IOMMUOwner {
    guard config.iommu else { return .notXen(reason: "iommu=off: Xen probes no IOMMU") }
    switch iommu.kind {
    case .smmuV1, .smmuV2:
      let xenCompatibles: Set = ["arm,smmu-v1", "arm,smmu-v2", "arm,mmu-400", "arm,mmu-401", "arm,mmu-500"]
      guard iommu.compatible.contains(where: xenCompatibles.contains) else {
        return .notXen(reason: "Xen's smmu.c matches none of its compatibles (\(iommu.compatible.joined(separator: ", ")))")
      }
      return .xen
    case .smmuV3:
      guard version >= .v4_15 else { return .notXen(reason: "Xen \(version.name) has no SMMUv3 driver (smmu-v3.c came in 4.15, 813b3fb5fe)") }
      guard config.smmuV3Driver else {
        return .notXen(reason: "Xen is built without CONFIG_ARM_SMMU_V3 (default off, needs CONFIG_EXPERT; --xen-config smmuv3=on if yours has it)")
      }
      return .xen
    case .other:
      let ipmmus = ipmmuCompatibles(version)
      if iommu.compatible.contains(where: ipmmus.contains) {
        guard config.ipmmuDriver else {
          return .notXen(reason: "Xen is built without CONFIG_IPMMU_VMSA (off unless chosen; --xen-config ipmmu=on if yours has it)")
        }
        return .xenIPMMU
      }
      return .notXen(reason: "no Xen \(version.name) driver matches \(iommu.compatible.first ?? "it") (Xen drives Arm SMMUs and some R-Car IPMMUs only)")
    }
  }

  /// The compatibles `ipmmu_dt_match` of Xen's `ipmmu-vmsa.c` lists, per
  /// release (read at RELEASE-4.13.0, 4.15.0, 4.16.0, 4.17.0, 4.19.0,
  /// 4.20.0 and 4.21.0; the driver arrived in 4.13).
  static func ipmmuCompatibles(_ version: XenVersion) -> Set<String> {
    var compatibles: Set<String> = []
    if version.minor >= 13 { compatibles.formUnion(["renesas,ipmmu-r8a7795", "renesas,ipmmu-r8a77965", "renesas,ipmmu-r8a7796"]) }
    if version.minor >= 16 { compatibles.insert("renesas,ipmmu-r8a77961") }
    if version.minor >= 17 { compatibles.insert("renesas,ipmmu-r8a779f0") }
    if version.minor >= 20 { compatibles.insert("renesas,ipmmu-r8a779g0") }
    return compatibles
  }

  /// Xen's view of the board (see ``XenView``).
  ///
  /// - Disabled nodes: dom0 Linux does not drive them, but Xen still
  ///   handles them: `handle_node()` never looks at `status`, and
  ///   `handle_device()` calls `iommu_add_dt_device()` and
  ///   `iommu_assign_dt_device()` for them (`xen/arch/arm/domain_build.c`,
  ///   RELEASE-4.15.0; `handle_device()` is in `xen/arch/arm/device.c`
  ///   from 4.18, unchanged in this at RELEASE-4.21.0). They count for the
  ///   panic and the stream-map entries below, not as masters.
  /// - `xen,passthrough` nodes: `handle_device()` skips the IOMMU for them
  ///   (`need_mapping = !dt_device_for_passthrough(dev)`) and
  ///   `write_properties()` gives dom0 `status = "disabled"`: not dom0's.
  /// - Xen 4.13–4.15 and a node with `iommus` on a Xen whose IOMMU driver is
  ///   smmu.c: `iommu_add_dt_device()` (`xen/drivers/passthrough/
  ///   device_tree.c`) returns −EINVAL because smmu.c has no `add_device`
  ///   or `dt_xlate` (its `arm_smmu_iommu_ops` gains them in 4.16,
  ///   `2278d2cbb0`), unless the node is also protected through
  ///   `mmu-masters`; `handle_device()` returns the error, `construct_dom0()`
  ///   fails and `start_xen()` (`xen/arch/arm/setup.c`) panics "Could not set
  ///   up DOM0 guest OS". 4.12 has no `iommu_add_dt_device()` call in
  ///   `handle_device()`: the node is only undescribed.
  package func xenView(_ options: ScenarioOptions) -> XenView {
    var owners: [String: IOMMUOwner] = [:]
    for iommu in iommus where iommu.available {
      owners[iommu.path] = Self.owner(of: iommu, config: options.xenConfig, version: options.xen)
    }
    let xenDriven = iommus.filter { owners[$0.path] == .xen || owners[$0.path] == .xenIPMMU }
    let iommuEnabled = !xenDriven.isEmpty
    var notes: [String] = []
    for iommu in iommus where iommu.available {
      if case .notXen(let reason)? = owners[iommu.path] { notes.append("\(iommu.path) is not Xen's: \(reason); its masters are untranslated") }
    }
    if !iommuEnabled {
      notes.append("Xen drives no IOMMU on this board: iommu_enabled is false, so no 1:1 grant entries and no XENFEAT_ARM_dom0_iommu")
    }

    var panics: [XenPanic] = []
    let smmuDriver = xenDriven.contains { $0.kind == .smmuV1 || $0.kind == .smmuV2 }
    if iommuEnabled, smmuDriver, options.xen.minor >= 13, options.xen.minor <= 15 {
      for device in devices where !device.xenPassthrough {
        let viaIOMMUs = device.streams.contains { $0.binding == .iommus }
        let viaLegacy = device.streams.contains { $0.binding == .mmuMasters && owners[$0.iommu] == .xen }
        if viaIOMMUs && !viaLegacy {
          panics.append(
            XenPanic(
              node: device.path,
              reason: "Xen \(options.xen.name) panics building dom0: \(device.path)\(device.disabledBy == nil ? "" : " (disabled, but Xen handles it too)") has 'iommus' and no 'mmu-masters' entry; smmu.c before 4.16 reads only mmu-masters, so iommu_add_dt_device() returns -EINVAL and construct_dom0() fails"))
        }
      }
    }

    // Stream-map entries. Xen allocates one per stream ID it adds: 4.15
    // per master (`arm_smmu_master_configure_smrs()` takes a free SMR from
    // a bitmap for each of `cfg->num_streamids`; "We don't currently share
    // SMRs"), from 4.16 shared when an entry already covers the ID
    // (`arm_smmu_find_sme()`, called by `arm_smmu_master_alloc_smes()`
    // from `add_device`). Out of entries both return −ENOSPC, which
    // `handle_device()` returns, so Xen panics building dom0 (smmu.c and
    // `xen/arch/arm/domain_build.c`, RELEASE-4.15.0 and RELEASE-4.16.0).
    // With 2-cell specifiers (an SMR mask) one entry may cover several
    // IDs, so no count is claimed there.
    var streamMapUse: [String: Int] = [:]
    if iommuEnabled {
      let entries = options.smmuStreamMapEntries ?? Self.defaultStreamMapEntries
      for iommu in xenDriven where (iommu.kind == .smmuV1 || iommu.kind == .smmuV2) && owners[iommu.path] == .xen {
        var perMaster = 0
        var distinct: Set<UInt32> = []
        for device in devices where !device.xenPassthrough {
          let read = device.streams.filter { $0.iommu == iommu.path && Self.isRead($0.binding, by: options.xen, on: iommu.kind, options: options) }
          var ids: Set<UInt32> = []
          for assignment in read where assignment.binding != .iommuMap { ids.formUnion(assignment.streamIDs) }
          perMaster += ids.count
          distinct.formUnion(ids)
        }
        let use = options.xen.minor >= 16 ? distinct.count : perMaster
        streamMapUse[iommu.path] = use
        if (iommu.iommuCells ?? 1) > 1 {
          notes.append("\(iommu.path) has 2-cell specifiers (SMR masks): its stream-map use is not counted")
        } else if use > entries {
          panics.append(
            XenPanic(
              node: iommu.path,
              reason: "Xen \(options.xen.name) panics building dom0: \(iommu.path) needs \(use) stream-map entries for the streams Xen adds (disabled nodes included) but has \(entries)\(options.smmuStreamMapEntries == nil ? " (the default; --smmu-stream-map-entries N gives the hardware's SMMU_IDR0.NUMSMRG)" : ""); allocating an SMR returns -ENOSPC and construct_dom0() fails"))
        }
      }
    }

    var placements: [String: XenPlacement] = [:]
    for device in enabledDevices where !device.assumedNoDMA {
      switch device.classification {
      case .notAMaster: continue
      case .unknown, .unprotected:
        // No streams on an available IOMMU (streams only on a disabled one
        // leave a master unprotected: nothing translates it).
        placements[device.path] = .untranslated
      case .protected:
        let onXens = device.streams.filter { owners[$0.iommu] == .xen || owners[$0.iommu] == .xenIPMMU }
        if let first = onXens.first {
          let kind = iommus.first { $0.path == first.iommu }?.kind ?? .other
          let here = onXens.filter { $0.iommu == first.iommu }
          let read = here.contains { Self.isRead($0.binding, by: options.xen, on: kind, options: options) }
          placements[device.path] = read ? .attached(iommu: first.iommu) : .undescribed(iommu: first.iommu)
        } else if let other = device.streams.first(where: { owners[$0.iommu] != nil }) {
          placements[device.path] = .iommuNotXens(iommu: other.iommu)
        } else {
          placements[device.path] = .untranslated
        }
      }
    }
    // A master with dma-ranges is outside the DMA matrix's scope (its
    // devices have none), so a verdict built from its cells does not cover
    // it; `platform --scenario` keeps its regions for `run`.
    for device in devices where placements[device.path] != nil {
      guard let ranges = device.dmaRanges else { continue }
      notes.append(
        "\(device.path) has dma-ranges (of \(ranges.node): \(ranges.regions.map(\.description).joined(separator: ", "))), which the DMA "
          + "matrix's devices do not: its class's verdict does not cover them; write the board with `platform --scenario` and `run` its DMAs")
    }
    return XenView(owners: owners, placements: placements, iommuEnabled: iommuEnabled, panics: panics, streamMapUse: streamMapUse, notes: notes)
  }

  /// Stream-map entries assumed for an SMMUv1/v2 when the user gives none:
  /// 128, the most `SMMU_IDR0.NUMSMRG` allows (ARM IHI 0062, SMMUv2
  /// architecture) and what an MMU-500 may be configured with.
  public static let defaultStreamMapEntries = 128
}
