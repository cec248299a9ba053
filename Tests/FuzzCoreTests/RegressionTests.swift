import FuzzCore
import Foundation
import P2MImpl
import Spec
import Testing
import TestSupport

/// Every minimized regression in `corpus/regressions/`, every human
/// scenario in `corpus/scenarios/` and every seed in `corpus/fuzz/`
/// passes every oracle: the bug a regression records is
/// fixed, or the file states (with `expect`) the behaviour it documents.
/// This is how CI replays the corpus on every run.
@Suite("Corpus and regressions replay")
struct RegressionTests {
  static func files(_ directory: String) -> [String] {
    let path = repository.appendingPathComponent(directory).path
    return ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
      .map { "\(directory)/\($0)" }
  }

  @Test("each regression scenario passes", arguments: files("corpus/regressions"))
  func regression(file: String) throws {
    let input = try FuzzInput.load(repository.appendingPathComponent(file).path)
    let result = input.check(with: ScenarioChecker(claims: try DMAPropertyOracleTests.committedClaims()))
    #expect(result.passed, "\(file):\n\(result.trace)")
  }

  @Test("each human scenario passes, its expectations met", arguments: files("corpus/scenarios"))
  func scenario(file: String) throws {
    let result = try FuzzInput.load(repository.appendingPathComponent(file).path).check()
    #expect(result.passed, "\(file):\n\(result.trace)")
  }

  @Test("each seed input passes", arguments: files("corpus/fuzz"))
  func seed(file: String) throws {
    let result = try FuzzInput.load(repository.appendingPathComponent(file).path)
      .check(with: ScenarioChecker(claims: try DMAPropertyOracleTests.committedClaims()))
    #expect(result.passed, "\(file):\n\(result.trace)")
  }

  @Test("there are regressions to replay, and those recording implementation bugs still catch them")
  func regressionsBite() throws {
    #expect(Self.files("corpus/regressions").count >= 4)
    let xsa393 = try FuzzInput.load(repository.appendingPathComponent("corpus/regressions/spec-vs-impl-lookup-p2m-unmap-xsa393.scn").path)
    #expect(SeededBug.removalKeepsHWInvalidEntry.inject { xsa393.check(with: ScenarioChecker()).failure?.property } == "lookup")
    let stale = try FuzzInput.load(repository.appendingPathComponent("corpus/regressions/spec-vs-impl-tlb-ungrant.scn").path)
    #expect(stale.check(with: ScenarioChecker(makeP2M: StaleOnUnmapP2M.make)).failure?.property == "tlb")
  }
}
