import Foundation

/// Which claims are expected to be refuted: data, reviewed against the
/// fact sheet's §3.6, so that a changed result fails CI.
///
/// The file lists one refuted claim per line (`dma.matrix[…].liveness
/// refuted`), `#` starts a comment; a claim name may contain spaces but
/// never `#` or a line break. Every claim not listed is expected proved, except
/// matrix cells that do not exist (`n/a`, e.g. colouring before Xen 4.20),
/// which are expected `n/a`.
package struct Expectations: Sendable {
  package var refuted: Set<String>

  package init(refuted: Set<String>) {
    self.refuted = refuted
  }

  /// - Throws: ``ExpectationsError`` naming the line of anything that is not
  ///   a claim name.
  package static func parse(_ text: String, file: String) throws(ExpectationsError) -> Expectations {
    var refuted = Set<String>()
    for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
      let line = rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init)?
        .trimmingCharacters(in: .whitespaces) ?? ""
      guard !line.isEmpty else { continue }
      // A claim name may contain spaces (`colour.allocation[16 colours].…`),
      // so the verdict is the last word and the name everything before it.
      let suffix = " refuted"
      let claim = line.hasSuffix(suffix) ? String(line.dropLast(suffix.count)).trimmingCharacters(in: .whitespaces) : ""
      guard !claim.isEmpty else {
        throw ExpectationsError(file: file, line: index + 1, message: "expected '<claim> refuted', found '\(line)'")
      }
      guard refuted.insert(claim).inserted else {
        throw ExpectationsError(file: file, line: index + 1, message: "\(claim) is listed twice")
      }
    }
    return Expectations(refuted: refuted)
  }
}

package struct ExpectationsError: Error, CustomStringConvertible {
  package var file: String
  package var line: Int
  package var message: String
  package var description: String { "\(file):\(line): error: \(message)" }
}
