import Claims
import Testing

@testable import Proofs
@Suite("Expectations")
struct ExpectationsTests {
  static func report(_ findings: [Finding]) -> TheoremReport {
    TheoremReport(theorem: "t", summary: "", findings: findings, seconds: 0, error: nil)
  }

  @Test("parse: comments, blank lines, one claim per line")
  func parse() throws {
    let expectations = try Expectations.parse("# header\n\na.b refuted   # why\nc refuted\n", file: "e.txt")
    #expect(expectations.refuted == ["a.b", "c"])
  }

  @Test("parse errors name file and line", arguments: [("a proved\n", 1), ("\n\nx refuted\nx refuted\n", 4), ("just-a-name\n", 1)])
  func parseErrors(text: String, line: Int) {
    #expect(throws: ExpectationsError.self) { try Expectations.parse(text, file: "e.txt") }
    do { _ = try Expectations.parse(text, file: "e.txt") } catch { #expect(error.line == line && error.file == "e.txt") }
  }

  @Test("a changed result, an unreplayed refutation, a vacuous claim and a missing claim are mismatches")
  func mismatches() {
    let expectations = Expectations(refuted: ["r", "gone"])
    let reports = [
      Self.report([
        Finding(claim: "p", verdict: .proved, seconds: 0),
        Finding(claim: "r", verdict: .refuted, seconds: 0, replayed: false),
        Finding(claim: "q", verdict: .refuted, seconds: 0, replayed: true),
        Finding(claim: "v", verdict: .vacuous, seconds: 0),
        Finding(claim: "u", verdict: .unknown, seconds: 0),
        Finding(claim: "n", verdict: .inapplicable, seconds: 0),
      ])
    ]
    let problems = expectations.mismatches(reports, filtered: false)
    #expect(problems.count == 4, "\(problems)")
    #expect(problems.contains { $0.hasPrefix("r: the counterexample did not reproduce") })
    #expect(problems.contains { $0.hasPrefix("q: refuted, expected proved") })
    #expect(problems.contains { $0.hasPrefix("v: vacuous") })
    #expect(problems.contains { $0.hasPrefix("gone: expected refuted") })
    // A filtered run does not miss claims it did not run.
    #expect(expectations.mismatches(reports, filtered: true).count == 3)
  }

  @Test("render lists exactly the refuted claims and parses back")
  func roundTrip() throws {
    let text = Expectations.render([Self.report([Finding(claim: "a", verdict: .refuted, seconds: 0), Finding(claim: "b", verdict: .proved, seconds: 0)])])
    #expect(try Expectations.parse(text, file: "x").refuted == ["a"])
  }

  @Test("every claim name the catalogue produces can be listed: names with spaces parse back, none holds '#' or a line break")
  func catalogueNames() throws {
    let names = [
      "colour.allocation[16 colours].allocated", "dma.matrix[legacy/coloured/attached/grant/one-page/after-fix].integrity",
      "p2m.step[insert,order 9,40-bit].invariant",
    ]
    let text = Expectations.render([Self.report(names.map { Finding(claim: $0, verdict: .refuted, seconds: 0) })])
    #expect(try Expectations.parse(text, file: "x").refuted == Set(names))
    let catalogue = Catalogue.theorems.map(\.name) + MatrixCell.all.flatMap { cell in DMAProperty.allCases.map { cell.claimName($0) } }
    #expect(catalogue.allSatisfy { !$0.contains("#") && !$0.contains("\n") })
  }

  @Test("a dma.matrix-class claim is expected as its dma.matrix cell unless the file names it")
  func everyPlatformClaims() {
    let expectations = Expectations(refuted: ["dma.matrix[a].integrity", "dma.matrix-class[b].liveness"])
    func finding(_ claim: String) -> Finding { Finding(claim: claim, verdict: .proved, reason: "", seconds: 0) }
    #expect(expectations.expected(for: finding("dma.matrix-class[a].integrity")) == .refuted)
    #expect(expectations.expected(for: finding("dma.matrix-class[a].isolation")) == .proved)
    #expect(expectations.expected(for: finding("dma.matrix-class[b].liveness")) == .refuted)
    #expect(expectations.expected(for: finding("dma.class[a].integrity")) == .proved)
  }

  @Test("matrix symbols: ✓, F, C, F/C, n/a, ?")
  func symbols() {
    func cell(_ verdicts: [DMAProperty: Verdict], integrityReason: String = "") -> String {
      MatrixTable.symbol(verdicts.mapValues { Finding(claim: "", verdict: $0, reason: "", seconds: 0) }.merging(
        verdicts[.integrity].map { [.integrity: Finding(claim: "", verdict: $0, reason: integrityReason, seconds: 0)] } ?? [:]) { $1 })
    }
    #expect(cell([.integrity: .proved, .isolation: .proved, .liveness: .proved]) == "✓")
    #expect(cell([.integrity: .refuted, .isolation: .proved, .liveness: .refuted], integrityReason: "fault via") == "F")
    #expect(cell([.integrity: .refuted, .isolation: .proved, .liveness: .proved], integrityReason: "corruption via") == "C")
    #expect(cell([.integrity: .refuted, .isolation: .refuted, .liveness: .refuted], integrityReason: "corruption via") == "F/C")
    #expect(cell([.integrity: .inapplicable, .isolation: .inapplicable, .liveness: .inapplicable]) == "n/a")
    #expect(cell([.integrity: .unknown, .isolation: .proved, .liveness: .proved]) == "?")
  }
}
