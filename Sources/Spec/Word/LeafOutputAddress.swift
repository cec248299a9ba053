/// The output address of a stage-2 leaf descriptor found at `level`.
///
/// VMSAv8-64 with the 4K granule (fact sheet §7.1): an L1 block supplies
/// OA[47:30], an L2 block OA[47:21], an L3 page OA[47:12]; the bits below
/// come from the input address. Xen builds these with `mfn_to_p2m_entry()`
/// and reads them back in `p2m_get_entry()` as `base + (gfn mod 2^order)`
/// (xen/arch/arm/mmu/p2m.c); bits 51:48 are RES0 for a 48-bit PA and are
/// not part of the output address here.
///
/// - Precondition: `level` is 1, 2 or 3.
@inlinable
public func leafOutputAddress<W: Word>(descriptor: W, inputAddress: W, level: Int) -> W {
  precondition((1...3).contains(level), "a stage-2 leaf is at level 1, 2 or 3, not \(level)")
  let offsetBits = StageTwoGeometry.indexShift(level: level)
  return (descriptor & bitMask(high: 47, low: offsetBits))
    | (inputAddress & bitMask(high: offsetBits - 1, low: 0))
}
