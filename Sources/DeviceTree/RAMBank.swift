/// A bank of host RAM: one (address, size) pair of a memory node's `reg`
/// (§3.4 "/memory node").
public struct RAMBank: Hashable, Sendable {
  public var address: UInt64
  public var size: UInt64
  public var node: String
}
