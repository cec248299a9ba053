import Foundation

/// JSON reports as text: pretty-printed, keys sorted, and every control
/// character escaped.
///
/// JSONEncoder escapes U+0000–U+001F but writes DEL (U+007F) and the C1
/// controls (U+0080–U+009F) raw. They are valid JSON either way, but raw
/// they reach whatever shows the report — a terminal takes U+009B as CSI —
/// and names in reports come from untrusted device trees and scenarios.
package enum JSONText {
  /// `value` encoded, with DEL and C1 controls as `\u00XX` escapes.
  package static func encode(_ value: some Encodable) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    return escapingControls(String(decoding: try encoder.encode(value), as: UTF8.self))
  }

  /// `json` with every DEL and C1 control written as a `\u00XX` escape.
  /// Outside strings JSON has only ASCII punctuation, letters, digits and
  /// whitespace, so every such character is inside a string, where the
  /// escape means the same character.
  package static func escapingControls(_ json: String) -> String {
    guard json.unicodeScalars.contains(where: isEscaped) else { return json }
    var escaped = String.UnicodeScalarView()
    for scalar in json.unicodeScalars {
      if isEscaped(scalar) {
        escaped.append(contentsOf: String(format: "\\u%04x", scalar.value).unicodeScalars)
      } else {
        escaped.append(scalar)
      }
    }
    return String(escaped)
  }

  static func isEscaped(_ scalar: Unicode.Scalar) -> Bool {
    scalar.value == 0x7F || (0x80...0x9F).contains(scalar.value)
  }
}
