import Foundation
import Testing

@testable import FuzzCore
import TestSupport

/// Regression scenarios get a name that is one path component whatever the
/// failure's property is, and land in the package's corpus wherever in the
/// package `minimize` runs.
@Suite("Regression file names and place")
struct RegressionFileTests {

  @Test(
    "unsafe characters become _, runs of them one",
    arguments: [
      ("dma.matrix[global-flag/coloured/attached].integrity", "dma.matrix_global-flag_coloured_attached_.integrity"),
      ("p2m unmap", "p2m_unmap"),
      ("../../etc/passwd", "_._.._etc_passwd"),
      (".hidden", "_hidden"),
      ("-o/x", "_o_x"),
      ("café ☕", "caf_"),
      ("a\nb\tc", "a_b_c"),
      ("", "_"),
      ("spec-vs-impl-tlb-ungrant", "spec-vs-impl-tlb-ungrant"),
    ])
  func safeNames(text: String, expected: String) {
    #expect(RegressionFile.safeName(text) == expected)
  }

  @Test("a DMA-matrix signature names one file in the directory")
  func matrixSignature() {
    let signature = FuzzFailure.Signature(
      oracle: .dmaProperty, property: "dma.matrix[global-flag/direct-mapped/not-behind-smmu/grant/one-page/after-fix].integrity",
      operation: "dma")
    let name = RegressionFile.name(for: signature)
    #expect(name == "dma-property-dma.matrix_global-flag_direct-mapped_not-behind-smmu_grant_one-page_after-fix_.integrity-dma")
    #expect(URL(fileURLWithPath: "/r").appendingPathComponent(name + ".scn").pathComponents.count == 3)
  }

  @Test("long names are bounded and stay distinct")
  func longNames() {
    let long = String(repeating: "x", count: 400)
    let a = RegressionFile.safeName(long + "a")
    let b = RegressionFile.safeName(long + "b")
    #expect(a.count == RegressionFile.maximumNameLength)
    #expect(b.count == RegressionFile.maximumNameLength)
    #expect(a != b)
    #expect(RegressionFile.safeName(long + "a") == a, "the same text gives the same name in every run")
  }

  @Test("the package root is found from any directory inside the package, and not outside it")
  func packageRoot() throws {
    let inside = repository.appendingPathComponent("Sources/FuzzCore")
    #expect(RegressionFile.packageRoot(from: inside)?.standardizedFileURL.path == repository.standardizedFileURL.path)
    let outside = FileManager.default.temporaryDirectory.appendingPathComponent("dmaverify-noroot-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: outside, withIntermediateDirectories: true)
    #expect(RegressionFile.packageRoot(from: outside) == nil)
  }
}
