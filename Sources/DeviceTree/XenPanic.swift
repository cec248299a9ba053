import Spec

/// A reason Xen stops at boot before dom0 runs.
public struct XenPanic: Hashable, Sendable {
  /// The node Xen was handling.
  public var node: String
  public var reason: String
}
