import FuzzCore
import P2MImpl
import Scenario
import Spec
import Testing

/// The spec-versus-implementation oracle finds known bugs put back into
/// `XenP2M`, and passes the real one (so it is neither vacuous nor noisy).
@Suite("Spec versus implementation oracle")
struct P2MOracleTests {
  static func scenario(_ operations: [String]) throws -> Scenario {
    try parse((FuzzConfiguration().platform.map(ScenarioPrinter.line(for:)) + operations).joined(separator: "\n"))
  }

  /// XSA-393 (`a428b913a0`): a removal must zero a hardware-invalid entry.
  static let xsa393 = ["p2m dom0 map 0x50000000 0x40800000 grant_map_rw hw-invalid", "p2m dom0 unmap 0x50000000"]

  @Test("the XSA-393 mutant keeps the removed entry: a lookup mismatch at the unmap, with spec and impl values")
  func xsa393Mutant() throws {
    let scenario = try Self.scenario(Self.xsa393)
    let result = SeededBug.removalKeepsHWInvalidEntry.inject { ScenarioChecker().check(scenario) }
    let failure = try #require(result.failure)
    #expect(failure.signature == FuzzFailure.Signature(oracle: .specVersusImplementation, property: "lookup", operation: "p2m unmap"))
    #expect(failure.stepIndex == FuzzConfiguration().platform.count + 1)
    #expect(failure.detail == "d0 gfn:0x50000: spec unmapped, impl mfn:0x40800 grant_map_rw (hw-invalid)")
    #expect(result.trace.contains(">>  12  p2m dom0 unmap 0x50000000"))
    #expect(ScenarioChecker().check(try Self.scenario(Self.xsa393)).passed, "the fixed XenP2M passes")
  }

  @Test("on Xen 4.16 (before XSA-393) the spec and the implementation both keep the removed hardware-invalid entry")
  func xsa393ByRelease() throws {
    var configuration = FuzzConfiguration()
    configuration.xen = XenVersion(name: "4.16")!
    let scenario = try parse((configuration.platform.map(ScenarioPrinter.line(for:)) + Self.xsa393).joined(separator: "\n"))
    #expect(ScenarioChecker().check(scenario).passed, "the implementation runs 4.16's removal")
    let report = try ScenarioRunner.run(scenario)
    #expect(report.refusedSteps.isEmpty)
    var execution = ScenarioExecution()
    for statement in scenario.statements { _ = try execution.execute(statement) }
    #expect(execution.xen?.domains[.dom0]?.p2m.lookup(GFN(0x50000))?.hardwareValid == false)
  }

  @Test("a TLB not invalidated on unmap serves the ungranted page: a TLB mismatch at the ungrant")
  func staleTLB() throws {
    let operations = ["grant guest 0x80001000 to dom0 at 0x50000000 rw as g0", "ungrant g0"]
    let result = ScenarioChecker(makeP2M: StaleOnUnmapP2M.make).check(try Self.scenario(operations))
    let failure = try #require(result.failure)
    #expect(failure.signature == FuzzFailure.Signature(oracle: .specVersusImplementation, property: "tlb", operation: "ungrant"))
    #expect(failure.detail.hasPrefix("d0 ipa 0x50000123 read: spec translation fault, impl through the TLB 0x40801123"))
    #expect(ScenarioChecker().check(try Self.scenario(operations)).passed)
  }

  /// XSA-301 (a): a GFN beyond the root tables aliased a low one instead
  /// of failing (seeded bug gfn-top-bits-aliased). Put back as p2m code over
  /// Xen's tables.
  struct AliasingP2M: P2MUnderTest {
    mutating func set(_ gfn: GFN, count: UInt64, to entry: P2MEntry?, in tables: inout XenP2M) throws(XenP2MError) {
      try tables.set(GFN(gfn.rawValue % tables.rootGFNLimit), count: count, to: entry)
    }
  }

  @Test("an update the spec refuses beyond the root tables must be refused: the aliasing mutant accepts it")
  func refusedUpdatesForwarded() throws {
    let operations = ["p2m dom0 map 0x10000000000 0x40800000 ram_rw"]
    let result = ScenarioChecker(makeP2M: P2MFactory(makeCode: { AliasingP2M() })).check(try Self.scenario(operations))
    let failure = try #require(result.failure)
    #expect(failure.signature == FuzzFailure.Signature(oracle: .specVersusImplementation, property: "refusal", operation: "p2m map"))
    #expect(failure.detail.hasPrefix("d0 gfn:0x10000000: the spec refused: "), "\(failure.detail)")
    #expect(failure.detail.hasSuffix("the implementation accepted it (its root tables end at gfn 0x10000000)"), "\(failure.detail)")
    #expect(ScenarioChecker().check(try Self.scenario(operations)).passed)
  }

  @Test("a split inside dom0's 2 MiB block, a 1:1 grant entry and a foreign map agree with the spec")
  func realImplementationExamples() throws {
    let operations = [
      "p2m dom0 map 0x40001000 0x40c00000 ram_ro", "grant guest 0x80001000 to dom0 at 0x50000000 ro as g0",
      "foreign guest 0x80002000 into dom0 at 0x50001000 as f0", "ungrant g0", "unforeign f0", "p2m dom0 unmap 0x40002000",
    ]
    let result = ScenarioChecker().check(try Self.scenario(operations))
    #expect(result.passed, "\(result.trace)")
    #expect(result.steps == FuzzConfiguration().platform.count + operations.count)
  }

  @Test("XenP2M agrees with the spec on 300 seeded random 16-operation inputs")
  func randomAgreement() {
    var random = SplitMix64(seed: 0xF022_0201)
    let checker = ScenarioChecker()
    for index in 0..<300 {
      let input = randomInput(&random, records: 16)
      let result = checker.check(bytes: input)
      #expect(result.passed, "input \(index) (seed 0xF0220201):\n\(result.trace)")
    }
  }

  /// A foreign 2 MiB superpage replaced as a whole: `p2m_free_entry()`
  /// puts its 512 references (`p2m_put_l2_superpage()`, from 3e2121ce47);
  /// a single foreign page mapped and unmapped, one.
  static let foreignSuperpage = [
    "p2m dom0 map 0x50000000 0x40800000 map_foreign_rw size 2M",
    "p2m dom0 map 0x50000000 0x40c00000 ram_ro size 2M",
  ]

  @Test("references on foreign pages balance: a foreign map and unmap, a 2 MiB foreign superpage replaced")
  func referencesBalance() throws {
    let foreign = ["foreign guest 0x80002000 into dom0 at 0x50001000 as f0", "unforeign f0"]
    // Xen's leak: the grant of the same frame over the foreign entry keeps
    // its reference (the MFN is unchanged, so nothing is freed), which the
    // oracle counts apart instead of failing.
    let leak = ["foreign guest 0x80002000 into dom0 at 0x50001000 as f0", "grant guest 0x80002000 to dom0 at 0x50001000 ro as g0"]
    // A raw 1 GiB foreign map takes no references (no hypercall makes
    // one); its frames are set aside, not compared.
    let gigabyte = ["p2m dom0 map 0x40000000 0x40000000 map_foreign_ro size 1G", "p2m dom0 map 0x40000000 0x0 map_foreign_ro size 1G"]
    for operations in [foreign, leak, Self.foreignSuperpage, Self.foreignSuperpage.dropLast() + ["p2m dom0 unmap 0x50001000"], gigabyte] {
      let execution = ScenarioChecker().check(try Self.scenario(operations))
      #expect(execution.passed, "\(operations): \(execution.trace)")
    }
  }

  @Test("a superpage removed without p2m_put_l2_superpage() (before Xen 4.19) keeps 512 references: page-references at the replacement")
  func superpageReferencesKept() throws {
    let scenario = try Self.scenario(Self.foreignSuperpage)
    let failure = try #require(SeededBug.foreignSuperpageReferencesKept.inject { ScenarioChecker().check(scenario) }.failure)
    #expect(failure.signature == FuzzFailure.Signature(oracle: .specVersusImplementation, property: "page-references", operation: "p2m map"))
    #expect(failure.detail == "mfn:0x40800: the implementation holds 1 reference for foreign mappings, Xen's accounting of the spec's changes 0", "\(failure.detail)")
  }

  @Test("lean mode finds the same implementation bugs as full mode")
  func leanMode() throws {
    let lean = ScenarioChecker(mode: .lean)
    let scenario = try Self.scenario(Self.xsa393)
    SeededBug.removalKeepsHWInvalidEntry.inject {
      #expect(lean.check(scenario).failure?.property == "lookup")
      #expect(lean.check(scenario).failure?.property == "lookup", "again, from the boot cache")
    }
  }

  /// The domU's RAM is one 2 MiB block; removing it whole needs no table.
  static let blockRemoval = ["p2m guest unmap 0x80000000 size 2M"]

  @Test("a removal that shatters a whole 2 MiB block (before 3fafdc28eb) takes a table page: table-pages at the unmap")
  func removalShattersBlock() throws {
    let scenario = try Self.scenario(Self.blockRemoval)
    let failure = try #require(SeededBug.removalShattersSuperpages.inject { ScenarioChecker().check(scenario) }.failure)
    #expect(failure.signature == FuzzFailure.Signature(oracle: .specVersusImplementation, property: "table-pages", operation: "p2m unmap"))
    #expect(failure.detail.hasPrefix("d1 gfn:0x80000+512: removing a 2 MiB-aligned range took 1 table page from the pool"), "\(failure.detail)")
    #expect(ScenarioChecker().check(scenario).passed, "the fixed XenP2M removes the block whole")
  }

  @Test("removals that must split are not table-pages failures: 4K out of a block, 2 MiB out of a 1 GiB block")
  func splittingRemovals() throws {
    let operations = [
      "p2m guest unmap 0x80001000", "p2m dom0 map 0x80000000 0x80000000 ram_rw size 1G", "p2m dom0 unmap 0x80200000 size 2M",
      "p2m dom0 unmap 0x80400000",
    ]
    let result = ScenarioChecker().check(try Self.scenario(operations))
    #expect(result.passed, "\(result.trace)")
  }

  /// A 1 GiB block, then a 4K update inside it: Xen splits it twice.
  static let gigabyteSplit = ["p2m dom0 map 0x80000000 0x80000000 ram_rw size 1G", "p2m dom0 map 0x80201000 0x40800000 ram_ro"]

  @Test("a 1 GiB split whose children carry the table bit is seen at the update that splits it")
  func gigabyteSplit() throws {
    let scenario = try Self.scenario(Self.gigabyteSplit)
    let failure = try #require(SeededBug.gigabyteSplitChildrenAreTables.inject { ScenarioChecker().check(scenario) }.failure)
    #expect(failure.oracle == .specVersusImplementation && failure.stepIndex == FuzzConfiguration().platform.count + 1, "\(failure)")
    #expect(ScenarioChecker().check(scenario).passed)
  }

  @Test("before 4.17 a 2 MiB removal over a hardware-invalid entry is outside the model, named as such; from 4.17 both sides clear it")
  func blockRemovalOverHardwareInvalid() throws {
    let operations = ["p2m dom0 map 0x40001000 0x40001000 mmio_direct_c hw-invalid", "p2m dom0 unmap 0x40000000 size 2M"]
    var old = FuzzConfiguration()
    old.xen = XenVersion(name: "4.16")!
    let text = (old.platform.map(ScenarioPrinter.line(for:)) + operations).joined(separator: "\n")
    #expect(throws: ScenarioError.self) { try ScenarioRunner.run(try parse(text)) }
    do {
      _ = try ScenarioRunner.run(try parse(text))
    } catch {
      #expect("\(error)".contains("outside the model: removing 512 pages over a hardware-invalid entry (gfn:0x40001) on Xen 4.16"), "\(error)")
    }
    #expect(ScenarioChecker().check(try Self.scenario(operations)).passed, "Xen 4.21 clears every entry of the range")
    // The decoder keeps 2 MiB unmaps to 4.17 and later.
    var bytes = FuzzConfiguration.v2Marker + [0] + old.bytes
    bytes += [0x21, 0, 0]
    #expect(FuzzDecoder.decode(bytes).statements.last?.kind == .p2mUnmap(domain: "dom0", gfnAddress: 0x4000_0000))
  }

  // MARK: A p2m pool that runs dry

  static var tightPool: FuzzConfiguration {
    var configuration = FuzzConfiguration()
    configuration.format = .v2
    configuration.tightPool = true
    return configuration
  }

  static func scenario(_ operations: [String], _ configuration: FuzzConfiguration) throws -> Scenario {
    try parse((configuration.platform.map(ScenarioPrinter.line(for:)) + operations).joined(separator: "\n"))
  }

  /// With the fuzzer's tight pool one page is left once the guest's RAM
  /// is mapped: a 1 GiB block takes none, a page inside it must split it
  /// twice (two needed).
  static let gigabyteSplitRunsDry = ["p2m guest map 0x40000000 0x40000000 ram_rw size 1G", "p2m guest map 0x40001000 0x40002000 ram_rw"]

  @Test("the fuzzer's tight pool leaves one page after the guest's RAM, at every IPA size, coloured or not: one more table runs it dry, and the result says so")
  func tightPoolLeavesOnePage() throws {
    // Another 2 MiB region of the guest's 1 GiB region takes one level-3
    // table (its level-2 table exists); a third region finds none.
    let operations = ["p2m guest map 0x80200000 0x40000000 ram_rw", "p2m guest map 0x80400000 0x40001000 ram_rw"]
    for ipaBits in FuzzConfiguration.ipaSizes {
      for coloured in [false, true] {
        var configuration = Self.tightPool
        configuration.ipaBits = ipaBits
        configuration.coloured = coloured
        if coloured { configuration.xen = FuzzConfiguration.colouredVersions[0] }
        let first = ScenarioChecker().check(try Self.scenario(Array(operations.prefix(1)), configuration))
        #expect(first.passed && first.stopped == nil, "\(configuration): \(first.trace)")
        let result = ScenarioChecker().check(try Self.scenario(operations, configuration))
        #expect(result.passed, "\(configuration): \(result.trace)")
        let stopped = try #require(result.stopped, "\(configuration): the second map must run the pool dry")
        #expect(stopped.contains("p2m pool ran dry") && stopped.contains("needs 1 table page and 0 were free"), "\(stopped)")
        #expect(result.steps == configuration.platform.count + 2)
        #expect(result.trace.contains("not compared after statement \(result.steps - 1)"))
      }
    }
  }

  @Test("a split that runs the pool dry half-way is judged due; without a sized pool the same updates are compared to the end")
  func splitRunsDry() throws {
    let result = ScenarioChecker().check(try Self.scenario(Self.gigabyteSplitRunsDry, Self.tightPool))
    #expect(result.passed && result.stopped?.contains("needs 2 table pages and 1 was free") == true, "\(result.trace)")
    let roomy = ScenarioChecker().check(try Self.scenario(Self.gigabyteSplitRunsDry))
    #expect(roomy.passed && roomy.stopped == nil, "\(roomy.trace)")
  }

  @Test("a failed split that keeps the table it made loses a pool page: pool-accounting at the refused update")
  func failedSplitKeepsItsTable() throws {
    let scenario = try Self.scenario(Self.gigabyteSplitRunsDry, Self.tightPool)
    let failure = try #require(SeededBug.failedSplitKeepsItsTable.inject { ScenarioChecker().check(scenario) }.failure)
    #expect(failure.property == "pool-accounting" && failure.stepIndex == Self.tightPool.platform.count + 1, "\(failure)")
  }

  /// An implementation that refuses for want of a table while the pool
  /// still has a page (a reserve off by one).
  struct HoardingP2M: P2MUnderTest {
    mutating func set(_ gfn: GFN, count: UInt64, to entry: P2MEntry?, in tables: inout XenP2M) throws(XenP2MError) {
      if tables.memory.freeCount <= 1 && tables.memory.poolPages < 64 { throw .tableAllocationFailed(gfn, completedPages: 0) }
      try tables.set(gfn, count: count, to: entry)
    }
  }

  @Test("a refusal for want of tables while the pool had enough is pool-demand")
  func refusalWithPagesFree() throws {
    let broken = ScenarioChecker(makeP2M: P2MFactory(makeCode: { HoardingP2M() }))
    let failure = try #require(broken.check(try Self.scenario(["p2m guest map 0x80200000 0x40000000 ram_rw"], Self.tightPool)).failure)
    #expect(failure.property == "pool-demand" && failure.detail.contains("needs 1 table page at its deepest and 1 was free"), "\(failure)")
  }

  @Test("a domain whose RAM does not fit its pool stops the comparison at its creation, named as such")
  func ramOutgrowsPool() throws {
    var lines = FuzzConfiguration().platform.map(ScenarioPrinter.line(for:))
    lines[lines.count - 1] += " p2m-pool 0"
    let result = ScenarioChecker().check(try parse((lines + ["p2m guest map 0x0 0x40000000 ram_rw"]).joined(separator: "\n")))
    #expect(result.passed && result.stopped?.contains("does not fit its p2m pool of 0 pages") == true, "\(result.trace)")
  }

  @Test("a statement no oracle names is judged from its effects: remove-from-physmap splits dom0's block in the implementation, and a TLB left stale on unmap is seen at it")
  func newStatementJudgedFromEffects() throws {
    let operations = ["p2m dom0 map 0x40001000 0x40001000 ram_rw", "remove-from-physmap dom0 0x40001000", "remove-from-physmap dom0 0x40003000"]
    let scenario = try Self.scenario(operations)
    let result = ScenarioChecker().check(scenario)
    #expect(result.passed && result.stopped == nil, "\(result.trace)")
    let failure = try #require(ScenarioChecker(makeP2M: StaleOnUnmapP2M.make).check(scenario).failure)
    #expect(failure.property == "tlb" && failure.operation == "remove-from-physmap", "\(failure)")
  }
}

