/// Text from a device tree (node names, `compatible`, `model`, `status`)
/// and from the programs that read it (dtc's messages quote the source) is
/// untrusted: printed raw it could move the cursor, recolour or retitle a
/// terminal, hide text behind a bidirectional override, or start a line
/// that a scenario file would read as a statement. Every such character is
/// shown as an escape instead.
package enum Printable {
  /// `text` on one line: C0 controls (newlines included), DEL and C1
  /// controls as `\n`, `\r`, `\t` or `\xHH`; Unicode's line and paragraph
  /// separators and bidirectional controls as `\u{HHHH}`.
  package static func escaped(_ text: String) -> String {
    var result = ""
    result.unicodeScalars.reserveCapacity(text.unicodeScalars.count)
    for scalar in text.unicodeScalars {
      switch scalar.value {
      case 0x0a: result += "\\n"
      case 0x0d: result += "\\r"
      case 0x09: result += "\\t"
      case 0x00..<0x20, 0x7f..<0xa0: result += "\\x" + hexDigits(scalar.value, width: 2)
      case 0x2028, 0x2029, 0x200e, 0x200f, 0x202a...0x202e, 0x2066...0x2069, 0x061c:
        result += "\\u{" + hexDigits(scalar.value, width: 4) + "}"
      default: result.unicodeScalars.append(scalar)
      }
    }
    return result
  }

  /// Whether ``escaped(_:)`` leaves `text` as it is.
  package static func isPlain(_ text: String) -> Bool { escaped(text) == text }

  private static func hexDigits(_ value: UInt32, width: Int) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: max(0, width - digits.count)) + digits
  }
}
