import Spec

/// A stage-2 outcome as an SMMU context reports it, generic over the word
/// so the same IOTLB lookup runs concretely and under Z3 (DESIGN.md §3).
/// Fields that do not apply are zero, as in ``WalkOutcome``, so two
/// outcomes compare as a whole.
public struct ContextOutcome<W: Word>: Mergeable {
  public typealias Condition = W.Condition

  public let faulted: W.Condition
  /// ``StageTwoFault/Kind`` raw value when ``faulted``, else 0.
  public let faultKind: W
  /// The level of the fault, or of the leaf that translated.
  public let level: W
  /// The machine address when not ``faulted``, else 0.
  public let outputAddress: W

  @inlinable
  init(faulted: W.Condition, faultKind: W, level: W, outputAddress: W) {
    self.faulted = faulted
    self.faultKind = faultKind
    self.level = level
    self.outputAddress = outputAddress
  }

  /// The outcome of the spec's architectural walk, reduced to what the
  /// SMMU reports (the master sees an address or a terminated transaction;
  /// the fault syndrome records kind and level).
  @inlinable
  public init(_ walk: WalkOutcome<W>) {
    self.init(faulted: walk.faulted, faultKind: walk.faultKind, level: walk.level, outputAddress: walk.outputAddress)
  }

  @inlinable
  public static func select(_ condition: W.Condition, _ whenTrue: Self, _ whenFalse: Self) -> Self {
    Self(
      faulted: W.Condition.select(condition, whenTrue.faulted, whenFalse.faulted),
      faultKind: W.select(condition, whenTrue.faultKind, whenFalse.faultKind),
      level: W.select(condition, whenTrue.level, whenFalse.level),
      outputAddress: W.select(condition, whenTrue.outputAddress, whenFalse.outputAddress))
  }

  /// Whether two outcomes are the same, field by field.
  @inlinable
  public func isEqual(to other: Self) -> W.Condition {
    faulted.isEqual(to: other.faulted) && faultKind == other.faultKind && level == other.level
      && outputAddress == other.outputAddress
  }
}

extension ContextOutcome where W == UInt64 {
  /// In the spec's vocabulary, comparable with a ``StageTwoTranslator``'s answer.
  public var translation: StageTwoTranslation {
    guard faulted else { return .translated(pa: outputAddress) }
    // Only Kind raw values are ever stored here (by the walk or the IOTLB).
    return .fault(StageTwoFault(kind: StageTwoFault.Kind(rawValue: faultKind) ?? .translation, level: Int(level)))
  }
}

/// One IOTLB entry as words: what the symbolic proof quantifies over and
/// what the concrete lookup reads out of the one slot it probes.
public struct IOTLBEntryWords<W: Word> {
  public var vmid: W
  /// IPA bits 47:12.
  public var page: W
  /// The output page's machine address (bits 47:12).
  public var outputPage: W
  public var read: W.Condition
  public var write: W.Condition
  public var level: W

  @inlinable
  public init(vmid: W, page: W, outputPage: W, read: W.Condition, write: W.Condition, level: W) {
    self.vmid = vmid
    self.page = page
    self.outputPage = outputPage
    self.read = read
    self.write = write
    self.level = level
  }
}

/// An SMMU context's translation of `ipa` for `access` under `vmid`: the
/// first of `candidates` tagged (`vmid`, page of `ipa`) answers, else
/// `walk()` does. Written once over ``Word``: the concrete SMMU runs its
/// hit half, ``iotlbHit(candidates:vmid:ipa:access:)``, on the
/// one entry its direct-mapped slot holds and walks only when nothing is
/// tagged; a proof passes every entry, with a symbolic IPA.
///
/// A hit answers as the cached leaf would (§7.3): the output page with the
/// IPA's page offset at the leaf's level, or a permission fault at that
/// level when the cached S2AP forbids the access — the same precedence as
/// the walk, where a translated leaf has AF = 1 and the only fault left is
/// the permission one.
@inlinable
public func translateThroughIOTLB<W: Word, C: BidirectionalCollection>(
  candidates: C, vmid: W, ipa: W, access: Access, walk: () -> ContextOutcome<W>
) -> ContextOutcome<W> where C.Element == IOTLBEntryWords<W> {
  let (tagged, hit) = iotlbHit(candidates: candidates, vmid: vmid, ipa: ipa, access: access)
  return branch(tagged) { hit } else: { walk() }
}

/// The hit half of the lookup: whether some candidate is tagged
/// (`vmid`, page of `ipa`), and what the first such one answers. The
/// concrete SMMU calls this directly and walks when `tagged` is false —
/// ``translateThroughIOTLB(candidates:vmid:ipa:access:walk:)`` for a
/// `Bool` condition — so its hit path captures nothing.
@inlinable @inline(__always)
package func iotlbHit<W: Word, C: BidirectionalCollection>(
  candidates: C, vmid: W, ipa: W, access: Access
) -> (tagged: W.Condition, outcome: ContextOutcome<W>) where C.Element == IOTLBEntryWords<W> {
  let page = ipa >> pageShift
  let no = ipa.condition(false)
  // Folded from the last candidate to the first, so the first tagged one
  // wins; no recursion and no closures, so the concrete instance compiles
  // to straight-line code.
  var tagged = no
  var hit = ContextOutcome(faulted: no, faultKind: ipa.constant(0), level: ipa.constant(0), outputAddress: ipa.constant(0))
  for entry in candidates.reversed() {
    let matches = SeededBug.iotlbIgnoresVMID.isActive ? entry.page == page : entry.vmid == vmid && entry.page == page
    let allowed = access == .read ? entry.read : entry.write
    let answer = ContextOutcome(
      faulted: !allowed,
      faultKind: W.select(allowed, ipa.constant(0), ipa.constant(StageTwoFault.Kind.permission.rawValue)),
      level: entry.level,
      outputAddress: W.select(allowed, entry.outputPage | (ipa & (pageSize - 1)), ipa.constant(0)))
    hit = ContextOutcome.select(matches, answer, hit)
    tagged = matches || tagged
  }
  return (tagged, hit)
}
