/// Which way the data flows (`enum dma_data_direction`).
public enum DMADirection: String, Hashable, Sendable, Codable, CaseIterable {
  /// `DMA_TO_DEVICE`: the device reads memory.
  case toDevice = "to-device"
  /// `DMA_FROM_DEVICE`: the device writes memory.
  case fromDevice = "from-device"

  /// The device's access to memory.
  public var deviceAccess: Access { self == .toDevice ? .read : .write }
}
