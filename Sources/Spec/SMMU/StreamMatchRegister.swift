/// An SMMUv2 stream match register (SMR): a stream matches when its ID
/// equals `id` in every bit not set in `mask`.
public struct StreamMatchRegister: Hashable, Sendable, CustomStringConvertible {
  public var id: StreamID
  public var mask: StreamID

  public init(id: StreamID, mask: StreamID = 0) {
    self.id = id
    self.mask = mask
  }

  /// SMMUv2 architecture (ARM IHI 0062, "Stream mapping"): a transaction
  /// matches an SMR when `(streamID ^ SMR.ID) & ~SMR.MASK == 0`.
  public func matches(_ stream: StreamID) -> Bool {
    (stream ^ id) & ~mask == 0
  }

  public var description: String { "smr{id \(hex(UInt64(id))), mask \(hex(UInt64(mask)))}" }
}
