/// Something the tree leaves to the bootloader, at a byte offset of the
/// blob when one applies.
public struct PlatformWarning: Hashable, Sendable, CustomStringConvertible {
  public var offset: Int?
  public var message: String

  public var description: String {
    Printable.escaped("warning: " + (offset.map { "offset 0x\(String($0, radix: 16)): " } ?? "") + message)
  }
}
