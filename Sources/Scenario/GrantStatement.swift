import Spec

package struct GrantStatement: Hashable, Sendable {
  package var granter: String
  package var gfnAddress: UInt64
  package var hostAddress: UInt64
  package var writable: Bool
  package var handle: String
  package init(granter: String, gfnAddress: UInt64, hostAddress: UInt64, writable: Bool, handle: String) {
    self.granter = granter
    self.gfnAddress = gfnAddress
    self.hostAddress = hostAddress
    self.writable = writable
    self.handle = handle
  }
}
