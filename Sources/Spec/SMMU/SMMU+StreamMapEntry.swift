/// What `arm_smmu_find_sme()` answers for a new `{id, mask}`.
public enum StreamMapEntrySearch: Hashable, Sendable {
  /// The entry to use: a valid SMR that entirely matches the request, or
  /// else the first invalid one.
  case entry(Int)
  /// −EINVAL: the request overlaps this valid SMR without being inside it.
  case partialOverlap(entry: Int)
  /// −ENOSPC: no SMR matches and none is free.
  case full
}

extension SMMU {
  /// `arm_smmu_find_sme(smmu, id, mask)` (xen/drivers/passthrough/arm/
  /// smmu.c, RELEASE-4.16.0 … 4.21.0, from Linux's "Intelligent SMR
  /// allocation", `0435784cc7`): scanning the SMRs in order, the first
  /// valid one that *entirely* matches the request —
  /// `(mask & smr.mask) == mask && !((id ^ smr.id) & ~smr.mask)` — is
  /// reused; a valid one that overlaps it otherwise —
  /// `!((id ^ smr.id) & ~(smr.mask | mask))` — makes it −EINVAL, since some
  /// stream would match both; else the first invalid entry seen. With mask
  /// 0 (Xen before 4.20) an overlap is an exact match, so only hand-set
  /// masked registers can be reused for another ID, and −EINVAL needs one.
  public static func findStreamMapEntry(for request: StreamMatchRegister, in smrs: [StreamMatchRegister?]) -> StreamMapEntrySearch {
    var free: Int?
    for (index, smr) in smrs.enumerated() {
      guard let smr else {
        if free == nil { free = index }
        continue
      }
      if request.mask & smr.mask == request.mask && (request.id ^ smr.id) & ~smr.mask == 0 { return .entry(index) }
      if (request.id ^ smr.id) & ~(smr.mask | request.mask) == 0 { return .partialOverlap(entry: index) }
    }
    return free.map { .entry($0) } ?? .full
  }
}
