public struct GrantStatement: Hashable, Sendable {
  public var granter: String
  public var gfnAddress: UInt64
  public var hostAddress: UInt64
  public var writable: Bool
  public var handle: String
  public init(granter: String, gfnAddress: UInt64, hostAddress: UInt64, writable: Bool, handle: String) {
    self.granter = granter
    self.gfnAddress = gfnAddress
    self.hostAddress = hostAddress
    self.writable = writable
    self.handle = handle
  }
}
