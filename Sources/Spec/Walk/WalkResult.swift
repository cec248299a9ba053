/// A concrete walk's outcome, read back into the spec's vocabulary.
public enum WalkResult: Hashable, Sendable, CustomStringConvertible {
  /// The access reaches `address`, through a leaf at `level` granting
  /// `permissions` (execute = !XN) and carrying Xen's p2m `type` (nil when
  /// the software bits are not a `p2m_type_t`).
  case translated(address: UInt64, level: Int, permissions: Permissions, type: P2MType?)
  case fault(StageTwoFault)

  public var description: String {
    switch self {
    case .translated(let address, let level, let permissions, let type):
      "\(hex(address)) via L\(level) \(permissions) \(type.map(\.xenName) ?? "untyped")"
    case .fault(let fault): fault.description
    }
  }
}

extension WalkOutcome where W == UInt64 {
  public var result: WalkResult {
    if faulted {
      // The walk only ever stores a Kind's raw value here.
      return .fault(StageTwoFault(kind: StageTwoFault.Kind(rawValue: faultKind)!, level: Int(level)))
    }
    return .translated(
      address: outputAddress, level: Int(level),
      permissions: Permissions(read: read, write: write, execute: !executeNever),
      type: P2MType(rawValue: UInt8(softwareType)))
  }
}
