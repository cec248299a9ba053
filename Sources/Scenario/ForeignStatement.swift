import Spec

package struct ForeignStatement: Hashable, Sendable {
  package var owner: String
  package var gfnAddress: UInt64
  package var hostAddress: UInt64
  package var handle: String
  package init(owner: String, gfnAddress: UInt64, hostAddress: UInt64, handle: String) {
    self.owner = owner
    self.gfnAddress = gfnAddress
    self.hostAddress = hostAddress
    self.handle = handle
  }
}
