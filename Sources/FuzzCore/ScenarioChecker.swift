import Spec

/// What checking one input found.
public struct CheckResult: Sendable {
  /// The scenario that ran (decoded, for byte inputs).
  public var scenario: Scenario
  /// The first property violated, or nil when every oracle passed.
  public var failure: FuzzFailure?
  /// Statements executed.
  public var steps: Int

  public var passed: Bool { failure == nil }

  /// The failure as a readable trace: the scenario up to the failing step,
  /// the step marked, and what disagreed.
  public var trace: String {
    guard let failure else { return "PASS (\(steps) statements)" }
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
public struct ScenarioChecker {
  let makeP2M: P2MFactory

  /// - Parameter makeP2M: the implementation under test (`XenP2M` unless a
  ///   test plugs in a broken one).
  public init(makeP2M: @escaping P2MFactory = ImplementationState.xenP2M) {
    self.makeP2M = makeP2M
  }

  /// The oracles, in the order they run. ``P2MDifferentialOracle`` must come
  /// first: it brings the implementation's p2ms up to date. An SMMU oracle
  /// (SMMU translation and IOTLB over these p2ms' tables against the spec's
  /// SMMU) belongs in this list, after it.
  static func oracles() -> [any StepOracle] {
    [P2MDifferentialOracle(), DMAPropertyOracle()]
  }

  /// Checks a scenario (a `.scn` file, or one being minimized).
  public func check(_ scenario: Scenario) -> CheckResult {
    var statements = scenario.statements.makeIterator()
    var result = run { _ in statements.next() }
    result.scenario.name = scenario.name
    return result
  }

  /// Decodes fuzz input bytes and checks them, decoding as the spec runs
  /// (the decoder asks which handles are live).
  public func check(bytes: [UInt8]) -> CheckResult {
    var decoder = FuzzDecoder(bytes)
    var platform = decoder.platform.makeIterator()
    return run { execution in
      if let kind = platform.next() { return Statement(kind) }
      return decoder.next(isLiveGrant: execution.isLiveGrant, isLiveForeign: execution.isLiveForeignMapping).map { Statement($0) }
    }
  }

  func run(_ next: (ScenarioExecution) -> Statement?) -> CheckResult {
    var execution = ScenarioExecution()
    let implementation = ImplementationState(makeP2M: makeP2M)
    var oracles = Self.oracles()
    var statements: [Statement] = []
    while let statement = next(execution) {
      let index = statements.count
      statements.append(statement)
      func result(_ failure: FuzzFailure) -> CheckResult {
        CheckResult(scenario: Scenario(statements: statements), failure: failure, steps: statements.count)
      }
      for position in oracles.indices {
        oracles[position].prepare(StepContext(index: index, statement: statement, spec: execution, implementation: implementation))
      }
      let report: StepReport
      do {
        report = try execution.execute(statement)
      } catch {
        return result(FuzzFailure(oracle: .scenario, property: "runs", stepIndex: index, statement: statement, detail: error.message))
      }
      let context = StepContext(index: index, statement: statement, spec: execution, implementation: implementation)
      for position in oracles.indices {
        if let failure = oracles[position].check(context, report: report) { return result(failure) }
      }
    }
    for position in oracles.indices {
      if let failure = oracles[position].finish(lastIndex: statements.count - 1, spec: execution, implementation: implementation) {
        return CheckResult(scenario: Scenario(statements: statements), failure: failure, steps: statements.count)
      }
    }
    return CheckResult(scenario: Scenario(statements: statements), failure: nil, steps: statements.count)
  }
}

extension String {
  func leftPadded(to width: Int) -> String {
    count >= width ? self : String(repeating: " ", count: width - count) + self
  }
}
