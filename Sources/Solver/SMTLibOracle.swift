import Foundation
import SystemIO

/// A second SMT solver, asked for a yes/no answer on the same query text
/// Z3 holds: Bitwuzla, through its PyPI binding (`pip install
/// bitwuzla==0.10.0`) in a helper process (`bitwuzla-oracle.py`, embedded).
///
/// Why a second solver: the inductive `p2m.step` paths and the DMA cells
/// are quantifier-free bit-vector and array queries, which Bitwuzla decides
/// 4–5× faster than Debian's libz3 4.8.12 (BENCHMARKS.md, "A second
/// solver"). It only ever says yes or no: a counterexample, its check
/// against the hypotheses and its minimization stay Z3's, so every model a
/// report shows is Z3's, evaluated by Z3.
package final class SMTLibOracle {
  package enum Answer: Equatable, Sendable {
    case sat
    case unsat
    /// Gave up (timeout), could not read the query, or the helper died.
    case unknown(String)
  }

  /// Which solver and version answers, as reports name it.
  package let name: String
  private let helper: Coprocess

  private init(name: String, helper: Coprocess) {
    self.name = name
    self.helper = helper
  }

  /// Starts Bitwuzla's helper with `python` (the first `python3` on PATH
  /// when nil); throws, saying why, when Python or the module is missing.
  package static func bitwuzla(python: String? = nil) throws(SolverError) -> SMTLibOracle {
    guard let python = python ?? ChildProcess.executable(named: "python3") else {
      throw SolverError(kind: .unavailable, message: "Bitwuzla needs python3 on PATH (with `pip install bitwuzla==0.10.0`)")
    }
    let script = String(decoding: PackageResources.bitwuzla_oracle_py, as: UTF8.self)
    let helper: Coprocess
    do {
      helper = try Coprocess(python, ["-u", "-c", script])
    } catch {
      throw SolverError(kind: .unavailable, message: "\(error)")
    }
    // Importing the module takes a fraction of a second; a machine loaded
    // by other builds can take longer.
    guard let greeting = helper.readLine(timeout: 60) else {
      throw SolverError(kind: .unavailable, message: "\(python) did not start the Bitwuzla helper")
    }
    guard greeting.hasPrefix("ready ") else {
      let reason = greeting.hasPrefix("unavailable ") ? String(greeting.dropFirst("unavailable ".count)) : greeting
      throw SolverError(kind: .unavailable, message: "Bitwuzla is not importable by \(python): \(reason) (`pip install bitwuzla==0.10.0`)")
    }
    return SMTLibOracle(name: "Bitwuzla " + greeting.dropFirst("ready ".count), helper: helper)
  }

  /// Decides `solver`'s assertions. The helper gets the timeout; it is
  /// killed when it has not answered a little after it.
  package func check(_ solver: Solver, timeout: Duration) -> Answer {
    ask(solver, values: [], timeout: timeout).answer
  }

  /// Decides `solver`'s assertions and, when they are satisfiable, gives
  /// the value of each of `constants` (bit-vector or Boolean constants of
  /// the query, at most 64 bits) in Bitwuzla's model: a guide for Z3,
  /// which then checks the model it finds with these values pinned.
  package func values(_ solver: Solver, of constants: [Term], timeout: Duration) -> [UInt64]? {
    let (answer, values) = ask(solver, values: constants, timeout: timeout)
    guard answer == .sat, values.count == constants.count else { return nil }
    return values
  }

  private func ask(_ solver: Solver, values constants: [Term], timeout: Duration) -> (answer: Answer, values: [UInt64]) {
    let text = Array(solver.assertionsText().utf8)
    let names = constants.map(\.description)
    // A name is one line of the request.
    guard !names.contains(where: { $0.contains("\n") }) else { return (.unknown("a constant's name spans lines"), []) }
    let milliseconds = Solver.milliseconds(timeout)
    let request = Array("\(milliseconds) \(text.count) \(names.count)\n".utf8) + text + names.flatMap { Array(($0 + "\n").utf8) }
    guard helper.send(request) else { return (.unknown("the Bitwuzla helper has exited"), []) }
    guard let line = helper.readLine(timeout: Double(milliseconds) / 1000 + 30) else {
      return (.unknown("the Bitwuzla helper did not answer"), [])
    }
    let fields = line.split(separator: " ")
    switch fields.first {
    case "sat": return (.sat, fields.dropFirst().compactMap { UInt64($0) })
    case "unsat": return (.unsat, [])
    case "unknown": return (.unknown("Bitwuzla gave up (timeout)"), [])
    default: return (.unknown("Bitwuzla: " + (line.hasPrefix("error ") ? String(line.dropFirst(6)) : line)), [])
    }
  }

  /// Stops the helper; later checks answer unknown.
  package func stop() { helper.stop() }
}
