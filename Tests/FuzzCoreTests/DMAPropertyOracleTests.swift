import Claims
import Foundation
@testable import FuzzCore
import Scenario
import Spec
import Testing
import TestSupport

/// Oracle (b): scenario expectations, and the proofs' `dma.matrix` claims
/// applied to every DMA that falls in a cell (``DMAClaims``).
@Suite("DMA property oracle")
struct DMAPropertyOracleTests {
  static func scenario(_ operations: [String], on configuration: FuzzConfiguration = FuzzConfiguration()) throws -> Scenario {
    try parse((configuration.platform.map(ScenarioPrinter.line(for:)) + operations).joined(separator: "\n"))
  }

  static func committedClaims() throws -> DMAClaims {
    try DMAClaims.load(repository.appendingPathComponent(DMAClaims.defaultPath).path)
  }

  @Test("an unmet expectation is a dma-property/expectation failure naming both outcomes")
  func unmetExpectation() throws {
    let result = ScenarioChecker().check(try Self.scenario(["dma nic to-device 0x40000000 0x40 expect corruption"]))
    let failure = try #require(result.failure)
    #expect(failure.signature == FuzzFailure.Signature(oracle: .dmaProperty, property: "expectation", operation: "dma"))
    #expect(failure.detail.hasPrefix("expected corruption, got ok"))
    #expect(ScenarioChecker().check(try Self.scenario(["dma nic to-device 0x40000000 0x40 expect ok"])).passed)
  }

  /// The cell of `dma` in the spec state after `operations`, with the
  /// history the oracle would have kept.
  static func cell(
    _ operations: [String], on configuration: FuzzConfiguration = FuzzConfiguration(), dma: DMARequest
  ) throws -> CellMatch {
    var execution = ScenarioExecution()
    var oracle = DMAPropertyOracle(claims: .none)
    let implementation = ImplementationState()
    for (index, statement) in try scenario(operations, on: configuration).statements.enumerated() {
      oracle.prepare(StepContext(index: index, statement: statement, spec: execution, implementation: implementation))
      let report = try execution.execute(statement)
      _ = oracle.check(StepContext(index: index, statement: statement, spec: execution, implementation: implementation), report: report)
    }
    return DMAClaims.cell(of: dma, in: execution, history: oracle.history)
  }

  static let grant = "grant guest 0x80001000 to dom0 at 0x50000000 rw as g0"
  static let foreign = "foreign guest 0x80002000 into dom0 at 0x50001000 as f0"
  static func write(_ address: UInt64, size: UInt64 = 0x40, by device: String = "nic") -> DMARequest {
    DMARequest(device: device, buffer: address, size: size, direction: .fromDevice)
  }

  static func cellNamed(_ name: String) -> CellMatch { .cell(MatrixCell(name: name)!) }

  @Test("a DMA's cell: layout, device class, page kind, shape and Xen side read off the spec's state")
  func classification() throws {
    #expect(try Self.cell([], dma: Self.write(0x4000_0000)) == Self.cellNamed("legacy/direct-mapped/attached/local/one-page/after-fix"))
    #expect(try Self.cell([Self.grant], dma: Self.write(0x5000_0000)) == Self.cellNamed("legacy/direct-mapped/attached/grant/one-page/after-fix"))
    #expect(try Self.cell([Self.foreign], dma: Self.write(0x5000_1000)) == Self.cellNamed("legacy/direct-mapped/attached/foreign/one-page/after-fix"))
    #expect(try Self.cell([], dma: Self.write(0x4000_0FF0)) == Self.cellNamed("legacy/direct-mapped/attached/local/straddling/after-fix"))
    var configuration = FuzzConfiguration()
    configuration.coloured = true
    configuration.policy = .globalFlag
    #expect(try Self.cell([], on: configuration, dma: Self.write(0x4000_0000)) == Self.cellNamed("global-flag/coloured/attached/local/one-page/after-fix"))
    configuration = FuzzConfiguration()
    configuration.xen = XenVersion(name: "4.14")!
    configuration.untranslatedMMC = true
    configuration.undescribedDSP = true
    #expect(try Self.cell([Self.grant], on: configuration, dma: Self.write(0x5000_0000, by: "mmc"))
      == Self.cellNamed("legacy/direct-mapped/not-behind-smmu/grant/one-page/before-fix"))
    #expect(try Self.cell([], on: configuration, dma: Self.write(0x4000_0000, by: "dsp"))
      == Self.cellNamed("legacy/direct-mapped/undescribed/local/one-page/before-fix"))
  }

  @Test("each hypothesis of the matrix puts a DMA outside every cell")
  func hypotheses() throws {
    func outside(_ match: CellMatch) -> Bool { if case .outside = match { true } else { false } }
    var configuration = FuzzConfiguration()
    // Xen 4.15 (the grant fix, no feature flags yet) is in the after-fix
    // cells now: the matrix decides every release on each side of the fix.
    configuration.xen = XenVersion(name: "4.15")!
    #expect(!outside(try Self.cell([], on: configuration, dma: Self.write(0x4000_0000))), "Xen 4.15 is an after-fix release")
    configuration = FuzzConfiguration()
    configuration.iommu = false
    #expect(outside(try Self.cell([], on: configuration, dma: Self.write(0x4000_0000))), "IOMMU off")
    configuration = FuzzConfiguration()
    configuration.hypercallCacheFlush = false
    #expect(outside(try Self.cell([], on: configuration, dma: Self.write(0x4000_0000))), "no GNTTABOP_cache_flush")
    #expect(outside(try Self.cell(["detach gpu"], dma: Self.write(0x4000_0000, by: "gpu"))), "a detached device")
    #expect(outside(try Self.cell(["p2m dom0 map 0x40000000 0x40c00000 ram_rw"], dma: Self.write(0x4000_0000))), "a raw p2m update of the buffer")
    #expect(outside(try Self.cell(["p2m dom0 unmap 0x401c1000"], dma: Self.write(0x4000_0000))), "a raw p2m update in the swiotlb pool")
    #expect(!outside(try Self.cell(["p2m dom0 map 0x40001000 0x40c00000 ram_rw"], dma: Self.write(0x4000_0000))),
            "a raw p2m update elsewhere leaves the DMA in its cell")
    #expect(outside(try Self.cell(["grant guest 0x80001000 to dom0 at 0x50000000 ro as g0"], dma: Self.write(0x5000_0000))),
            "a read-only grant")
    #expect(outside(try Self.cell([], dma: Self.write(0x5000_3000))), "an unmapped buffer page")
    #expect(outside(try Self.cell([], dma: Self.write(0x4000_0800, size: 0x2000))), "a buffer of three pages")
    #expect(outside(try Self.cell([], dma: Self.write(0x401C_0000))), "a buffer in the swiotlb pool")
    #expect(outside(try Self.cell([Self.grant], dma: Self.write(0x4FFF_FFF0, size: 0x20))) , "pages of different kinds")
    let selfAliasing = ["grant guest 0x80001000 to dom0 at 0x50001000 rw as g0", "foreign guest 0x80001000 into dom0 at 0x50002000 as f0"]
    #expect(outside(try Self.cell(selfAliasing, dma: Self.write(0x5000_1800, size: 0x1000))), "two pages, one machine frame")
    #expect(outside(try Self.cell(
      ["grant guest 0x80002000 to dom0 at 0x50002000 ro as g0", "foreign guest 0x80004000 into dom0 at 0x50002000 as f0"],
      dma: Self.write(0x5000_2000))), "a foreign map over a live grant (found by libFuzzer)")
    #expect(outside(try Self.cell(
      ["grant guest 0x80001000 to dom0 at 0x50001000 rw as g0", "grant guest 0x80000000 to dom0 at 0x40801000 rw as g1"],
      dma: Self.write(0x5000_1000))), "a grant over another domain's frame (found by the search)")
    #expect(outside(try Self.cell(["grant guest 0x80001000 to dom0 at 0x40010000 rw as g0"], dma: Self.write(0x4001_0000))),
            "a grant at a GFN in host RAM")
  }

  @Test("the oracle requires what the expectations file does not list as refuted, and nothing it lists")
  func readsTheFile() throws {
    var old = FuzzConfiguration()
    old.xen = XenVersion(name: "4.14")!
    // Before 04085ec1ac, swiotlb-xen programs the grant's MFN, which dom0's
    // p2m does not map: the SMMU faults (fact sheet §3.6).
    let scenario = try Self.scenario([Self.grant, "dma nic from-device 0x50000000 0x40"], on: old)
    #expect(try ScenarioRunner.run(scenario).steps.last?.dma?.outcome == .fault)
    #expect(ScenarioChecker(claims: try Self.committedClaims()).check(scenario).passed, "the file lists the cell's integrity and liveness as refuted")

    let file = FileManager.default.temporaryDirectory.appendingPathComponent("dmaverify-claims-\(UUID()).txt")
    defer { try? FileManager.default.removeItem(at: file) }
    try "# nothing refuted\n".write(to: file, atomically: true, encoding: .utf8)
    let failure = try #require(ScenarioChecker(claims: try DMAClaims.load(file.path)).check(scenario).failure)
    #expect(failure.oracle == .dmaProperty)
    #expect(failure.property == "dma.matrix[legacy/direct-mapped/attached/grant/one-page/before-fix].integrity")
    #expect(failure.detail.contains(file.path) && failure.detail.contains("fault"), "\(failure.detail)")
    #expect(ScenarioChecker().check(scenario).passed, "without claims only expects are checked")
  }

  @Test("under the committed claims the default platform's DMAs pass under every policy")
  func committedClaimsHold() throws {
    let claims = try Self.committedClaims()
    for policy in DMAPolicy.allCases {
      var configuration = FuzzConfiguration()
      configuration.policy = policy
      let result = ScenarioChecker(claims: claims).check(try Self.scenario([
        Self.grant, Self.foreign, "dma nic to-device 0x50000000 0x40", "dma gpu from-device 0x40000ff0 0x40",
        "dma nic from-device 0x50001800 0x800",
      ], on: configuration))
      #expect(result.passed, "\(policy): \(result.trace)")
    }
  }

  @Test("a malformed or missing expectations file is an error naming the file and line")
  func badFile() throws {
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("dmaverify-claims-\(UUID()).txt")
    defer { try? FileManager.default.removeItem(at: file) }
    try "dma.matrix[x].liveness refuted\nnot a claim line\n".write(to: file, atomically: true, encoding: .utf8)
    #expect { try DMAClaims.load(file.path) } throws: { error in
      let error = error as! FuzzInput.LoadError
      return !error.unreadable && error.description.contains("\(file.path):2")
    }
    #expect { try DMAClaims.load(file.path + ".missing") } throws: { error in
      (error as! FuzzInput.LoadError).unreadable
    }
  }

  @Test("random inputs reach cells of every layout, device class, page kind, shape and Xen side")
  func cellsAreReached() throws {
    var random = SplitMix64(seed: 0xCE11)
    var layouts = Set<MatrixCell.Layout>(), devices = Set<MatrixCell.DeviceClass>(), pages = Set<MatrixCell.PageKind>()
    var shapes = Set<MatrixCell.Shape>(), fixes = Set<MatrixCell.XenFix>()
    var dmas = 0, inCells = 0
    for _ in 0..<1500 {
      let scenario = FuzzDecoder.decode(randomInput(&random, records: 16))
      var execution = ScenarioExecution()
      var oracle = DMAPropertyOracle(claims: .none)
      let implementation = ImplementationState()
      for (index, statement) in scenario.statements.enumerated() {
        let before = StepContext(index: index, statement: statement, spec: execution, implementation: implementation)
        oracle.prepare(before)
        if case .dma(let dma) = statement.kind {
          dmas += 1
          if case .cell(let cell) = DMAClaims.cell(of: dma.request, in: execution, history: oracle.history) {
            inCells += 1
            layouts.insert(cell.layout); devices.insert(cell.device); pages.insert(cell.page); shapes.insert(cell.shape); fixes.insert(cell.xen)
          }
          continue
        }
        guard let report = try? execution.execute(statement) else { break }
        _ = oracle.check(StepContext(index: index, statement: statement, spec: execution, implementation: implementation), report: report)
      }
    }
    #expect(layouts.count == MatrixCell.Layout.allCases.count && devices.count == MatrixCell.DeviceClass.allCases.count)
    #expect(pages.count == MatrixCell.PageKind.allCases.count && shapes.count == 2 && fixes.count == 2)
    // Half the random configurations turn the IOMMU off and a quarter drop
    // GNTTABOP_cache_flush, both outside the matrix (measured: 408 of 6057).
    #expect(inCells * 20 >= dmas, "\(inCells) of \(dmas) random DMAs fall in a cell")
  }

  /// Three grants at consecutive dom0 GFNs whose third frame does not
  /// follow the second, and a three-page DMA over them.
  static let threeGrants = [
    "grant guest 0x80001000 to dom0 at 0x50000000 rw as g0", "grant guest 0x80002000 to dom0 at 0x50001000 rw as g1",
    "grant guest 0x80005000 to dom0 at 0x50002000 rw as g2", "dma nic from-device 0x50000000 12K",
  ]

  @Test("a straddle check of the first boundary only maps a three-page buffer directly: swiotlb.straddle, outside every matrix cell")
  func straddleBeyondTheMatrix() throws {
    let checker = ScenarioChecker(claims: try Self.committedClaims())
    let scenario = try Self.scenario(Self.threeGrants)
    let failure = try #require(SeededBug.straddleFirstBoundaryOnly.inject { checker.check(scenario) }.failure)
    #expect(failure.signature == FuzzFailure.Signature(oracle: .dmaProperty, property: StraddleClaim.theorem, operation: "dma"))
    #expect(failure.detail.contains("pfn 0x50002 has bus frame 0x40805, not 0x40803"), "\(failure.detail)")
    #expect(checker.check(scenario).passed, "Linux's check of every boundary bounces the buffer")
    #expect(ScenarioChecker().check(scenario).passed, "without the proofs' claims nothing is required")
  }

  @Test("from Xen 4.20 a passthrough device inside the NIC's masked entry, assigned to the domU, takes the NIC out of every cell; the checker passes")
  func sharedStreamMapEntry() throws {
    var configuration = FuzzConfiguration()
    configuration.maskedStreams = true
    let operations = ["attach pt guest", "dma nic from-device 0x40001000 0x40"]
    let match = try Self.cell(["attach pt guest"], on: configuration, dma: Self.write(0x4000_1000))
    guard case .outside(let why) = match else {
      Issue.record("expected outside, got \(match)")
      return
    }
    #expect(why.hasPrefix("nic's stream does not translate through dom0's context"), "\(why)")
    let checker = ScenarioChecker(claims: try Self.committedClaims())
    #expect(checker.check(try Self.scenario(operations, on: configuration)).passed)
    configuration.xen = XenVersion(name: "4.17")!
    #expect(try Self.cell(["attach pt guest"], on: configuration, dma: Self.write(0x4000_1000)) == Self.cellNamed("legacy/direct-mapped/attached/local/one-page/after-fix"), "before 4.20 the mask is not written")
  }
}
