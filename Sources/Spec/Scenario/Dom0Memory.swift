public enum Dom0Memory: Hashable, Sendable {
  case directMapped
  case coloured(colours: [Int])
}
