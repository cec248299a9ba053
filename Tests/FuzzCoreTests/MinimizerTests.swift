import FuzzCore
import P2MImpl
import Scenario
import Spec
import Testing

/// ddmin (Zeller and Hildebrandt 2002) and the scenario minimizer.
@Suite("Minimizer")
struct MinimizerTests {
  @Test("ddmin isolates the three items a synthetic failure needs, in order")
  func isolates() {
    var calls = 0
    let result = ddmin(Array(0..<100)) { subset in
      calls += 1
      return subset.contains(17) && subset.contains(42) && subset.contains(73)
    }
    #expect(result == [17, 42, 73])
    #expect(calls < 200, "\(calls) tests")
  }

  @Test("ddmin's result is 1-minimal for seeded random monotone and non-monotone predicates")
  func oneMinimal() {
    var random = SplitMix64(seed: 0xDD_0001)
    for round in 0..<50 {
      let count = 5 + Int(random.next() % 60)
      let needed = Set((0..<(1 + random.next() % 4)).map { _ in Int(random.next() % UInt64(count)) })
      let forbiddenPair = (Int(random.next() % UInt64(count)), Int(random.next() % UInt64(count)))
      // Fails when every needed item is there, unless both of a pair are
      // (a non-monotone predicate, as real failures often are).
      func fails(_ subset: [Int]) -> Bool {
        needed.isSubset(of: subset) && !(forbiddenPair.0 != forbiddenPair.1 && subset.contains(forbiddenPair.0) && subset.contains(forbiddenPair.1)
          && !needed.contains(forbiddenPair.0) && !needed.contains(forbiddenPair.1))
      }
      let items = Array(0..<count)
      guard fails(items) else { continue }
      let result = ddmin(items, fails)
      #expect(fails(result), "round \(round)")
      for index in result.indices {
        var without = result
        without.remove(at: index)
        #expect(!fails(without), "round \(round): \(result) without \(result[index]) still fails")
      }
    }
  }

  @Test("ddmin of a failure needing nothing is empty")
  func empty() {
    #expect(ddmin([1, 2, 3]) { _ in true } == [])
  }

  /// Two bugs at once: the stale TLB (fails at the ungrant) and XSA-393
  /// (fails at the p2m unmap, seeded). The first failure is the TLB one.
  static let twoBugs = P2MFactory(makeTables: P2MFactory.xen.makeTables, makeCode: { StaleOnUnmapP2M() })

  @Test("minimizing never drifts to another bug, even when dropping operations would expose one")
  func noDrift() throws {
    let lines = FuzzConfiguration().platform.map(ScenarioPrinter.line(for:)) + [
      "dma nic to-device 0x40000000 0x40",
      "p2m dom0 map 0x50003000 0x40800000 ram_rw hw-invalid",
      "grant guest 0x80001000 to dom0 at 0x50000000 rw as g0",
      "attach gpu dom0",
      "ungrant g0",
      "p2m dom0 unmap 0x50003000",
      "dma gpu from-device 0x40001000 0x40",
    ]
    let checker = ScenarioChecker(makeP2M: Self.twoBugs)
    let scenario = try parse(lines.joined(separator: "\n"))
    try SeededBug.removalKeepsHWInvalidEntry.inject {
      let original = try #require(checker.check(scenario).failure)
      #expect(original.signature == FuzzFailure.Signature(oracle: .specVersusImplementation, property: "tlb", operation: "ungrant"))
      let result = try #require(Minimizer(checker: checker).minimize(scenario))
      #expect(result.failure.signature == original.signature)
      #expect(result.scenario.statements.map(\.kind).filter(FuzzEncoder.isOperation).map(\.operationName) == ["grant", "ungrant"])
    }
  }

  @Test("values move toward canonical ones without changing the failure")
  func canonicalValues() throws {
    var configuration = FuzzConfiguration()
    configuration.untranslatedMMC = true
    configuration.smmuVersion = .v3
    let lines = configuration.platform.map(ScenarioPrinter.line(for:)) + [
      "grant guest 0x80003000 to dom0 at 0x501ff000 ro as g0", "dma mmc from-device 0x40100ff0 0x2000", "ungrant g0",
    ]
    let checker = ScenarioChecker(makeP2M: StaleOnUnmapP2M.make)
    let result = try #require(Minimizer(checker: checker).minimize(try parse(lines.joined(separator: "\n"))))
    let expected = FuzzConfiguration().platform.map(ScenarioPrinter.line(for:)) + [
      "grant guest 0x80000000 to dom0 at 0x50000000 rw as g0", "ungrant g0",
    ]
    #expect(ScenarioPrinter.print(result.scenario) == expected.joined(separator: "\n") + "\n")
  }

  @Test("a passing scenario has nothing to minimize")
  func passing() throws {
    #expect(Minimizer().minimize(try parse(FuzzConfiguration().platform.map(ScenarioPrinter.line(for:)).joined(separator: "\n"))) == nil)
  }

  @Test("a 200-operation failing input shrinks to a 1-minimal scenario")
  func large() throws {
    var random = SplitMix64(seed: 0xDD_0200)
    let checker = ScenarioChecker(makeP2M: StaleOnUnmapP2M.make)
    // Random operations that pass on the broken implementation, with the
    // bug's trigger (a grant later unmapped) somewhere in the middle.
    var operations: [UInt8] = []
    while operations.count < 200 * 3 {
      let record = (0..<3).map { _ in UInt8(truncatingIfNeeded: random.next()) }
      if [2, 3, 10, 13].contains(record[0] & 15) { continue }
      operations += record
    }
    operations.replaceSubrange(300..<306, with: [2, 1, 0, 3, 0, 0])
    let scenario = FuzzDecoder.decode([0, 0] + operations)
    let failure = try #require(checker.check(scenario).failure)
    #expect(scenario.statements.filter { FuzzEncoder.isOperation($0.kind) }.count >= 150)
    let minimized = try #require(Minimizer(checker: checker).minimize(scenario))
    #expect(minimized.failure.signature == failure.signature)
    let platform = minimized.scenario.statements.prefix { !FuzzEncoder.isOperation($0.kind) }
    let kept = Array(minimized.scenario.statements.dropFirst(platform.count))
    for index in kept.indices {
      var without = kept
      without.remove(at: index)
      #expect(checker.check(Scenario(statements: platform + without)).failure?.signature != failure.signature,
              "removing \(ScenarioPrinter.line(for: kept[index].kind)) keeps the failure")
    }
  }
}
