import Claims
import Solver
import Spec
import SymbolicWord

/// `swiotlb.straddle`: when swiotlb-xen's `range_straddles_page_boundary()`
/// says a buffer does not straddle, the buffer is contiguous on the bus:
/// every page `i` it touches has bus frame `pfn_to_bfn(first) + i`.
/// For every physical address, every size up to three pages (so up to four
/// pages spanned) and every `pfn_to_bfn` (an arbitrary function, a Z3
/// array: any grant tree). It runs the program's own generic
/// ``rangeStraddlesPageBoundary(_:size:maximumPages:pfnToBfn:)``.
///
/// Added when a straddle check of the first page boundary only
/// escaped the DMA matrix, whose buffers span at most two pages.
enum StraddleTheorem {
  /// `range_straddles_page_boundary(phys, size)`: physical address, size,
  /// pages the loop looks at, `pfn_to_bfn`.
  typealias Straddles = @Sendable (SymbolicWord, SymbolicWord, Int, (SymbolicWord) -> SymbolicWord) -> SymbolicBool

  /// - Parameter straddles: the straddle test under proof, the program's
  ///   own by default; a test hands in a broken one, which must make the
  ///   theorem refuted (a check of the first page boundary only lets a
  ///   three-page buffer through).
  static func theorem(
    straddles: @escaping Straddles = { phys, size, maximumPages, pfnToBfn in
      rangeStraddlesPageBoundary(phys, size: size, maximumPages: maximumPages, pfnToBfn: pfnToBfn)
    }
  ) -> Theorem {
    Theorem(name: StraddleClaim.theorem, summary: "a buffer that does not straddle (range_straddles_page_boundary) is contiguous on the bus, for sizes up to 3 pages and any pfn_to_bfn") { session in
      let pfnToBfn = try session.wordArray("pfn_to_bfn")
      let phys = try session.word("phys")
      let size = try session.word("size")
      let straddling = straddles(phys, size, StraddleClaim.maximumPagesSpanned, pfnToBfn)
      let contiguous = StraddleClaim.isBusContiguous(phys, size: size, pfnToBfn: pfnToBfn)
      let hypotheses = [size >= 1, size <= StraddleClaim.maximumSize, (phys >> StraddleClaim.physicalAddressBits) == 0]
      return [
        try session.decide(StraddleClaim.name, claim: (!straddling).implies(contiguous), hypotheses: hypotheses) { model in
          let p = try model.value(of: phys.term)
          let s = try model.value(of: size.term)
          return ("phys \(hex(p)) size \(hex(s)) is not said to straddle, but its pages are not bus-contiguous", nil, nil, ["phys": p, "size": s])
        }
      ]
    }
  }
}
