import Claims
import Foundation
import Spec

/// How the proofs' time grows with the buffer size, the history length
/// and the IPA size (BENCHMARKS.md): the same claims at 1–16 pages, with
/// 0–3 history operations and at 40, 44 and 48 bits, each timed once.
package enum GrowthReport {
  package struct Row: Sendable, Codable {
    package var claim: String
    package var parameter: String
    package var seconds: Double
    package var verdicts: [String]
  }

  package static func measure(pages: [Int] = [1, 2, 4, 8, 16], ipaBits: [Int] = [40, 44, 48]) throws -> [Row] {
    var rows: [Row] = []
    let cells = [
      MatrixCell(policy: .legacy, layout: .coloured, device: .attached, page: .grant, shape: .straddling, xen: .after),
      MatrixCell(policy: .globalFlag, layout: .direct, device: .attached, page: .local, shape: .straddling, xen: .after),
    ]
    for cell in cells {
      for count in pages {
        let session = try ProofSession(timeout: .seconds(60), seed: 1, dumpDirectory: nil)
        let start = ContinuousClock.now
        let state = try SymbolicDMAState(
          session: session, layout: cell.layout, page: cell.page, shape: count == 1 ? .onePage : .straddling,
          version: cell.xen.version, pages: count, history: .none)
        let run = try MatrixRun(state: state, policy: cell.policy, device: cell.device)
        let hypotheses = try state.hypotheses()
        var verdicts: [String] = []
        for property in DMAProperty.allCases {
          verdicts.append(try session.decide("growth", claim: run.property(property), hypotheses: hypotheses).verdict.rawValue)
        }
        rows.append(Row(claim: "dma.matrix[\(cell)]", parameter: "\(count) page\(count == 1 ? "" : "s")", seconds: seconds(since: start), verdicts: verdicts))
      }
    }
    // The history before and after the buffer's maps, 0 to 3 operations.
    let historyCell = MatrixCell(policy: .legacy, layout: .direct, device: .attached, page: .grant, shape: .onePage, xen: .after)
    for history in [SymbolicDMAState.History.none, .init(before: 1, after: 0), .init(before: 1, after: 1), .matrix] {
      let session = try ProofSession(timeout: .seconds(60), seed: 1, dumpDirectory: nil)
      let start = ContinuousClock.now
      let state = try SymbolicDMAState(
        session: session, layout: historyCell.layout, page: historyCell.page, shape: historyCell.shape,
        version: historyCell.xen.version, history: history)
      let run = try MatrixRun(state: state, policy: historyCell.policy, device: historyCell.device)
      let hypotheses = try state.hypotheses()
      var verdicts: [String] = []
      for property in DMAProperty.allCases {
        verdicts.append(try session.decide("growth", claim: run.property(property), hypotheses: hypotheses).verdict.rawValue)
      }
      rows.append(
        Row(
          claim: "dma.matrix[\(historyCell)]", parameter: "history \(history.before)+\(history.after)", seconds: seconds(since: start),
          verdicts: verdicts))
    }
    for bits in ipaBits {
      let session = try ProofSession(timeout: .seconds(60), seed: 1, dumpDirectory: nil)
      let start = ContinuousClock.now
      let findings = try TableTheorems.walkEquivalenceFindings(session: session, ipaBits: [bits])
      rows.append(Row(claim: "walk.regression", parameter: "\(bits)-bit IPA", seconds: seconds(since: start), verdicts: findings.map(\.verdict.rawValue)))
    }
    return rows
  }

  static func seconds(since start: ContinuousClock.Instant) -> Double {
    let elapsed = ContinuousClock.now - start
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
  }

  package static func render(_ rows: [Row]) -> String {
    var lines = ["claim".padding(toLength: 74, withPad: " ", startingAt: 0) + "size            time    verdicts"]
    for row in rows {
      lines.append(
        row.claim.padding(toLength: 74, withPad: " ", startingAt: 0) + row.parameter.padding(toLength: 14, withPad: " ", startingAt: 0)
          + String(format: "%6.2fs", row.seconds) + "  " + row.verdicts.joined(separator: " "))
    }
    return lines.joined(separator: "\n")
  }
}
