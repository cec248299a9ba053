/// Stream IDs a device emits on one IOMMU, and where the DT says so.
public struct StreamAssignment: Hashable, Sendable {
  /// Path of the IOMMU node.
  public var iommu: String
  public var binding: StreamBinding
  /// For `iommus` and `mmu-masters` the IDs listed (an `iommus` specifier's
  /// first cell; a second SMMUv2 cell is an SMR mask, not an ID). For
  /// `iommu-map`, the first stream of the range (`iommu-base`).
  public var streamIDs: [UInt32]
  /// Per ID of ``streamIDs``, the SMR mask an SMMUv1/v2 `iommus` specifier
  /// gives it: the second cell, else the SMMU node's `stream-match-mask`,
  /// kept to SMR.MASK's 15 bits — what `arm_smmu_dt_xlate_generic()`
  /// (xen/drivers/passthrough/arm/smmu.c, RELEASE-4.16.0 … 4.21.0) packs
  /// into the fwid above the ID. Empty when there is none.
  public var streamMatchMasks: [UInt32] = []
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
