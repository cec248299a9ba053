import Foundation
import SystemIO
import Testing

@Suite("JSON text")
struct JSONTextTests {
  struct Named: Codable, Equatable {
    var name: String
  }

  @Test("DEL and C1 controls are escaped as \\u00XX; the text decodes to the same string")
  func controlsEscaped() throws {
    let name = "a\u{7F}b\u{80}c\u{9B}[2Jd\u{9F}e\u{A0}f\u{1B}g"
    let text = try JSONText.encode(Named(name: name))
    #expect(text.contains(#"a\u007fb\u0080c\u009b[2Jd\u009fe"#), "\(text)")
    #expect(!text.unicodeScalars.contains { $0.value == 0x7F || (0x80...0x9F).contains($0.value) })
    #expect(text.contains("e\u{A0}f"), "U+00A0 is not a control and stays")
    #expect(text.contains(#"\u001b"#), "C0 controls stay escaped as JSONEncoder does")
    #expect(try JSONDecoder().decode(Named.self, from: Data(text.utf8)) == Named(name: name))
  }

  @Test("text without such characters is what JSONEncoder writes")
  func plainUnchanged() throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    let value = Named(name: "plain ✓ ü")
    #expect(try JSONText.encode(value) == String(decoding: try encoder.encode(value), as: UTF8.self))
  }
}
