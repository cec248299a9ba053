import Claims
import Foundation
import Proofs

/// The text report of `dmaverify prove`.
enum ProveText {
  static func render(_ reports: [TheoremReport], expectations: Expectations, problems: [String]) -> String {
    var lines: [String] = []
    // As wide as the longest name and two spaces: names are never cut.
    let nameWidth = max(28, (reports.map(\.theorem.count).max() ?? 0) + 2)
    lines.append("theorem".padding(toLength: nameWidth, withPad: " ", startingAt: 0) + "claims  proved  refuted  unknown  n/a    time")
    for report in reports {
      let count = { (verdict: Verdict) in report.findings.filter { $0.verdict == verdict }.count }
      let columns = [
        report.findings.count, count(.proved), count(.refuted), count(.unknown) + count(.vacuous), count(.inapplicable),
      ].map { String($0) }
      var line = report.theorem.padding(toLength: nameWidth, withPad: " ", startingAt: 0)
      for (value, width) in zip(columns, [8, 8, 9, 9, 5]) { line += value.padding(toLength: width, withPad: " ", startingAt: 0) }
      line += String(format: "%6.2fs", report.seconds)
      if let error = report.error { line += "  ERROR: \(error)" }
      lines.append(line)
    }
    let matrix = MatrixTable.render(reports.flatMap(\.findings))
    if !matrix.isEmpty {
      lines += ["", "DMA matrix (dma.matrix):", matrix]
    }
    let refuted = reports.flatMap(\.findings).filter { $0.verdict == .refuted || $0.verdict == .unknown || $0.verdict == .vacuous }
    if !refuted.isEmpty {
      lines += ["", "Counterexamples and open claims:"]
      for finding in refuted {
        let replay = finding.replayed.map { $0 ? " [replayed]" : " [DID NOT REPLAY]" } ?? ""
        lines.append("✗ \(finding.claim) \(finding.verdict.rawValue): \(finding.reason)\(replay)")
        if let scenario = finding.counterexample {
          // The platform lines are the cell's; show what the model chose.
          for line in scenario.split(separator: "\n") where line.hasPrefix("grant ") || line.hasPrefix("foreign ") || line.hasPrefix("dma ") || line.hasPrefix("p2m ") {
            lines.append("    " + line)
          }
        }
      }
    }
    var deciders: [String: Int] = [:]
    for report in reports { deciders.merge(report.deciders, uniquingKeysWith: +) }
    if !deciders.isEmpty {
      let counts = deciders.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
      let second = deciders.keys.contains { !$0.hasPrefix("Z3 ") } ? " (the second solver only proves; every counterexample is Z3's model)" : ""
      lines += ["", "Queries decided by: \(counts)\(second)"]
    }
    lines.append("")
    if problems.isEmpty {
      lines.append("Summary: every result matches the expectations")
    } else {
      lines.append("Summary: \(problems.count) result\(problems.count == 1 ? "" : "s") differ from the expectations:")
      lines += problems.map { "  " + $0 }
    }
    return lines.joined(separator: "\n")
  }
}

/// JUnit XML, one test case per claim, for CI dashboards.
enum JUnitReport {
  static func render(_ reports: [TheoremReport], expectations: Expectations) -> String {
    var xml = ["<?xml version=\"1.0\" encoding=\"UTF-8\"?>", "<testsuites>"]
    for report in reports {
      let failures = report.findings.filter { $0.verdict != expectations.expected(for: $0) || ($0.verdict == .refuted && $0.replayed == false) }
      xml.append("  <testsuite name=\"\(escape(report.theorem))\" tests=\"\(report.findings.count)\" failures=\"\(failures.count)\" errors=\"\(report.error == nil ? 0 : 1)\" time=\"\(report.seconds)\">")
      if let error = report.error { xml.append("    <error message=\"\(escape(error))\"/>") }
      for finding in report.findings {
        let expected = expectations.expected(for: finding)
        xml.append("    <testcase name=\"\(escape(finding.claim))\" classname=\"\(escape(report.theorem))\" time=\"\(finding.seconds)\">")
        if finding.verdict != expected || (finding.verdict == .refuted && finding.replayed == false) {
          xml.append("      <failure message=\"\(escape("\(finding.verdict.rawValue), expected \(expected.rawValue): \(finding.reason)"))\"/>")
        }
        xml.append("    </testcase>")
      }
      xml.append("  </testsuite>")
    }
    xml.append("</testsuites>")
    return xml.joined(separator: "\n") + "\n"
  }

  static func escape(_ text: String) -> String {
    text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
      .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
  }
}
