import Testing

@testable import DeviceTree

@Suite("Printable text from a device tree")
struct PrintableTests {
  @Test("printable text: controls, DEL, C1 and bidirectional overrides escaped; the rest kept")
  func printable() {
    #expect(Printable.escaped("a\nb\r\tc") == "a\\nb\\r\\tc")
    #expect(Printable.escaped("\u{1b}[31mred\u{7f}\u{9b}") == "\\x1b[31mred\\x7f\\x9b")
    #expect(Printable.escaped("abc\u{202e}txt.exe") == "abc\\u{202e}txt.exe")
    #expect(Printable.escaped("/soc/ethernet@ff0b0000 (cdns,gem) café ✓") == "/soc/ethernet@ff0b0000 (cdns,gem) café ✓")
    #expect(Printable.isPlain("plain"))
    #expect(!Printable.isPlain("\u{0}"))
  }
}
