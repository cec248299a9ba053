import FuzzCore
import Scenario
import Spec
import Testing

/// The colour oracle states LLC isolation on its own, because the spec
/// and the implementation share the colour function.
@Suite("Colour oracle")
struct ColourOracleTests {
  static func coloured() throws -> Scenario {
    var configuration = FuzzConfiguration()
    configuration.coloured = true
    return try parse(configuration.platform.map(ScenarioPrinter.line(for:)).joined(separator: "\n"))
  }

  @Test("a coloured dom0 and domU are given frames of their own colours only")
  func realAllocator() throws {
    let result = ScenarioChecker().check(try Self.coloured())
    #expect(result.passed, "\(result.trace)")
  }

  @Test("a colour mask one bit short hands dom0 frames of another domain's colours: colour/llc-isolation at dom0")
  func maskOffByOne() throws {
    let scenario = try Self.coloured()
    let failure = try #require(SeededBug.colourMaskOffByOne.inject { ScenarioChecker().check(scenario) }.failure)
    #expect(failure.signature == FuzzFailure.Signature(oracle: .colour, property: "llc-isolation", operation: "dom0"))
    #expect(failure.detail.hasPrefix("d0 was given mfn:"), "\(failure.detail)")
    #expect(failure.detail.hasSuffix("its colours are 0,1,2,3,4,5,6,7"), "\(failure.detail)")
  }
}
