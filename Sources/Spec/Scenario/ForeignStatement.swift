public struct ForeignStatement: Hashable, Sendable {
  public var owner: String
  public var gfnAddress: UInt64
  public var hostAddress: UInt64
  public var handle: String
  public init(owner: String, gfnAddress: UInt64, hostAddress: UInt64, handle: String) {
    self.owner = owner
    self.gfnAddress = gfnAddress
    self.hostAddress = hostAddress
    self.handle = handle
  }
}
