import Scenario
import Spec

/// LLC isolation: every frame of a coloured domain's RAM has one of the
/// domain's colours.
///
/// The spec and the implementation share the colour function
/// (``llcColour(of:colourCount:)``, proved by `colour.allocation`), so no
/// differential oracle can see a wrong one: both sides agree on the wrong
/// frames. This oracle states the property instead, with the colour of a
/// frame written out as Xen's `addr_to_color()` has it (RELEASE-4.21.0
/// xen/common/llc-coloring.c: the page number's low bits, `max_nr_colors`
/// a power of two), and checks it when a coloured domain is built.
package struct ColourOracle: StepOracle {
  package init() {}


  package mutating func check(_ step: StepContext, report: StepReport) -> FuzzFailure? {
    guard report.succeeded, let id = report.effects.createdDomain?.id, let xen = step.spec.xen, let count = xen.allocator?.colourCount,
      let domain = xen.domains[id], let colours = domain.colours
    else { return nil }
    let allowed = Set(colours)
    let stray = domain.p2m.entries.lazy.filter { $0.value.type == .ramRW }.map(\.value.mfn)
      .filter { !allowed.contains(Int($0.rawValue % UInt64(count))) }.min()
    guard let stray else { return nil }
    return FuzzFailure(
      oracle: .colour, property: "llc-isolation", stepIndex: step.index, statement: step.statement,
      detail: "\(id) was given \(stray), of colour \(stray.rawValue % UInt64(count)) of \(count); its colours are \(colours.map(String.init).joined(separator: ","))")
  }

  package mutating func finish(lastIndex: Int, spec: ScenarioExecution, implementation: ImplementationState) -> FuzzFailure? { nil }
}
