import Spec

/// The state a scenario builds, in one of two phases: platform statements
/// fill in a ``Declaration``; `dom0` boots it into a ``RunningSystem``, after
/// which only domains and operations may follow. Each phase's statements are
/// handled by that phase's value, so no handler can reach a system that does
/// not exist yet, nor change the platform under one that does.
struct ScenarioMachine {
  enum Phase {
    case declaring(Declaration)
    case running(RunningSystem)
  }

  var phase = Phase.declaring(Declaration())
  /// Whether step reports carry the statement's text and a successful
  /// DMA's account (``ScenarioExecution/describesSteps``).
  var describesSteps = true

  /// The platform as declared; fixed once the system runs.
  var declaration: Declaration {
    switch phase {
    case .declaring(let declaration): declaration
    case .running(let system): system.declaration
    }
  }

  /// The running system, or nil before dom0.
  var system: RunningSystem? {
    if case .running(let system) = phase { system } else { nil }
  }

  mutating func execute(_ statement: Statement) throws(ScenarioError) -> StepReport {
    let text = describesSteps ? ScenarioPrinter.line(for: statement.kind) : ""
    func step(_ result: String) -> StepReport {
      StepReport(line: statement.location?.line, statement: text, result: result)
    }
    switch phase {
    case .declaring(var declaration):
      if case .dom0(let layout, let size) = statement.kind {
        let (system, summary) = try declaration.boot(layout: layout, size: size)
        phase = .running(system)
        var report = step(summary)
        report.effects.createdDomain = StepEffects.CreatedDomain(id: .dom0)
        return report
      }
      guard let result = try declaration.declare(statement.kind) else {
        throw Self.fail("expected dom0 to be declared before domains and operations")
      }
      phase = .declaring(declaration)
      return step(result)
    case .running(var system):
      // An empty declaration stands in while the system changes, so that
      // its p2ms and machine memory are uniquely referenced and change in
      // place rather than being copied on every statement (the reason
      // `XenState.modifyDomain` takes a domain out of its dictionary).
      phase = .declaring(Declaration())
      defer { phase = .running(system) }
      return try system.operate(statement, text: text, describesSteps: describesSteps)
    }
  }

  static func fail(_ message: String) -> ScenarioError { ScenarioError(location: nil, message: message) }
}
