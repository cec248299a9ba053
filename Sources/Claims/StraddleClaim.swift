import Spec

/// The claim of `swiotlb.straddle`: a buffer that swiotlb-xen's
/// `range_straddles_page_boundary()` does not find straddling is
/// contiguous on the bus — each page it touches has the first page's bus
/// frame plus its index — for buffers of 1 to ``maximumSize`` bytes below
/// 2^``physicalAddressBits``, whatever `pfn_to_bfn` is.
///
/// Named here, beside the matrix's cells, so that the prover that decides
/// it and the fuzzer that requires it of every direct mapping (the matrix's
/// buffers span at most two pages; this claim reaches a fourth) speak of
/// one claim and one scope.
package enum StraddleClaim {
  package static let name = "swiotlb.straddle[≤3 pages]"
  /// The theorem's name: the fuzzer's property for the claim (a word, so
  /// that failure signatures and file names stay one token).
  package static let theorem = "swiotlb.straddle"
  package static let maximumSize: UInt64 = 0x3000
  package static let physicalAddressBits = 40

  /// Pages a buffer in scope can touch: `maximumSize` bytes from any
  /// offset.
  package static let maximumPagesSpanned = Int(maximumSize >> UInt64(pageShift)) + 1

  /// The claim's conclusion, over any word: every page the buffer at
  /// `phys` of `size` bytes touches (up to ``maximumPagesSpanned``) has the
  /// first page's bus frame plus its index. Page by page, because a
  /// symbolic byte index, or re-deriving each page's frame from its
  /// address, is too slow for Z3. The theorem decides it; the fuzzer asks
  /// it of every direct mapping in scope.
  package static func isBusContiguous<W: Word>(_ phys: W, size: W, pfnToBfn: (W) -> W) -> W.Condition {
    let pfn = phys >> pageShift
    let pages = ((phys & (pageSize - 1)) &+ size &+ (pageSize - 1)) >> pageShift
    let firstBFN = pfnToBfn(pfn)
    var contiguous = phys.condition(true)
    for i in 1..<UInt64(maximumPagesSpanned) {
      contiguous = contiguous && (pages > i).implies(pfnToBfn(pfn &+ i) == firstBFN &+ i)
    }
    return contiguous
  }

  /// Whether a buffer is within the claim's scope.
  package static func covers(buffer: UInt64, size: UInt64) -> Bool {
    size >= 1 && size <= maximumSize && buffer >> UInt64(physicalAddressBits) == 0
  }
}
