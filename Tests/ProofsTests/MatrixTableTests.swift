import Claims
import Spec
import Testing

@testable import Proofs

/// The DMA matrix as `prove` prints it.
@Suite("DMA matrix table")
struct MatrixTableTests {
  @Test("a row title of 44 characters or more (global-flag / direct-mapped / not-behind-smmu) is kept apart from its first cell")
  func rowTitlesNeverRunIntoCells() {
    let cell = MatrixCell(policy: .globalFlag, layout: .direct, device: .untranslated, page: .local, shape: .onePage, xen: .before)
    let findings = DMAProperty.allCases.map { Finding(claim: cell.claimName($0), verdict: .proved, reason: "", seconds: 0) }
    let table = MatrixTable.render(findings)
    let row = (table.split(separator: "\n").first { $0.hasPrefix("global-flag / direct-mapped / not-behind-smmu") })
    let cells = row?.dropFirst("global-flag / direct-mapped / not-behind-smmu".count)
    #expect(cells?.hasPrefix("  ") == true, "\(row ?? "")")
    #expect(cells?.trimmingPrefix(while: { $0 == " " }).hasPrefix("✓") == true, "\(row ?? "")")
  }
}
