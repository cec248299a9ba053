import Claims
import Spec
import SymbolicWord

/// `dma.flag-equals-swiotlb`: the statement the seed thread wanted.
///
/// (a) On a direct-mapped dom0 with every master attached, DMA under the
/// flag (dma-direct through the SMMU) has exactly the effect of DMA
/// through swiotlb-xen: both deliver the data to exactly the buffer's
/// machine bytes without fault, and when swiotlb-xen does not bounce the
/// device reaches the very same machine frames.
///
/// (b) On a coloured dom0, DMA under the flag has the effect swiotlb-xen
/// has on the direct-mapped twin of the same state (the same buffer pages,
/// grants and guest frames — the variables are shared — on a 1:1 dom0):
/// the ideal one. (a) proves swiotlb-xen ideal on the twin (the same
/// terms); the `flag-as-direct-twin` claim proves the flag ideal on the
/// coloured dom0 under both states' hypotheses. And swiotlb-xen on the coloured dom0 itself does not
/// have it: refuted, with a counterexample replayed on the runner.
enum FlagEqualsSwiotlbTheorem {
  static var theorem: Theorem {
    Theorem(
      name: "dma.flag-equals-swiotlb",
      summary: "the RFC's flag equals swiotlb-xen on a direct-mapped dom0, and gives the ideal DMA on a coloured one where swiotlb-xen does not "
        + "(the matrix's scope: the reference platform, any device coherence, mask and cache-flush hypercall, a history of 3 Xen operations, Xen 4.20)",
      timeout: .seconds(40)
    ) { session in
      var findings: [Finding] = []
      for page in MatrixCell.PageKind.allCases {
        for shape in MatrixCell.Shape.allCases {
          let where_ = "\(page.rawValue),\(shape.rawValue)"
          // (a)
          let direct = try SymbolicDMAState(session: session, layout: .direct, page: page, shape: shape, version: .v4_20)
          let flag = try MatrixRun(state: direct, policy: .globalFlag, device: .attached)
          let swiotlb = try MatrixRun(state: direct, policy: .legacy, device: .attached)
          var sameFrames = direct.offset.condition(true)
          for (flagPage, swiotlbPage) in zip(flag.run.device, swiotlb.run.device) {
            sameFrames = sameFrames && flagPage.page.active.implies(flagPage.page.address == swiotlbPage.page.address)
          }
          sameFrames = (!swiotlb.bounced).implies(sameFrames)
          findings.append(
            try session.decide(
              "dma.flag-equals-swiotlb[direct-mapped,\(where_)]", claim: ideal(flag) && ideal(swiotlb) && sameFrames,
              hypotheses: try direct.hypotheses(), freshSolvers: true))

          // (b)
          let coloured = try SymbolicDMAState(session: session, layout: .coloured, page: page, shape: shape, version: .v4_20)
          let twin = try SymbolicDMAState(session: session, layout: .direct, page: page, shape: shape, version: .v4_20)
          let flagColoured = try MatrixRun(state: coloured, policy: .globalFlag, device: .attached)
          // The twin is built from the very variables of (a)'s direct state,
          // so (a) already proves swiotlb-xen ideal on it; this claim proves
          // the other half, and the two together are the statement.
          findings.append(
            try session.decide(
              "dma.flag-equals-swiotlb[coloured,\(where_)].flag-as-direct-twin", claim: ideal(flagColoured),
              hypotheses: try coloured.hypotheses() + twin.hypotheses(), freshSolvers: true))
          let swiotlbColoured = try MatrixRun(state: coloured, policy: .legacy, device: .attached)
          let cell = MatrixCell(policy: .legacy, layout: .coloured, device: .attached, page: page, shape: shape, xen: .after)
          findings.append(
            try session.decide(
              "dma.flag-equals-swiotlb[coloured,\(where_)].swiotlb-xen", claim: ideal(swiotlbColoured), hypotheses: try coloured.hypotheses(), freshSolvers: true
            ) { model in
              try DMAMatrixTheorem.explain(model, cell: cell, state: coloured, session: session) { placed in
                try placed.bool(of: swiotlbColoured.liveness.term) ? .isolation : .liveness
              }
            })
        }
      }
      return findings
    }
  }

  static func ideal(_ run: MatrixRun) -> SymbolicBool { run.integrity && run.isolation && run.liveness }
}
