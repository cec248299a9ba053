import Claims
import Spec

/// `dma.class`: the cells the seed thread's argument rests on, decided for
/// every platform of the matrix's class at once (``MatrixPlatform``: IPA
/// size, RAM banks, dom0's size, the pool's and the extended region's
/// place, the guest's memory, colour count and sets all left open), with
/// the matrix's history of three Xen operations around the buffer's maps.
///
/// Every platform and the history together are within reach since
/// Bitwuzla proves the cells (a few seconds each, where Z3 alone took
/// minutes) and guides the search for a small counterexample platform
/// (BENCHMARKS.md, "A second solver").
enum PlatformClassTheorem {
  /// The flag's cells (direct-mapped and coloured, attached, every page
  /// kind) and swiotlb-xen's on a direct-mapped dom0, one page each.
  static let cells: [MatrixCell] = [
    MatrixCell(policy: .globalFlag, layout: .direct, device: .attached, page: .local, shape: .onePage, xen: .after),
    MatrixCell(policy: .globalFlag, layout: .direct, device: .attached, page: .grant, shape: .onePage, xen: .after),
    MatrixCell(policy: .globalFlag, layout: .direct, device: .attached, page: .foreign, shape: .onePage, xen: .after),
    MatrixCell(policy: .globalFlag, layout: .coloured, device: .attached, page: .local, shape: .onePage, xen: .after),
    MatrixCell(policy: .globalFlag, layout: .coloured, device: .attached, page: .grant, shape: .onePage, xen: .after),
    MatrixCell(policy: .legacy, layout: .direct, device: .attached, page: .local, shape: .onePage, xen: .after),
    MatrixCell(policy: .legacy, layout: .direct, device: .attached, page: .grant, shape: .onePage, xen: .after),
  ]

  static var theorems: [Theorem] {
    MatrixCell.Layout.allCases.map { layout in
      Theorem(
        name: "dma.class.\(layout.rawValue)",
        summary: "integrity, isolation and liveness of chosen cells for every platform of the class: \(DMAMatrixTheorem.scope); "
          + "device coherent or not, DMA mask 32-64 bits reaching the swiotlb pool, cache-flush hypercall or not; any buffer "
          + "of the shape; guest p2m any injective map of its frames; a history of 3 Xen operations (2 before the buffer's "
          + "maps, 1 after: none, grant map ro/rw, grant unmap, foreign map, foreign unmap). Not over: Xen releases other "
          + "than the latest of the cell's side of the fix, p2m removals in the history, devices with dma-ranges, zero-length "
          + "buffers. Named platform "
          + "hypotheses: " + MatrixPlatform<UInt64>.reference(layout).hypotheses.map(\.name).joined(separator: "; "),
        timeout: .seconds(120)
      ) { session in
        var findings: [Finding] = []
        for cell in cells where cell.layout == layout {
          findings += try DMAMatrixTheorem.decide(
            cell, session: session, releases: [cell.xen.releases.last!], scope: .everyPlatform, history: .matrix,
            theorem: "dma.class")
        }
        return findings
      }
    }
  }
}
