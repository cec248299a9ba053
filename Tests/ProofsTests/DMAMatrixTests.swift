import Foundation
import Spec
import Testing

@testable import Proofs

@Suite("DMA matrix")
struct DMAMatrixTests {
  func decide(_ name: String) throws -> [Finding] {
    let cell = try #require(MatrixCell(name: name))
    let session = try ProofSession(timeout: .seconds(10), seed: 1, dumpDirectory: nil)
    return try DMAMatrixTheorem.decide(cell, session: session, platform: try MatrixPlatform())
  }

  @Test("probe")
  func probe() throws {
    for name in [
      "legacy/direct-mapped/attached/grant/one-page/after-fix", "legacy/direct-mapped/attached/grant/one-page/before-fix",
      "legacy/coloured/attached/grant/one-page/after-fix", "global-flag/coloured/not-behind-smmu/local/straddling/after-fix",
    ] {
      for finding in try decide(name) {
        print(finding.claim, finding.verdict, finding.reason, finding.replayed as Any, String(format: "%.3f", finding.seconds))
        if let c = finding.counterexample { print(c) }
      }
    }
  }
}
