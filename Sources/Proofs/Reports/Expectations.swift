import Claims
import Foundation

/// What `dmaverify prove` does with ``Expectations``: write them from
/// results, and compare results with them.
extension Expectations {
  /// The file that says the results of `reports` are expected.
  package static func render(_ reports: [TheoremReport]) -> String {
    var lines = [
      "# Claims expected to be refuted (dmaverify prove). Every other claim is",
      "# expected proved, or n/a for matrix cells that do not exist.",
      "# Regenerate with `dmaverify prove --write-expectations FILE` and review",
      "# the difference against the fact sheet's section 3.6 before committing.",
    ]
    for report in reports {
      for finding in report.findings where finding.verdict == .refuted {
        lines.append("\(finding.claim) refuted")
      }
    }
    return lines.joined(separator: "\n") + "\n"
  }

  /// The verdict a claim is expected to get. A `dma.matrix-class[…]`
  /// claim the file does not name is expected as the same cell of
  /// `dma.matrix[…]`: a difference is a cell whose verdict on the reference
  /// platform does not hold for every platform of the class.
  package func expected(for finding: Finding) -> Verdict {
    if finding.verdict == .inapplicable { return .inapplicable }
    if refuted.contains(finding.claim) { return .refuted }
    let classPrefix = "dma.matrix-class["
    if finding.claim.hasPrefix(classPrefix), refuted.contains("dma.matrix[" + finding.claim.dropFirst(classPrefix.count)) { return .refuted }
    return .proved
  }

  /// What differs from the expectations: a result that changed, an
  /// expected claim that was not produced, a refutation that did not replay.
  package func mismatches(_ reports: [TheoremReport], filtered: Bool) -> [String] {
    var problems: [String] = []
    var seen = Set<String>()
    for report in reports {
      if let error = report.error { problems.append("\(report.theorem): error: \(error)") }
      for finding in report.findings {
        seen.insert(finding.claim)
        let expected = expected(for: finding)
        switch finding.verdict {
        case .unknown: continue  // reported separately, with its own exit status
        case .vacuous: problems.append("\(finding.claim): vacuous (\(finding.reason))")
        default:
          if finding.verdict != expected {
            problems.append("\(finding.claim): \(finding.verdict.rawValue), expected \(expected.rawValue)")
          }
          if finding.verdict == .refuted && finding.replayed == false {
            problems.append("\(finding.claim): the counterexample did not reproduce on the concrete implementation (\(finding.reason))")
          }
        }
      }
    }
    if !filtered {
      for claim in refuted.sorted() where !seen.contains(claim) {
        problems.append("\(claim): expected refuted, but no theorem produced it")
      }
    }
    return problems
  }
}

