/// What a device tree says about DMA on a board: its IOMMUs, its host RAM,
/// and for every node whether dom0's drivers could make it master the bus,
/// and through which SMMU streams if any.
///
/// This is the input Julien asks for in the seed thread: only the
/// platform's firmware tables say which masters sit behind the SMMU, and
/// they differ per board and per firmware version.
public struct Platform: Hashable, Sendable {
  public var iommus: [PlatformIOMMU]
  /// Host RAM from the memory nodes, in blob order.
  public var ram: [RAMBank]
  /// The DTB's memory reservation block (§5.3). Xen keeps these ranges out
  /// of its heap; the model does not use them.
  public var reservations: [FlattenedDeviceTree.Reservation]
  /// Every node except the root, in blob order, each classified.
  public var devices: [PlatformDevice]
  /// What the tree leaves for the bootloader to fill in (a size-0 memory
  /// node, a zero-length `iommu-map` entry): read past, and said.
  public var warnings: [PlatformWarning] = []
  /// Node path → the source's labels for it (`&uart0`), when the tree has
  /// `/__symbols__` (a DTS compiled here always does: dtc runs with `-@`).
  package var labels: [String: [String]] = [:]

  /// The devices that dom0 gets: available, with their ancestors.
  public var enabledDevices: [PlatformDevice] { devices.filter { $0.disabledBy == nil } }

  /// The enabled DMA masters whose DMA does not go through an SMMU Xen
  /// programs, plus the unknown ones not assumed DMA-free: the devices that
  /// make dma-direct with guest-physical addresses unsafe.
  public var unsafeDevices: [PlatformDevice] {
    enabledDevices.filter { device in
      switch device.classification {
      case .unprotected, .unknown: !device.assumedNoDMA
      case .protected, .notAMaster: false
      }
    }
  }
}

/// Which IOMMU architecture a node is, from its compatible.
public enum IOMMUKind: String, Hashable, Sendable, Codable {
  /// `arm,smmu-v1`, `arm,mmu-400`, `arm,mmu-401` (iommu/arm,smmu.yaml);
  /// driven by Xen's `smmu.c` like v2.
  case smmuV1 = "smmu-v1"
  /// `arm,smmu-v2`, `arm,mmu-500`, `cavium,smmu-v2` (iommu/arm,smmu.yaml).
  case smmuV2 = "smmu-v2"
  /// `arm,smmu-v3` (iommu/arm,smmu-v3.yaml); Xen's `smmu-v3.c`.
  case smmuV3 = "smmu-v3"
  /// Any other node with `#iommu-cells` (iommu/iommu.txt): an IOMMU this
  /// tool does not model (Renesas IPMMU, vendor IOMMUs).
  case other

  static func of(_ compatibles: [String]) -> IOMMUKind? {
    for compatible in compatibles {
      switch compatible {
      case "arm,smmu-v1", "arm,mmu-400", "arm,mmu-401": return .smmuV1
      case "arm,smmu-v2", "arm,mmu-500", "cavium,smmu-v2": return .smmuV2
      case "arm,smmu-v3": return .smmuV3
      default: continue
      }
    }
    return nil
  }
}

public struct PlatformIOMMU: Hashable, Sendable {
  public var path: String
  public var name: String
  public var compatible: [String]
  public var kind: IOMMUKind
  /// `#iommu-cells`: absent on an SMMU described only by `mmu-masters`.
  public var iommuCells: UInt32?
  /// Whether its status lets Xen probe it.
  public var available: Bool
}

/// Something the tree leaves to the bootloader, at a byte offset of the
/// blob when one applies.
public struct PlatformWarning: Hashable, Sendable, CustomStringConvertible {
  public var offset: Int?
  public var message: String

  public var description: String {
    Printable.escaped("warning: " + (offset.map { "offset 0x\(String($0, radix: 16)): " } ?? "") + message)
  }
}

/// A bank of host RAM: one (address, size) pair of a memory node's `reg`
/// (§3.4 "/memory node").
public struct RAMBank: Hashable, Sendable {
  public var address: UInt64
  public var size: UInt64
  public var node: String
}

/// Which binding gave a device its stream IDs.
public enum StreamBinding: String, Hashable, Sendable, Codable {
  /// Generic `iommus = <&smmu id …>` (iommu/iommu.txt). Xen's SMMUv3
  /// driver reads it from its import (`813b3fb5fe`, 4.15); its SMMUv1/v2
  /// driver only from `2278d2cbb0` (Xen 4.16, fact sheet §6.1).
  case iommus
  /// Legacy `mmu-masters = <&master id …>` in the SMMU node, with the
  /// master's `#stream-id-cells` (iommu/arm,smmu.yaml, deprecated). The only
  /// binding Xen 4.15's SMMUv1/v2 driver reads (§6.1).
  case mmuMasters = "mmu-masters"
  /// PCI `iommu-map = <rid-base &iommu iommu-base length>` on a host bridge
  /// (pci/pci-iommu.txt): requester ID r in [rid-base, rid-base + length)
  /// emits stream iommu-base + (r − rid-base).
  case iommuMap = "iommu-map"
  /// `iommu-map` on NXP's fsl-mc bus (`fsl,qoriq-mc`, misc/fsl,qoriq-mc.yaml):
  /// the IDs are ICIDs of DPAA2 objects the Management Complex creates at
  /// run time, not PCI requester IDs. No Xen release has fsl-mc support
  /// (nothing under xen/ names it, RELEASE-4.21.0); Xen only strips the
  /// property from dom0's tree (`write_properties()`, domain_build.c), so
  /// those streams are never attached: undescribed.
  case fslMCMap = "fsl-mc iommu-map"
}

/// Stream IDs a device emits on one IOMMU, and where the DT says so.
public struct StreamAssignment: Hashable, Sendable {
  /// Path of the IOMMU node.
  public var iommu: String
  public var binding: StreamBinding
  /// For `iommus` and `mmu-masters` the IDs listed (an `iommus` specifier's
  /// first cell; a second SMMUv2 cell is an SMR mask, not an ID). For
  /// `iommu-map`, the first stream of the range (`iommu-base`).
  public var streamIDs: [UInt32]
  /// `iommu-map` only: the first requester ID and how many are mapped.
  public var requesterIDBase: UInt32?
  public var length: UInt32?
  /// A PCI function below a host bridge: its requester ID (bus, device,
  /// function from its `reg`), which the host's `iommu-map` and
  /// `iommu-map-mask` turned into ``streamIDs``; and the host bridge.
  public var requesterID: UInt32?
  public var hostBridge: String?
  /// Offset of the property that says it.
  public var offset: Int
}

/// What a node's properties and compatible say about its DMA.
public enum DMAEvidence: Hashable, Sendable, CustomStringConvertible {
  /// Stream IDs on an IOMMU.
  case streams(StreamAssignment)
  /// `#dma-cells`: a DMA controller (dma/dma-controller.yaml).
  case dmaProvider
  /// `dmas`: a client of these DMA controllers (dma/dma-common.yaml); the
  /// controller, not the client, masters the bus.
  case dmaConsumer(providers: [String])
  /// `dma-coherent` (a devicetree standard property; Linux
  /// `of_dma_is_coherent()`): only a bus master's coherency matters.
  case dmaCoherent
  /// `dma-coherent` on an ancestor bus: Linux's `of_dma_is_coherent()`
  /// walks up the DMA parents, so the node is coherent *if* it masters the
  /// bus, but the bus's property does not say that it does.
  case dmaCoherentInherited(from: String)
  /// `dma-ranges` (devicetree spec "dma-ranges"): how DMA addresses of the
  /// node's bus map to its parent's. A property of a bus, not evidence that
  /// the node itself masters it (Tegra's memory controller has one).
  case dmaRanges
  /// `device_type = "pci"`: a PCI host bridge, whose endpoints master the bus.
  case pciHostBridge
  /// A `master` rule of the bindings file (``DMABindings``) selects the node.
  case knownBusMaster(compatible: String, family: String)
  /// `--assume-dma`: the user says it masters the bus.
  case assumedByUser

  public var description: String {
    switch self {
    case .streams(let assignment):
      if let rid = assignment.requesterID, let host = assignment.hostBridge {
        "iommu-map of \(host): RID \(hex(rid)) → stream \(hex(assignment.streamIDs.first ?? 0)) on \(assignment.iommu)"
      } else if let base = assignment.requesterIDBase, let length = assignment.length, assignment.binding == .fslMCMap {
        "fsl-mc iommu-map: ICIDs \(hex(base))–\(hex(UInt64(base) + UInt64(length) - 1)) of DPAA2 objects → streams \(hex(assignment.streamIDs.first ?? 0))… on \(assignment.iommu)"
      } else if let base = assignment.requesterIDBase, let length = assignment.length {
        "iommu-map: RIDs \(hex(base))–\(hex(UInt64(base) + UInt64(length) - 1)) → streams \(hex(assignment.streamIDs.first ?? 0))… on \(assignment.iommu)"
      } else {
        "\(assignment.binding.rawValue): stream\(assignment.streamIDs.count == 1 ? "" : "s") \(assignment.streamIDs.map { hex($0) }.joined(separator: ",")) on \(assignment.iommu)"
      }
    case .dmaProvider: "#dma-cells (a DMA controller)"
    case .dmaConsumer(let providers): "dmas → \(providers.joined(separator: ", "))"
    case .dmaCoherent: "dma-coherent"
    case .dmaCoherentInherited(let from): "dma-coherent inherited from \(from)"
    case .assumedByUser: "--assume-dma: the user says it masters the bus"
    case .dmaRanges: "dma-ranges"
    case .pciHostBridge: "device_type = \"pci\" (a PCI host bridge)"
    case .knownBusMaster(let compatible, let family): "compatible \"\(compatible)\" is a known bus master (\(family))"
    }
  }

  /// Whether this shows that the node itself masters the bus.
  var showsBusMaster: Bool {
    switch self {
    case .streams, .dmaProvider, .dmaCoherent, .pciHostBridge, .knownBusMaster, .assumedByUser: true
    case .dmaConsumer, .dmaRanges, .dmaCoherentInherited: false
    }
  }
}

/// A node's DMA role.
public enum DMAClassification: Hashable, Sendable {
  /// Stream IDs on an available SMMU: Xen can attach it to dom0's context
  /// (`iommu_add_dt_device()` → `iommu_assign_dt_device()`, fact sheet §6.3).
  case protected
  /// Evidence that it masters the bus, and no stream IDs on an SMMU Xen
  /// drives: its addresses reach memory untranslated (§6.4).
  case unprotected
  /// No evidence either way: unsafe unless assumed DMA-free.
  case unknown
  /// Not a DMA master of dom0's; the reason says why.
  case notAMaster(reason: String)

  public var label: String {
    switch self {
    case .protected: "protected"
    case .unprotected: "unprotected DMA master"
    case .unknown: "unknown"
    case .notAMaster: "not a DMA master"
    }
  }
}

public struct PlatformDevice: Hashable, Sendable {
  public var path: String
  public var name: String
  public var compatible: [String]
  /// The node whose status disables this one (itself or an ancestor).
  public var disabledBy: String?
  public var classification: DMAClassification
  public var evidence: [DMAEvidence]
  /// `dma-coherent` on the node or an ancestor (`of_dma_is_coherent()`):
  /// Linux treats the device as snooping CPU caches.
  public var coherent: Bool
  /// The bindings-file rule that decided the class (`file:line` and the
  /// Linux binding or driver it cites), when one did.
  package var binding: String?
  /// Set by ``Platform/assumingNoDMA(_:)``: the user vouches that dom0
  /// never makes it master the bus.
  public var assumedNoDMA = false
  /// Offset of the node's FDT_BEGIN_NODE token.
  public var offset: Int
  /// The node has `xen,passthrough`: Xen keeps it for a guest. It does
  /// not add it to the IOMMU for dom0 and gives dom0 `status = "disabled"`
  /// (`handle_device()` and `write_properties()`,
  /// `xen/arch/arm/domain_build.c`, RELEASE-4.15.0), so it and the nodes
  /// below it have ``disabledBy`` set to it.
  public var xenPassthrough = false

  /// Stream assignments on SMMUs, from any binding.
  public var streams: [StreamAssignment] {
    evidence.compactMap { if case .streams(let assignment) = $0 { assignment } else { nil } }
  }
}
