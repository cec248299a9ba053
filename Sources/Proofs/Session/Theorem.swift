import Solver

/// A named claim of the catalogue (DESIGN.md §4), with the answer it is
/// expected to get.
///
/// A theorem builds its queries by running the same generic code the
/// program runs on symbolic words; ``ProofSession`` checks hypotheses
/// satisfiable first, applies the timeout and seed, and times each check.
package struct Theorem: Sendable {
  package let name: String
  package let summary: String
  /// The per-check timeout.
  package let timeout: Duration
  /// Runs the theorem; one theorem may answer several cells (the DMA matrix).
  let body: @Sendable (ProofSession) throws -> [Finding]

  package init(name: String, summary: String, timeout: Duration = .seconds(10), body: @escaping @Sendable (ProofSession) throws -> [Finding]) {
    self.name = name
    self.summary = summary
    self.timeout = timeout
    self.body = body
  }
}

/// The answer for one claim (a theorem, or one cell and property of a
/// matrix theorem).
package enum Verdict: String, Sendable, Codable, Equatable {
  case proved
  case refuted
  /// The solver gave up (timeout, resource limit): never read as proved.
  case unknown
  /// The hypotheses contradict each other: the claim says nothing.
  case vacuous
  /// The configuration does not exist (e.g. LLC colouring before Xen 4.20).
  case inapplicable = "n/a"
}

/// One claim's result.
package struct Finding: Sendable, Codable, Equatable {
  /// `theorem` or `theorem[cell].property`.
  package var claim: String
  package var verdict: Verdict
  /// Why: the unknown reason, the refuted property's short cause, or empty.
  package var reason: String
  /// Seconds spent in the solver for this claim.
  package var seconds: Double
  /// A readable, replayable scenario for a refuted claim, when one exists.
  package var counterexample: String?
  /// Whether running the counterexample on the concrete implementation
  /// reproduced the failure: nil when there is nothing to replay.
  package var replayed: Bool?
  /// The counterexample's values, name = value.
  package var values: [String: UInt64]

  package init(
    claim: String, verdict: Verdict, reason: String = "", seconds: Double, counterexample: String? = nil,
    replayed: Bool? = nil, values: [String: UInt64] = [:]
  ) {
    self.claim = claim
    self.verdict = verdict
    self.reason = reason
    self.seconds = seconds
    self.counterexample = counterexample
    self.replayed = replayed
    self.values = values
  }
}

/// What one theorem produced, with its wall time.
package struct TheoremReport: Sendable, Codable {
  package var theorem: String
  package var summary: String
  package var findings: [Finding]
  package var seconds: Double
  /// A thrown error (a bug in the theorem or the solver), if any.
  package var error: String?
  /// How many claim queries each solver decided (``ProofSession/deciders``).
  package var deciders: [String: Int] = [:]
}
