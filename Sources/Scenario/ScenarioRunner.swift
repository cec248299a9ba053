import Spec

/// Executes a scenario on the executable specification: Xen's p2m and grant
/// table (`XenState`), the SMMUs (`SMMUPlatform`), Linux's grant tree and
/// bounce pool, machine memory, and DMAs translated by the architectural
/// stage-2 walk over each domain's p2m laid out as descriptor tables.
///
/// This is Serval's "one interpreter": `dmaverify run`, the fuzzer's
/// replay and the minimizer all run scenarios through here.
package enum ScenarioRunner {
  /// Runs `scenario` statement by statement.
  ///
  /// A Xen or Linux refusal (a bad grant, an unmapped buffer) is a step
  /// result, as the hypercall's error code would be. A scenario that cannot
  /// mean anything (a device used before it is declared, a platform
  /// statement after the domains exist) throws a ``ScenarioError`` naming
  /// the line.
  package static func run(_ scenario: Scenario, file: String? = nil) throws(ScenarioError) -> ScenarioReport {
    var machine = ScenarioMachine()
    var steps: [StepReport] = []
    for statement in scenario.statements {
      do throws(ScenarioError) {
        steps.append(try machine.execute(statement))
      } catch {
        var located = error
        if located.location == nil { located.location = statement.location }
        throw file.map { located.inFile($0) } ?? located
      }
    }
    return ScenarioReport(name: scenario.name, steps: steps)
  }
}
