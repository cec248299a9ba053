public struct DomUDeclaration: Hashable, Sendable {
  public enum Memory: Hashable, Sendable {
    /// Machine memory at a fixed host range, mapped from `base` up.
    case at(address: UInt64, size: UInt64)
    /// Pages from the coloured allocator, from these colours.
    case coloured(colours: [Int], pages: UInt64)
  }
  public var name: String
  public var id: UInt16
  public var memory: Memory
  /// The guest-physical address of the first page.
  public var base: UInt64

  public init(name: String, id: UInt16, memory: Memory, base: UInt64) {
    self.name = name
    self.id = id
    self.memory = memory
    self.base = base
  }
}
