import Claims
import Spec

/// `dma.class`: the cells the seed thread's argument rests on, decided for
/// every platform of the matrix's class at once (``MatrixPlatform``: IPA
/// size, RAM banks, dom0's size, the pool's and the extended region's
/// place, the guest's memory, colour count and sets all left open), with
/// no Xen operations before or after the buffer's maps.
///
/// The full matrix (`dma.matrix.*`) is decided with a history of three
/// operations but on the reference platform: the two together do not fit
/// one query at today's solver speed (a cell with both takes minutes; see
/// BENCHMARKS.md).
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
          + "of the shape; guest p2m any injective map of its frames. Not over: Xen operations before or after the buffer's "
          + "maps (history length 0), Xen releases other than the latest of the cell's side of the fix. Named platform "
          + "hypotheses: " + MatrixPlatform<UInt64>.reference(layout).hypotheses.map(\.name).joined(separator: "; "),
        timeout: .seconds(120)
      ) { session in
        var findings: [Finding] = []
        for cell in cells where cell.layout == layout {
          findings += try DMAMatrixTheorem.decide(
            cell, session: session, releases: [cell.xen.releases.last!], scope: .everyPlatform, history: .none,
            theorem: "dma.class")
        }
        return findings
      }
    }
  }
}
