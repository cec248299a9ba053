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
