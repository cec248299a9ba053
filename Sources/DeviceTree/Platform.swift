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
