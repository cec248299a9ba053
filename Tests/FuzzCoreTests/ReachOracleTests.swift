import FuzzCore
import Scenario
import Testing

@testable import Spec

/// The cross-domain reach oracle judges the spec's own grant code: silent
/// on Xen's, and it sees a 1:1 entry that outlives its grants.
@Suite("Cross-domain reach oracle")
struct ReachOracleTests {
  static let grantAndUnmap = ["grant guest 0x80001000 to dom0 at 0x50000000 rw as g0", "ungrant g0"]

  static func execution(_ operations: [String], seeding bugs: [SeededBug] = []) throws -> ScenarioExecution {
    var execution = ScenarioExecution()
    let scenario = try P2MOracleTests.scenario(operations)
    try SeededBug.inject(bugs) {
      for statement in scenario.statements { _ = try execution.execute(statement) }
    }
    return execution
  }

  @Test("Xen's grant map and unmap leave dom0's devices no frame without a right; the checker passes")
  func realGrantCode() throws {
    let mapped = try Self.execution([Self.grantAndUnmap[0]])
    #expect(mapped.xen?.domains[.dom0]?.p2m.lookup(GFN(0x40801))?.type == .iommuMapRW, "the 1:1 entry exists while the grant does")
    #expect(ReachOracle.violations(in: mapped).isEmpty)
    #expect(ReachOracle.violations(in: try Self.execution(Self.grantAndUnmap)).isEmpty)
    #expect(ScenarioChecker().check(try P2MOracleTests.scenario(Self.grantAndUnmap)).passed)
  }

  @Test("an unmap whose mapkind() counts the map being removed leaves the 1:1 entry writable: a write violation at the frame")
  func oneToOneOutlivesItsGrant() throws {
    let violations = ReachOracle.violations(in: try Self.execution(Self.grantAndUnmap, seeding: [.unmapCountsRemovedMap]))
    let violation = try #require(violations.first)
    #expect(violation.writable)
    #expect(violation.entry == P2MEntry(mfn: MFN(0x40801), type: .iommuMapRW))
    #expect(violation.description.hasSuffix("with no live writable grant map of it (a 1:1 entry that outlived its grants)"), "\(violation)")
  }

  @Test("entries a raw p2m statement wrote are exempt; a raw grant_map_rw entry without its grant is not, when not exempt")
  func rawEntries() throws {
    let raw = ["p2m dom0 map 0x50000000 0x40801000 grant_map_rw"]
    let execution = try Self.execution(raw)
    #expect(ReachOracle.violations(in: execution).count == 1)
    #expect(ReachOracle.violations(in: execution, exempt: [.dom0: [0x50000]]).isEmpty)
    #expect(ScenarioChecker().check(try P2MOracleTests.scenario(raw)).passed, "the checker exempts what raw statements wrote")
  }

  @Test("a writable grant after a read-only one of the same frame makes the 1:1 entry writable; a grant code that does not upgrade it fails granted-write at the second grant")
  func grantedWriteUpgrade() throws {
    let operations = ["grant guest 0x80001000 to dom0 at 0x50001000 ro as g0", "grant guest 0x80001000 to dom0 at 0x50000000 rw as g1", "ungrant g1"]
    let scenario = try P2MOracleTests.scenario(operations)
    #expect(ScenarioChecker().check(scenario).passed)
    #expect(try Self.execution(Array(operations.prefix(2))).xen?.domains[.dom0]?.p2m.lookup(GFN(0x40801))?.type == .iommuMapRW)
    let failure = try #require(SeededBug.grantRWAfterRONotUpgraded.inject { ScenarioChecker().check(scenario) }.failure)
    #expect(failure.oracle == .reach && failure.property == "granted-write" && failure.operation == "grant", "\(failure)")
    #expect(failure.stepIndex == FuzzConfiguration().platform.count + 1)
    #expect(failure.detail.contains("iommu_map_ro"), "\(failure.detail)")
  }
}

