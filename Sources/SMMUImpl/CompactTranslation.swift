import Spec

/// What one transaction comes to, reduced to what the master sees: the
/// machine address it reaches, or why it was terminated.
///
/// It exists for the hot path
/// (``XenSMMUPlatform/translateCompact(stream:on:address:access:)``): an
/// IOTLB hit inlined into the caller must not build an ``SMMUTranslation``,
/// whose ``StreamOutcome`` and ``StreamFault`` enums (an array payload
/// among them) make it a non-trivial five-word value that is retained,
/// released and returned indirectly. This is two plain words, returned in
/// registers. What it drops — the domain, the SMMU-local VMID, which SMEs
/// conflicted — is what ``XenSMMUPlatform/translate(stream:on:address:access:)``
/// still reports.
public struct CompactTranslation: Hashable, Sendable, BitwiseCopyable, CustomStringConvertible {
  public enum Kind: UInt8, Hashable, Sendable, BitwiseCopyable {
    /// The transaction reaches memory: translated by a context, bypassed,
    /// or not behind an SMMU.
    case reached
    /// An SMMUv2 stream fault (unidentified stream, S2CR FAULT, stream
    /// match conflict, disabled context bank).
    case streamFault
    /// An SMMUv3 STE ABORT.
    case abort
    /// A stage-2 fault of the context's walk (or of a cached entry's
    /// permissions).
    case stageTwoFault
  }

  public let kind: Kind
  /// ``Kind/reached``: the machine address. ``Kind/stageTwoFault``: the
  /// fault's kind raw value << 8 | its level. Otherwise 0.
  @usableFromInline let word: UInt64

  @inlinable
  init(kind: Kind, word: UInt64) {
    self.kind = kind
    self.word = word
  }

  @inlinable
  static func reached(_ address: UInt64) -> Self { Self(kind: .reached, word: address) }

  @inlinable
  static func stageTwoFault(_ kind: StageTwoFault.Kind, level: UInt64) -> Self {
    Self(kind: .stageTwoFault, word: kind.rawValue << 8 | level)
  }

  /// A translating context's stage-2 outcome (a fault's kind raw value and
  /// level, or the machine address), as the IOTLB's fast path reports it.
  @inlinable
  package init(stageTwo outcome: ContextOutcome<UInt64>) {
    self = outcome.faulted
      ? Self(kind: .stageTwoFault, word: outcome.faultKind << 8 | outcome.level) : .reached(outcome.outputAddress)
  }

  /// The projection of a full translation: equal to what the fast path
  /// answers for the same transaction, which is what the tests check.
  public init(_ translation: SMMUTranslation) {
    switch translation.stream {
    case .untranslated, .bypass: self = .reached(translation.address)
    case .fault: self.init(kind: .streamFault, word: 0)
    case .abort: self.init(kind: .abort, word: 0)
    case .context:
      switch translation.stageTwo {
      case .translated(let pa)?: self = .reached(pa)
      case .fault(let fault)?: self = .stageTwoFault(fault.kind, level: UInt64(fault.level))
      case nil: preconditionFailure("a context's translation always has a stage-2 result: \(translation)")
      }
    }
  }

  /// The machine address reached, nil when the transaction is terminated
  /// (the same as ``SMMUTranslation/machineAddress``).
  public var machineAddress: UInt64? { kind == .reached ? word : nil }

  /// The stage-2 fault, for ``Kind/stageTwoFault``.
  public var stageTwoFault: StageTwoFault? {
    guard kind == .stageTwoFault else { return nil }
    // Only Kind raw values are ever stored here.
    return StageTwoFault(kind: StageTwoFault.Kind(rawValue: word >> 8) ?? .translation, level: Int(word & 0xFF))
  }

  public var description: String {
    switch kind {
    case .reached: "pa \(hex(word))"
    case .streamFault: "stream fault"
    case .abort: "abort"
    case .stageTwoFault: "\(stageTwoFault!)"
    }
  }
}
