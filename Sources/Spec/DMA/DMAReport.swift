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
