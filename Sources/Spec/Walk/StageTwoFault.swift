/// A stage-2 fault as the hardware reports it: a kind and the level of the
/// lookup that found it (ESR_ELx DFSC `0bKKKKLL`, fact sheet §7.2).
public struct StageTwoFault: Hashable, Sendable, CustomStringConvertible {
  /// The fault kinds of a stage-2 walk. Raw values are DFSC bits 5:2, so
  /// `rawValue << 2 | level` is the status code.
  public enum Kind: UInt64, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    /// An output address (table, leaf, or VTTBR.BADDR) above the PA size.
    case addressSize = 0
    /// Invalid descriptor, L3 `0b01`, block at L0, IPA out of range.
    case translation = 1
    /// AF = 0 with no hardware AF update (Xen does not enable VTCR.HA).
    case accessFlag = 2
    /// S2AP forbids the access.
    case permission = 3

    public var description: String {
      switch self {
      case .addressSize: "address-size"
      case .translation: "translation"
      case .accessFlag: "access-flag"
      case .permission: "permission"
      }
    }
  }

  public var kind: Kind
  public var level: Int

  public init(kind: Kind, level: Int) {
    self.kind = kind
    self.level = level
  }

  /// ESR_ELx.DFSC for this fault (levels 0–3).
  public var statusCode: UInt64 { kind.rawValue << 2 | UInt64(level) }

  public var description: String { "\(kind) fault at L\(level)" }
}
