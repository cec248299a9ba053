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
}

public struct ExpectationsError: Error, CustomStringConvertible {
  public var file: String
  public var line: Int
  public var message: String
  public var description: String { "\(file):\(line): error: \(message)" }
}
