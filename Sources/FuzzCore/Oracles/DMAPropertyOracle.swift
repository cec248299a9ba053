import Claims
import Scenario
import Spec

/// The DMA property oracle: every DMA with an `expect` meets it, every
/// DMA in a matrix cell meets the properties the proofs establish for that
/// cell (``DMAClaims``), and every buffer swiotlb-xen maps directly is
/// contiguous on the bus where `swiotlb.straddle` says so
/// (``StraddleClaim``: up to three pages of size, which the matrix's one-
/// and two-page cells do not reach).
package struct DMAPropertyOracle: StepOracle {
  let claims: DMAClaims
  var history = DMAHistory()
  /// The current DMA's cell and the properties required of it.
  var cell: MatrixCell?
  var required: [DMAProperty] = []
  var expectation = false
  /// Live grant and foreign handles → their dom0 GFN.
  var mappings: [String: UInt64] = [:]

  package var judgesCurrentDMA: Bool { !required.isEmpty || expectation }

  package init(claims: DMAClaims) {
    self.claims = claims
  }

  package mutating func prepare(_ step: StepContext) {
    cell = nil
    required = []
    expectation = false
    // The DMA about to run: its cell is read from the state before it.
    guard case .dma(let dma) = step.statement.kind else { return }
    expectation = dma.expected != nil
    guard !claims.isEmpty, case .cell(let found) = DMAClaims.cell(of: dma.request, in: step.spec, history: history) else { return }
    cell = found
    required = claims.required(in: found)
  }

  /// What the matrix's history needs of a step that ran: the dom0 GFNs raw
  /// statements wrote, and each dom0 GFN a grant or foreign map was asked
  /// for at — refused or not: a refused grant may still have changed what
  /// Xen maps there — where another live mapping, or host RAM that is not
  /// dom0's, was.
  mutating func record(_ effects: StepEffects, spec: ScenarioExecution) {
    for write in effects.p2mWrites where write.raw && write.domain == .dom0 {
      history.rawlyUpdated.insert(write.gfn.rawValue, count: write.pages)
    }
    if let host = effects.mapAskedAt { note(hostFrame: host.rawValue, spec: spec) }
    for mapped in [effects.grantMapped, effects.foreignMapped].compactMap({ $0 }) {
      mappings[mapped.handle] = mapped.host.rawValue
    }
    for handle in [effects.grantUnmapped, effects.foreignUnmapped].compactMap({ $0 }) { mappings[handle] = nil }
  }

  mutating func note(hostFrame frame: UInt64, spec: ScenarioExecution) {
    if mappings.values.contains(frame) { history.aliased.insert(frame) }
    guard let xen = spec.xen else { return }
    let hostRAM = xen.host.isRAM(MFN(frame))
    let ownRAM = xen.domains[.dom0]?.ram.contains { $0.contains(GFN(frame)) } ?? false
    if hostRAM && !ownRAM { history.displaced.insert(frame) }
  }

  package mutating func check(_ step: StepContext, report: StepReport) -> FuzzFailure? {
    record(report.effects, spec: step.spec)
    guard case .dma(let dma) = step.statement.kind else { return nil }
    var outcome: String { report.dma.map { "\($0.outcome.rawValue): \($0.description)" } ?? report.result }
    if let expected = dma.expected, report.expectationMet == false {
      return FuzzFailure(
        oracle: .dmaProperty, property: "expectation", stepIndex: step.index, statement: step.statement,
        detail: "expected \(expected.rawValue), got \(outcome)")
    }
    if claims.requiresStraddle, let detail = Self.straddleViolation(dma.request, report: report, spec: step.spec, claims: claims.source) {
      return FuzzFailure(oracle: .dmaProperty, property: StraddleClaim.theorem, stepIndex: step.index, statement: step.statement, detail: detail)
    }
    guard let cell else { return nil }
    for property in required {
      let verdict: DMAVerdict? =
        switch property {
        case .integrity: report.dma?.integrity
        case .isolation: report.dma?.isolation
        case .liveness: report.dma?.liveness
        }
      guard verdict?.holds != true else { continue }
      return FuzzFailure(
        oracle: .dmaProperty, property: cell.claimName(property), stepIndex: step.index, statement: step.statement,
        detail: "\(claims.source) expects \(property.rawValue) to hold in this cell (not listed as refuted); "
          + (verdict.map { "it fails: \($0.reason); outcome \(outcome)" } ?? "the DMA did not run: \(report.result)"))
    }
    return nil
  }

  /// A direct swiotlb-xen mapping of a buffer in ``StraddleClaim``'s scope
  /// whose pages are not consecutive bus frames (by dom0's own
  /// `pfn_to_bfn`, its grant tree): the page and the frames; nil when it
  /// is contiguous or out of scope.
  static func straddleViolation(_ request: DMARequest, report: StepReport, spec: ScenarioExecution, claims source: String) -> String? {
    guard let dma = report.dma, dma.path == .swiotlbXen, dma.mapping == .direct, StraddleClaim.covers(buffer: request.buffer, size: request.size),
      let tree = spec.dom0DMAState?.grantTree,
      !StraddleClaim.isBusContiguous(request.buffer, size: request.size, pfnToBfn: { tree.pfnToBfn($0) })
    else { return nil }
    // Name the first page off the run, for the message.
    let first = request.buffer >> UInt64(pageShift)
    let last = (request.buffer + request.size - 1) >> UInt64(pageShift)
    let firstBFN = tree.pfnToBfn(first)
    let (pfn, bfn) = (first...last).lazy.map { ($0, tree.pfnToBfn($0)) }.first { $0.1 != firstBFN &+ ($0.0 - first) } ?? (last, tree.pfnToBfn(last))
    return "\(StraddleClaim.name) is proved (not listed as refuted in \(source)); swiotlb-xen mapped the \(last - first + 1)-page buffer "
      + "directly, but pfn \(hex(pfn)) has bus frame \(hex(bfn)), not \(hex(firstBFN &+ (pfn - first))) after pfn \(hex(first))'s \(hex(firstBFN))"
  }

  package func finish(lastIndex: Int, spec: ScenarioExecution, implementation: ImplementationState) -> FuzzFailure? { nil }
}
