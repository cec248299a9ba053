/// How a DMA ended, from the safest to the most dangerous.
public enum DMAOutcome: String, Hashable, Sendable, Codable, CaseIterable {
  /// The data reached exactly the bytes backing the buffer.
  case ok
  /// A DMA error: mapping error, stream fault or abort, stage-2 fault. The
  /// driver sees it (the bus error of §8 `04085ec1ac`).
  case fault
  /// The device touched machine bytes that do not back the buffer, or the
  /// data did not arrive, and nothing reported it: the silent wrong page.
  case corruption
}

/// How Linux mapped the buffer.
public enum DMAMappingKind: String, Hashable, Sendable, Codable {
  /// swiotlb-xen without a bounce: the device gets `xen_phys_to_bus(p)`.
  case direct
  /// swiotlb-xen through a bounce slot in the pool.
  case bounce
  /// dma-direct: the device gets `phys_to_dma(p)` = p.
  case dmaDirect = "dma-direct"
}

/// Which way the data flows (`enum dma_data_direction`).
public enum DMADirection: String, Hashable, Sendable, Codable, CaseIterable {
  /// `DMA_TO_DEVICE`: the device reads memory.
  case toDevice = "to-device"
  /// `DMA_FROM_DEVICE`: the device writes memory.
  case fromDevice = "from-device"

  /// The device's access to memory.
  public var deviceAccess: Access { self == .toDevice ? .read : .write }
}

/// A property of the ideal DMA (DESIGN.md §2), with why it holds or fails.
public struct DMAVerdict: Hashable, Sendable, Codable, CustomStringConvertible {
  public var holds: Bool
  public var reason: String

  public init(holds: Bool, reason: String) {
    self.holds = holds
    self.reason = reason
  }

  public var description: String { (holds ? "holds" : "FAILS") + ": " + reason }
}

/// Everything the scenario runner prints about one DMA, and its JSON form
/// (`Codable`, field names stable).
public struct DMAReport: Hashable, Sendable, Codable, CustomStringConvertible {
  public var policy: DMAPolicy
  public var device: String
  public var direction: DMADirection
  /// The dom0 physical address of the buffer.
  public var buffer: UInt64
  public var size: UInt64
  public var path: DMAPath
  public var mapping: DMAMappingKind
  /// The address programmed into the device; nil after a mapping error.
  public var dmaAddress: UInt64?
  /// Dom0 physical address of the bounce slot, when bounced.
  public var bounceSlot: UInt64?
  /// What the SMMU did with the device's stream; nil when the device
  /// never issued a transaction.
  public var stream: String?
  public var outcome: DMAOutcome
  /// The device read or wrote exactly the bytes backing the buffer (or its
  /// bounce slot) and the data arrived.
  public var integrity: DMAVerdict
  /// The device touched no other machine byte.
  public var isolation: DMAVerdict
  /// No fault.
  public var liveness: DMAVerdict
  /// The first fault, if any.
  public var fault: String?
  /// Machine frames the device touched, ascending.
  public var framesTouched: [UInt64]
  /// Machine frames backing the buffer (or its bounce slot), ascending.
  public var framesExpected: [UInt64]

  public var description: String {
    var lines = [
      "\(policy) \(direction) \(size) bytes at \(hex(buffer)) by \(device): \(outcome.rawValue)",
      "  path \(path.rawValue), mapping \(mapping.rawValue)"
        + (dmaAddress.map { ", dma address \(hex($0))" } ?? "")
        + (bounceSlot.map { ", bounce slot \(hex($0))" } ?? ""),
    ]
    if let stream { lines.append("  stream: \(stream)") }
    if let fault { lines.append("  fault: \(fault)") }
    lines.append("  integrity \(integrity)")
    lines.append("  isolation \(isolation)")
    lines.append("  liveness \(liveness)")
    lines.append("  frames touched \(framesTouched.map(hex)), expected \(framesExpected.map(hex))")
    return lines.joined(separator: "\n")
  }
}
