import Spec

/// One slot of ``IOTLB``'s direct-mapped arrays, as the three words it
/// stores, written once over ``Word`` (DESIGN.md §3) so that what the
/// concrete IOTLB does with a slot is what `smmu.fast-path` proves.
///
/// Three readers of a slot exist, and only one is the proved lookup:
///
/// - the full path (``XenSMMUPlatform/translate(stream:on:address:access:)``)
///   decodes the slot into an ``IOTLBEntryWords`` with ``entry(generationOfItsVMID:)``
///   and hands it to the generic ``iotlbHit(candidates:vmid:ipa:access:)``,
///   the lookup `smmu.regression` runs on Z3 and the fuzzer's SMMU oracle
///   checks against the spec;
/// - the fast path (``XenSMMUPlatform/translateCompact(stream:on:address:access:)``,
///   inlined into the caller) compares the packed key in one go with
///   ``probe(vmid:ipa:access:generation:)``, which is what makes an
///   IOTLB hit ≈ 5× cheaper than the full path (BENCHMARKS.md, SMMU);
/// - ``fill(vmid:ipa:outputAddress:read:write:level:generation:)`` writes it.
///
/// `smmu.fast-path` proves the probe equal to the decode followed by the
/// generic lookup for every slot content `fill` can leave, and that `fill`
/// leaves such content, so a bug in the fast path alone no longer escapes
/// the proofs while the fuzzer only exercises the full path.
@usableFromInline
package struct IOTLBSlot<W: Word> {
  /// `vmid << 48 | page` (page = IPA bits 47:12), or all ones when empty.
  @usableFromInline package var key: W
  /// The output page's address (bits 47:12), S2AP in bits 7:6, the leaf's
  /// level in bits 61:60: Xen's descriptor layout where it has one (§1.2).
  @usableFromInline package var value: W
  /// The VMID generation the entry was filled under; the entry is live
  /// while it equals its VMID's current generation.
  @usableFromInline package var stamp: W

  @inlinable
  package init(key: W, value: W, stamp: W) {
    self.key = key
    self.value = value
    self.stamp = stamp
  }

  /// IPA bits 47:12 of the key.
  @inlinable package static var pageMask: UInt64 { bitMask(high: 35, low: 0) }

  /// What the key of an empty slot holds: no VMID below 2^16 and page
  /// below 2^36 packs to it.
  @inlinable static var emptyKey: UInt64 { .max }

  /// The slot's entry as the full path reads it, and whether it is live:
  /// the slot is not empty and its stamp is the current generation of the
  /// VMID its key names (`generationOfItsVMID` is that generation; the
  /// caller reads it only for a non-empty key, whose VMID is in range).
  @inlinable
  package func entry(generationOfItsVMID generation: W) -> (live: W.Condition, entry: IOTLBEntryWords<W>) {
    let live = key != Self.emptyKey && stamp == generation
    return (live, IOTLBEntryWords(
      vmid: key >> 48, page: key & Self.pageMask, outputPage: value & bitMask(high: 47, low: 12),
      read: value.bit(6), write: value.bit(7), level: value >> 60 & 3))
  }

  /// The fast path's probe: whether the slot holds a live entry tagged
  /// (`vmid`, page of `ipa`) — one compare of the packed key, one of the
  /// stamp against `generation`, the current generation of `vmid` — and
  /// what that entry answers for `access`: the output page with the IPA's
  /// 4K offset (the IOTLB caches 4K pages, whatever the leaf's level), or
  /// a permission fault at the cached level when S2AP forbids the access
  /// (§7.3, as ``iotlbHit(candidates:vmid:ipa:access:)``).
  /// The concrete IOTLB runs its two halves,
  /// ``probeTag(key:stamp:vmid:ipa:generation:)`` and then, on a
  /// hit only, ``probeAnswer(value:ipa:access:)``.
  ///
  /// - Precondition: `vmid` below 2^16 and `ipa` below 2^48 (the concrete
  ///   caller checks both; `smmu.fast-path` assumes them).
  @inlinable @inline(__always)
  package func probe(vmid: W, ipa: W, access: Access, generation: W)
    -> (tagged: W.Condition, outcome: ContextOutcome<W>) {
    (Self.probeTag(key: key, stamp: stamp, vmid: vmid, ipa: ipa, generation: generation),
     Self.probeAnswer(value: value, ipa: ipa, access: access))
  }

  /// Whether a slot holding `key` and `stamp` answers for (`vmid`, page of `ipa`).
  @inlinable @inline(__always)
  package static func probeTag(key: W, stamp: W, vmid: W, ipa: W, generation: W) -> W.Condition {
    let page = ipa >> pageShift
    let tag = SeededBug.fastPathIgnoresVMID.isActive ? (key & pageMask) == page : key == (vmid << 48 | page)
    return tag && stamp == generation
  }

  /// What a slot holding `value` answers for `access` to `ipa`, once
  /// tagged.
  @inlinable @inline(__always)
  package static func probeAnswer(value: W, ipa: W, access: Access) -> ContextOutcome<W> {
    // S2AP as masks, not `bit(_:)`: its `extract` left a call to
    // `bitMask(high:low:)` in the inlined hit (BENCHMARKS.md, SMMU).
    let allowed = (value & (access == .read ? 1 << 6 : 1 << 7)) != 0
    let offset: UInt64 = SeededBug.fastPathBlockOffset.isActive ? bitMask(high: 20, low: 0) : bitMask(high: 11, low: 0)
    return ContextOutcome(
      faulted: !allowed,
      faultKind: W.select(allowed, ipa.constant(0), ipa.constant(StageTwoFault.Kind.permission.rawValue)),
      level: value >> 60 & 3,
      outputAddress: W.select(allowed, value & bitMask(high: 47, low: 12) | (ipa & offset), ipa.constant(0)))
  }

  /// The slot a translated walk of `ipa` under `vmid` leaves (§7.3: only
  /// walks that translated are cached), filled under `generation`.
  ///
  /// - Precondition: `vmid` below 2^16, `ipa` below 2^48, `level` 1…3.
  @inlinable
  package static func fill(vmid: W, ipa: W, outputAddress: W, read: W.Condition, write: W.Condition, level: W, generation: W) -> Self {
    let zero = ipa.constant(0)
    return Self(
      key: vmid << 48 | ipa >> pageShift,
      value: outputAddress & bitMask(high: 47, low: 12) | W.select(read, ipa.constant(1 << 6), zero)
        | W.select(write, ipa.constant(1 << 7), zero) | level << 60,
      stamp: generation)
  }
}
