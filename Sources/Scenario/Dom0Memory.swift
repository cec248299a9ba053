import Spec

package enum Dom0Memory: Hashable, Sendable {
  case directMapped
  case coloured(colours: [Int])
}
