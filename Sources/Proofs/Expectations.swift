import Foundation

/// Which claims are expected to be refuted: data, reviewed against the
/// fact sheet's §3.6, so that a changed result fails CI.
///
/// The file lists one refuted claim per line (`dma.matrix[…].liveness`),
/// `#` starts a comment. Every claim not listed is expected proved, except
/// matrix cells that do not exist (`n/a`, e.g. colouring before Xen 4.20),
/// which are expected `n/a`.
public struct Expectations: Sendable {
  public var refuted: Set<String>

  public init(refuted: Set<String>) {
    self.refuted = refuted
  }

  /// - Throws: ``ExpectationsError`` naming the line of anything that is not
  ///   a claim name.
  public static func parse(_ text: String, file: String) throws(ExpectationsError) -> Expectations {
    var refuted = Set<String>()
    for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
      let line = rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init)?
        .trimmingCharacters(in: .whitespaces) ?? ""
      guard !line.isEmpty else { continue }
      let words = line.split(separator: " ")
      guard words.count == 2, words[1] == "refuted", !words[0].isEmpty else {
        throw ExpectationsError(file: file, line: index + 1, message: "expected '<claim> refuted', found '\(line)'")
      }
      guard refuted.insert(String(words[0])).inserted else {
        throw ExpectationsError(file: file, line: index + 1, message: "\(words[0]) is listed twice")
      }
    }
    return Expectations(refuted: refuted)
  }

  /// The file that says the results of `reports` are expected.
  public static func render(_ reports: [TheoremReport]) -> String {
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

  /// The verdict a claim is expected to get.
  public func expected(for finding: Finding) -> Verdict {
    if finding.verdict == .inapplicable { return .inapplicable }
    return refuted.contains(finding.claim) ? .refuted : .proved
  }

  /// What differs from the expectations: a result that changed, an
  /// expected claim that was not produced, a refutation that did not replay.
  public func mismatches(_ reports: [TheoremReport], filtered: Bool) -> [String] {
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

public struct ExpectationsError: Error, CustomStringConvertible {
  public var file: String
  public var line: Int
  public var message: String
  public var description: String { "\(file):\(line): error: \(message)" }
}
