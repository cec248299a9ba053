import Spec

/// Where `p2m_set_entry()`'s loop stands: the next GFN, the next MFN (none
/// for a removal) and the pages left. Written once over ``Word`` so that
/// the loop ``XenP2M/setEntry(_:count:mfn:type:)`` runs is what
/// `p2m.chunk-order` proves: each chunk is aligned and fits, and the
/// chunks cover the request in order with the MFNs at the GFNs' offsets —
/// which, with `p2m.step` for each chunk, makes a multi-chunk update the
/// spec's update of the whole range.
package struct P2MChunkCursor<W: Word> {
  package var gfn: W
  /// Absent for a removal (`INVALID_MFN`).
  package var mfn: W?
  package var remaining: W

  package init(gfn: W, mfn: W?, remaining: W) {
    self.gfn = gfn
    self.mfn = mfn
    self.remaining = remaining
  }

  /// The next chunk's order: `p2m_set_entry()` (xen/arch/arm/mmu/p2m.c,
  /// p2m.c before 4.18) ORs the GFN, the MFN (not `INVALID_MFN` since
  /// `3fafdc28eb`) and the pages left, and takes the largest of 18, 9, 0
  /// whose low bits are all clear there.
  package func order() -> W {
    let removalMask: UInt64 = SeededBug.removalShattersSuperpages.isActive ? .max : 0
    let count = SeededBug.chunkOrderIgnoresCount.isActive ? gfn.constant(0) : remaining
    let mask = (mfn ?? gfn.constant(removalMask)) | gfn | count
    return W.select(
      mask & ((1 << 18) - 1) == 0, gfn.constant(18),
      W.select(mask & ((1 << 9) - 1) == 0, gfn.constant(9), gfn.constant(0)))
  }

  /// The cursor after a chunk of `order` succeeded.
  package func advanced(byOrder order: W) -> Self {
    let pages = gfn.constant(1).shiftedLeft(by: order)
    return Self(gfn: gfn &+ pages, mfn: mfn.map { $0 &+ pages }, remaining: remaining &- pages)
  }
}
