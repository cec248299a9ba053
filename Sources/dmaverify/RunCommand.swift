import ArgumentParser
import Foundation
import Scenario
import Spec
import SystemIO

extension DMAVerify {
  /// `dmaverify run FILE…`: executes scenarios on the specification.
  struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Run scenario files on the executable specification.",
      discussion: """
        Each statement is executed in order and its result printed; every DMA
        is judged for integrity, isolation and liveness, and its outcome (ok,
        fault, corruption) compared with the scenario's 'expect'. The format is
        described in docs/SCENARIOS.md. A scenario without a 'xen' statement
        models Xen \(XenVersion.defaultRelease.name), the default of every command.

        Exit status: 0 when every expectation is met, every step succeeded and
        every DMA without an 'expect' was ok; 1 when an expectation is not met,
        a step was refused (e.g. domU memory that does not fit) or a DMA
        faulted or corrupted memory without an 'expect' saying so; 65 when
        a scenario is malformed (the message names file:line:column): not
        UTF-8 text, with no statement at all (it would check nothing), or
        with more than \(ScenarioParser.statementLimit) statements; 66
        when a file cannot be read (or is a directory). CRLF line ends are
        accepted.
        """)

    /// The largest scenario read, in bytes: room for the parser's
    /// statement bound (``ScenarioParser/statementLimit``) with long lines
    /// and comments, so that reading stays bounded too.
    static let sizeLimit = 64 << 20

    @Argument(help: "Scenario files to run.", completion: .file())
    var files: [String]

    @Flag(help: "Print a JSON report instead of text.")
    var json = false

    func validate() throws {
      guard !files.isEmpty else { throw ValidationError("expected at least one scenario file") }
    }

    func run() throws {
      var reports: [(file: String, report: ScenarioReport)] = []
      for file in files {
        let data: [UInt8]
        do {
          // Checked as it is opened: a FIFO without a writer reads as
          // empty instead of blocking; a directory is refused.
          data = try InputFile.read(file, limit: Self.sizeLimit)
        } catch {
          FileHandle.standardError.write(Data("\(file): error: cannot read the file: \(error.isDirectory ? "it is a directory, not a scenario" : error.reason)\n".utf8))
          throw ExitCode(66)
        }
        do {
          let scenario = try ScenarioParser.parse(try ScenarioParser.text(data, file: file), file: file)
          // A scenario with no statement checks nothing: passing it would
          // say that something was verified.
          guard !scenario.statements.isEmpty else {
            throw ScenarioError(file: file, location: nil, message: "the scenario has no statements, so it checks nothing")
          }
          reports.append((file, try ScenarioRunner.run(scenario, file: file)))
        } catch {
          FileHandle.standardError.write(Data("\(error)\n".utf8))
          throw ExitCode(65)
        }
      }
      if json {
        let documents = reports.map { FileReport(file: $0.file, report: $0.report) }
        print(try JSONText.encode(documents))
      } else {
        for (file, report) in reports { print(Self.text(file: file, report: report)) }
      }
      let unmet = reports.flatMap(\.report.unmetExpectations).count
      let refused = reports.flatMap(\.report.refusedSteps).count
      let unexpected = reports.flatMap(\.report.unexpectedOutcomes).count
      let dmas = reports.map(\.report.dmaCount).reduce(0, +)
      let expectations = reports.flatMap(\.report.steps).filter { $0.expectationMet != nil }.count
      if !json {
        var summary = "Summary: \(reports.count) scenario\(reports.count == 1 ? "" : "s"), \(dmas) DMA\(dmas == 1 ? "" : "s"), \(expectations - unmet) expectation\(expectations - unmet == 1 ? "" : "s") met, \(unmet) not met"
        if refused > 0 { summary += ", \(refused) step\(refused == 1 ? "" : "s") refused" }
        if unexpected > 0 { summary += ", \(unexpected) DMA\(unexpected == 1 ? "" : "s") not ok without an expect" }
        print(summary)
      }
      // Said on stderr too, so that a failure in a --json run has a reason.
      for (file, report) in reports {
        for step in report.refusedSteps {
          FileHandle.standardError.write(Data("\(file):\(step.line.map(String.init) ?? "-"): error: \(step.statement) → \(step.result)\n".utf8))
        }
        for step in report.unexpectedOutcomes {
          FileHandle.standardError.write(Data("\(file):\(step.line.map(String.init) ?? "-"): error: \(step.dma?.outcome.rawValue ?? "?") without an expect: \(step.statement)\n".utf8))
        }
      }
      if unmet > 0 || refused > 0 || unexpected > 0 { throw ExitCode.failure }
    }

    struct FileReport: Encodable {
      var file: String
      var report: ScenarioReport
    }

    static func text(file: String, report: ScenarioReport) -> String {
      var lines = ["== \(file)" + (report.name.map { ": \($0)" } ?? "")]
      for step in report.steps {
        let number = step.line.map { String($0) } ?? "-"
        lines.append(number.leftPadded(to: 5) + "  " + step.statement)
        if let dma = step.dma {
          lines.append("       → \(dma.outcome.rawValue.uppercased()) via \(dma.path.rawValue) (\(dma.mapping.rawValue))" + (dma.dmaAddress.map { ", device address \(hex($0))" } ?? ""))
          lines.append("         integrity \(dma.integrity)")
          lines.append("         isolation \(dma.isolation)")
          lines.append("         liveness  \(dma.liveness)")
        } else {
          lines.append("       → " + step.result)
        }
        if let expected = step.expected {
          lines.append("         expected \(expected.rawValue): " + (step.expectationMet == true ? "met" : "NOT MET"))
        }
      }
      return lines.joined(separator: "\n")
    }
  }
}

extension String {
  func leftPadded(to width: Int) -> String {
    count >= width ? self : String(repeating: " ", count: width - count) + self
  }
}
