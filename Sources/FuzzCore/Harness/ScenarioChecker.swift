import SMMUImpl
import Scenario
import Spec

/// What checking one input found.
package struct CheckResult: Sendable {
  /// The scenario that ran (decoded, for byte inputs).
  package var scenario: Scenario
  /// The first property violated, or nil when every oracle passed.
  package var failure: FuzzFailure?
  /// Statements executed.
  package var steps: Int
  /// Why the checker stopped comparing before the end (the last statement
  /// executed is the one it stopped at), or nil when it compared every
  /// step.
  package var stopped: String?

  package var passed: Bool { failure == nil }

  /// The failure as a readable trace: the scenario up to the failing step,
  /// the step marked, and what disagreed.
  package var trace: String {
    guard let failure else { return "PASS (\(steps) statements)" + (stopped.map { "; not compared after statement \(steps - 1): \($0)" } ?? "") }
    var lines: [String] = []
    for (index, statement) in scenario.statements.enumerated() where index <= failure.stepIndex || failure.operation == "end" {
      let marker = index == failure.stepIndex ? ">>" : "  "
      lines.append("\(marker) \(String(index).leftPadded(to: 3))  \(ScenarioPrinter.line(for: statement.kind))")
    }
    lines.append(failure.description)
    return lines.joined(separator: "\n")
  }
}

/// Runs a scenario on the spec, statement by statement, under the oracles,
/// and stops at the first violated property (DESIGN.md §5).
///
/// A note on speed: the fuzz target needs thousands of inputs a second and
/// the spec is written for clarity (machine memory is a dictionary of
/// bytes; each DMA lays every p2m out as tables). Two things keep the fuzz
/// path lean without changing what is checked:
/// - The platform and domains of a ``FuzzConfiguration`` are booted once
///   per checker and configuration (up to ``BootCache/capacity`` at a
///   time); later inputs start from a copy of the spec's and the
///   implementation's state (both are values).
/// - In ``Mode/lean`` the end-of-scenario comparison of every p2m entry is
///   skipped, and step reports carry no text
///   (``ScenarioExecution/describesSteps``). (Lean mode also skips DMAs no oracle judges, but
///   ``SMMUDifferentialOracle`` judges every DMA: each runs on the spec
///   and on the implementation's SMMUs.)
///   Replay and minimization use ``Mode/full``, as `dmaverify run` does.
package struct ScenarioChecker {
  package enum Mode: Sendable {
    case full
    case lean
  }

  let makeP2M: P2MFactory
  let mode: Mode
  let claims: DMAClaims
  let boots = BootCache()

  /// - Parameters:
  ///   - makeP2M: the p2m under test (`XenP2M` unless a test plugs in a
  ///     broken one).
  ///   - mode: how much of the end-of-scenario checking runs.
  ///   - claims: the DMA properties the proofs establish
  ///     (``DMAClaims/load(_:)`` of proofs/expectations.txt); ``DMAClaims/none``
  ///     checks only the scenario's own `expect`s.
  package init(makeP2M: P2MFactory = .xen, mode: Mode = .full, claims: DMAClaims = .none) {
    self.makeP2M = makeP2M
    self.mode = mode
    self.claims = claims
  }

  /// The oracles, in the order they run. ``P2MDifferentialOracle`` must come
  /// first: it creates the implementation's domains and brings their p2ms
  /// up to date, which ``SMMUDifferentialOracle`` then translates through.
  func oracles() -> [any StepOracle] {
    [P2MDifferentialOracle(checksEveryEntryAtEnd: mode == .full), SMMUDifferentialOracle(), DMAPropertyOracle(claims: claims), ReachOracle(), ColourOracle()]
  }

  /// Checks a scenario (a `.scn` file, or one being minimized).
  package func check(_ scenario: Scenario) -> CheckResult {
    let split = FuzzEncoder.platformLength(of: scenario.statements)
    let configuration = FuzzConfiguration(platform: scenario.statements[..<split].map(\.kind))
    var statements = scenario.statements[(configuration == nil ? 0 : split)...].makeIterator()
    var result = run(booted: configuration) { _ in statements.next() }
    result.scenario.name = scenario.name
    return result
  }

  /// Decodes fuzz input bytes and checks them, decoding as the spec runs
  /// (the decoder asks which handles are live).
  package func check(bytes: [UInt8]) -> CheckResult {
    var decoder = FuzzDecoder(bytes)
    return run(booted: decoder.configuration) { execution in
      decoder.next(isLiveGrant: execution.isLiveGrant, isLiveForeign: execution.isLiveForeignMapping).map { Statement($0) }
    }
  }

  /// Runs the statements `next` yields, after the platform of
  /// `configuration` when there is one.
  func run(booted configuration: FuzzConfiguration?, _ next: (ScenarioExecution) -> Statement?) -> CheckResult {
    var execution = ScenarioExecution()
    // No oracle reads a report's text except a refusal's, which is kept.
    execution.describesSteps = mode == .full
    var implementation = ImplementationState(p2m: makeP2M)
    var statements: [Statement] = []
    var oracles = oracles()
    func result(_ failure: FuzzFailure?) -> CheckResult {
      CheckResult(scenario: Scenario(statements: statements), failure: failure, steps: statements.count, stopped: oracles.lazy.compactMap(\.stopped).first)
    }
    if let configuration {
      let platform = configuration.platform.map { Statement($0) }
      if let booted = boots.states[configuration] {
        execution = booted.execution
        implementation = booted.implementation.copy()
        statements = platform
      } else {
        var platformStatements = platform.makeIterator()
        if let failure = steps(&execution, implementation, &oracles, &statements, { _ in platformStatements.next() }) {
          return result(failure)
        }
        if oracles.contains(where: { $0.stopped != nil }) { return result(nil) }
        boots.insert(configuration, (execution, implementation.copy()))
      }
    }
    if let failure = steps(&execution, implementation, &oracles, &statements, next) { return result(failure) }
    if oracles.contains(where: { $0.stopped != nil }) { return result(nil) }
    for position in oracles.indices {
      if let failure = oracles[position].finish(lastIndex: statements.count - 1, spec: execution, implementation: implementation) {
        return result(failure)
      }
    }
    return result(nil)
  }

  func steps(
    _ execution: inout ScenarioExecution, _ implementation: ImplementationState, _ oracles: inout [any StepOracle],
    _ statements: inout [Statement], _ next: (ScenarioExecution) -> Statement?
  ) -> FuzzFailure? {
    while let statement = next(execution) {
      let index = statements.count
      statements.append(statement)
      for position in oracles.indices {
        oracles[position].prepare(StepContext(index: index, statement: statement, spec: execution, implementation: implementation))
      }
      let report: StepReport
      if case .dma = statement.kind, mode == .lean, !oracles.contains(where: \.judgesCurrentDMA) {
        report = StepReport(line: nil, statement: "", result: "not run (no oracle judges it)")
      } else {
        do {
          report = try execution.execute(statement)
        } catch {
          return FuzzFailure(oracle: .scenario, property: "runs", stepIndex: index, statement: statement, detail: error.message)
        }
      }
      let context = StepContext(index: index, statement: statement, spec: execution, implementation: implementation)
      for position in oracles.indices {
        if let failure = oracles[position].check(context, report: report) { return failure }
        if oracles[position].stopped != nil { return nil }
      }
    }
    return nil
  }
}

/// Booted platforms by configuration, for one checker (its implementation
/// factory) only.
final class BootCache {
  /// Each entry is most of a megabyte (the spec's state with its laid-out
  /// tables, two p2ms with their table pools). libFuzzer keeps mutating
  /// the two configuration bytes, so when the cache is full the oldest
  /// entry makes room: starting over, as it first did, re-booted the
  /// configurations of the corpus's best inputs too.
  ///
  /// Measured on 60 s libFuzzer runs (BENCHMARKS.md, Fuzzing): 256 entries
  /// ran at 3 600 exec/s in 266 MB, 512 at 3 850 in 470 MB, 1 024 at
  /// 4 080 in 855 MB; 512 keeps a `-jobs` run's processes well inside
  /// libFuzzer's default 2 GB `-rss_limit_mb`.
  static let capacity = 512
  private(set) var states: [FuzzConfiguration: (execution: ScenarioExecution, implementation: ImplementationState)] = [:]
  /// Configurations in the order they were booted, for eviction.
  private var order: [FuzzConfiguration] = []
  private var oldest = 0

  func insert(_ configuration: FuzzConfiguration, _ state: (execution: ScenarioExecution, implementation: ImplementationState)) {
    if states[configuration] == nil {
      if order.count < Self.capacity {
        order.append(configuration)
      } else {
        states[order[oldest]] = nil
        order[oldest] = configuration
        oldest = (oldest + 1) % Self.capacity
      }
    }
    states[configuration] = state
  }
}

extension String {
  func leftPadded(to width: Int) -> String {
    count >= width ? self : String(repeating: " ", count: width - count) + self
  }
}
