import Foundation
import Claims
import Spec

/// The DMA matrix restricted to one board's devices: for each policy and
/// dom0 layout, is every DMA of every device safe? (`dmaverify check`). A device's situation on the board decides its class —
/// attached to dom0's context, not behind any SMMU, or behind one but
/// undescribed — and the board is as safe as its worst class.
package enum PlatformCheck {
  /// One device of the board, in matrix terms.
  package struct BoardDevice: Sendable {
    package var name: String
    /// The matrix class whose cells decide its DMA.
    package var deviceClass: MatrixCell.DeviceClass
    /// The class as shown, when the board's reason differs from the
    /// matrix class's name (`iommu-not-xens`: behind an IOMMU Xen does not
    /// drive, decided by the not-behind-smmu cells).
    package var label: String
    package init(name: String, deviceClass: MatrixCell.DeviceClass, label: String? = nil) {
      self.name = name
      self.deviceClass = deviceClass
      self.label = label ?? deviceClass.rawValue
    }
  }

  /// The verdict for one policy and dom0 layout.
  package struct Verdict: Sendable, Codable {
    package var policy: DMAPolicy
    package var layout: MatrixCell.Layout
    /// SAFE when every claim of every class on the board is proved.
    package var safe: Bool
    /// The devices that break it, with the worst outcome (`fault`,
    /// `corruption`) and the page kinds it happens for.
    package var culprits: [Culprit]
    /// Claims the solver could not decide; SAFE is never claimed with any.
    package var unknown: [String]
    /// Not a configuration that exists (colouring before Xen 4.20).
    package var inapplicable: Bool
    /// The policy whose cells decided it, when not ``policy`` itself:
    /// with Xen's IOMMU off, `legacy`.
    package var decidedAs: DMAPolicy?
  }

  package struct Culprit: Sendable, Codable {
    package var devices: [String]
    /// Each device's class as shown (``BoardDevice/label``).
    package var labels: [String]
    package var deviceClass: MatrixCell.DeviceClass
    package var outcome: String
    package var pageKinds: [String]
    /// Per page kind refuted, its worst outcome (`corruption`, `fault`).
    package var pageOutcomes: [String: String]
    /// A refuted claim's counterexample on the matrix platform, replayable
    /// with `dmaverify run`.
    package var counterexample: String?
    /// Per page kind refuted, the counterexample of its worst claim (on the
    /// matrix platform), for rewriting onto the board.
    package var pageCounterexamples: [String: String] = [:]
    package var claim: String
    package var replayed: Bool?
  }

  /// - Parameter cache: verdicts this build decided before; cells it
  ///   holds are read, the others decided and added.
  /// - Parameter iommuEnabled: Xen's `iommu_enabled` on the board. The
  ///   matrix's cells have dom0's IOMMU on; off (no IOMMU Xen drives, or
  ///   `iommu=off`), Xen never sets the RFC's flag and no device is
  ///   protected, so Linux takes swiotlb-xen under `global-flag` and
  ///   `per-device` exactly as under `legacy` (`DMAPolicy.path(for:…)`:
  ///   `!features.dom0IOMMU`, `!platform.isProtected`). Every master is then
  ///   untranslated, and an untranslated DMA never goes through the 1:1
  ///   grant entries that an IOMMU-off Xen omits, so the `legacy` cells
  ///   decide those policies [derived].
  package static func run(
    devices: [BoardDevice], policies: [DMAPolicy], layouts: [MatrixCell.Layout], xen: XenVersion, iommuEnabled: Bool = true,
    timeout: Duration = .seconds(40), cache: MatrixVerdictCache? = nil, jobs: Int = 1
  ) throws -> [Verdict] {
    let fix: MatrixCell.XenFix = xen.grantIOMMUMapping == .after04085ec1ac ? .after : .before
    let classes = Dictionary(grouping: devices, by: \.deviceClass)
    func decidedAs(_ policy: DMAPolicy) -> DMAPolicy? {
      !iommuEnabled && (policy == .globalFlag || policy == .perDevice) ? .legacy : nil
    }
    /// The cell that decides `policy`'s verdict for this page and shape.
    func cell(_ policy: DMAPolicy, _ layout: MatrixCell.Layout, _ deviceClass: MatrixCell.DeviceClass, _ page: MatrixCell.PageKind, _ shape: MatrixCell.Shape)
      -> MatrixCell
    {
      MatrixCell(policy: decidedAs(policy) ?? policy, layout: layout, device: deviceClass, page: page, shape: shape, xen: fix)
    }
    // The cells the board needs, each decided once (several policies may
    // be decided as legacy), `jobs` at a time.
    var needed: [MatrixCell] = []
    for policy in policies {
      for layout in layouts where layout == .direct || xen.hasLLCColouring {
        for deviceClass in MatrixCell.DeviceClass.allCases where !(classes[deviceClass] ?? []).isEmpty {
          for page in MatrixCell.PageKind.allCases {
            for shape in MatrixCell.Shape.allCases {
              let cell = cell(policy, layout, deviceClass, page, shape)
              if !needed.contains(cell) { needed.append(cell) }
            }
          }
        }
      }
    }
    let decided = try decideCells(needed, xen: xen, timeout: timeout, cache: cache, jobs: jobs)

    var verdicts: [Verdict] = []
    for policy in policies {
      for layout in layouts {
        if layout == .coloured && !xen.hasLLCColouring {
          verdicts.append(Verdict(policy: policy, layout: layout, safe: false, culprits: [], unknown: [], inapplicable: true))
          continue
        }
        let decidedAs = decidedAs(policy)
        var culprits: [Culprit] = []
        var unknown: [String] = []
        for deviceClass in MatrixCell.DeviceClass.allCases {
          guard let members = classes[deviceClass], !members.isEmpty else { continue }
          var refuted: [(page: MatrixCell.PageKind, finding: Finding)] = []
          for page in MatrixCell.PageKind.allCases {
            for shape in MatrixCell.Shape.allCases {
              for finding in decided[cell(policy, layout, deviceClass, page, shape)] ?? [] {
                switch finding.verdict {
                case .refuted: refuted.append((page, finding))
                case .unknown, .vacuous: unknown.append(finding.claim)
                case .proved, .inapplicable: break
                }
              }
            }
          }
          guard let first = refuted.first(where: { $0.finding.reason.hasPrefix("corruption") }) ?? refuted.first else { continue }
          let corruption = refuted.contains { $0.finding.reason.hasPrefix("corruption") }
          let pages = MatrixCell.PageKind.allCases.filter { page in refuted.contains { $0.page == page } }.map(\.rawValue)
          var pageOutcomes: [String: String] = [:]
          var pageCounterexamples: [String: String] = [:]
          for (page, finding) in refuted {
            let outcome = finding.reason.hasPrefix("corruption") ? "corruption" : "fault"
            if pageOutcomes[page.rawValue] != "corruption" {
              pageOutcomes[page.rawValue] = outcome
              if let scenario = finding.counterexample { pageCounterexamples[page.rawValue] = scenario }
            }
          }
          culprits.append(
            Culprit(
              devices: members.map(\.name), labels: members.map(\.label), deviceClass: deviceClass, outcome: corruption ? "corruption" : "fault", pageKinds: pages, pageOutcomes: pageOutcomes,
              counterexample: first.finding.counterexample, pageCounterexamples: pageCounterexamples, claim: first.finding.claim,
              replayed: first.finding.replayed))
        }
        verdicts.append(
          Verdict(
            policy: policy, layout: layout, safe: culprits.isEmpty && unknown.isEmpty, culprits: culprits, unknown: unknown, inapplicable: false,
            decidedAs: decidedAs))
      }
    }
    return verdicts
  }

  /// The findings of `cells` on `xen`: from the cache where it holds
  /// them, the others decided by `jobs` workers, each with its own
  /// session (a Z3 context, and a Bitwuzla process when it runs).
  static func decideCells(
    _ cells: [MatrixCell], xen: XenVersion, timeout: Duration, cache: MatrixVerdictCache?, jobs: Int
  ) throws -> [MatrixCell: [Finding]] {
    var decided: [MatrixCell: [Finding]] = [:]
    var missing: [MatrixCell] = []
    for cell in cells {
      if let cached = cache?.cached(cell, release: xen) { decided[cell] = cached } else { missing.append(cell) }
    }
    let work = CellWork(missing)
    DispatchQueue.concurrentPerform(iterations: max(1, min(jobs, missing.count))) { _ in
      var session: ProofSession?
      while let cell = work.take() {
        do {
          if session == nil { session = try ProofSession(timeout: timeout, seed: 1, dumpDirectory: nil) }
          let findings = try DMAMatrixTheorem.decide(cell, session: session!, releases: [xen])
          cache?.store(findings, for: cell, release: xen)
          work.finish(cell, findings)
        } catch {
          work.fail(error)
          return
        }
      }
    }
    if let failure = work.failure { throw failure }
    return decided.merging(work.decided) { cached, _ in cached }
  }

  /// The cells left to decide, handed out one at a time to the workers,
  /// and what they found.
  private final class CellWork: @unchecked Sendable {
    private let lock = NSLock()
    private let cells: [MatrixCell]
    private var next = 0
    private var found: [MatrixCell: [Finding]] = [:]
    private var error: Error?

    init(_ cells: [MatrixCell]) { self.cells = cells }

    /// The next cell, or nil when none is left or a worker failed.
    func take() -> MatrixCell? {
      lock.withLock {
        guard error == nil, next < cells.count else { return nil }
        next += 1
        return cells[next - 1]
      }
    }
    func finish(_ cell: MatrixCell, _ findings: [Finding]) { lock.withLock { found[cell] = findings } }
    func fail(_ error: Error) { lock.withLock { self.error = self.error ?? error } }
    var decided: [MatrixCell: [Finding]] { lock.withLock { found } }
    var failure: Error? { lock.withLock { error } }
  }
}
