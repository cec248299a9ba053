import Claims
import Spec

/// The DMA matrix restricted to one board's devices: for each policy and
/// dom0 layout, is every DMA of every device safe? (`dmaverify check`). A device's situation on the board decides its class —
/// attached to dom0's context, not behind any SMMU, or behind one but
/// undescribed — and the board is as safe as its worst class.
public enum PlatformCheck {
  /// One device of the board, in matrix terms.
  public struct BoardDevice: Sendable {
    public var name: String
    /// The matrix class whose cells decide its DMA.
    public var deviceClass: MatrixCell.DeviceClass
    /// The class as shown, when the board's reason differs from the
    /// matrix class's name (`iommu-not-xens`: behind an IOMMU Xen does not
    /// drive, decided by the not-behind-smmu cells).
    public var label: String
    public init(name: String, deviceClass: MatrixCell.DeviceClass, label: String? = nil) {
      self.name = name
      self.deviceClass = deviceClass
      self.label = label ?? deviceClass.rawValue
    }
  }

  /// The verdict for one policy and dom0 layout.
  public struct Verdict: Sendable, Codable {
    public var policy: DMAPolicy
    public var layout: MatrixCell.Layout
    /// SAFE when every claim of every class on the board is proved.
    public var safe: Bool
    /// The devices that break it, with the worst outcome (`fault`,
    /// `corruption`) and the page kinds it happens for.
    public var culprits: [Culprit]
    /// Claims the solver could not decide; SAFE is never claimed with any.
    public var unknown: [String]
    /// Not a configuration that exists (colouring before Xen 4.20).
    public var inapplicable: Bool
    /// The policy whose cells decided it, when not ``policy`` itself:
    /// with Xen's IOMMU off, `legacy`.
    public var decidedAs: DMAPolicy?
  }

  public struct Culprit: Sendable, Codable {
    public var devices: [String]
    /// Each device's class as shown (``BoardDevice/label``).
    public var labels: [String]
    public var deviceClass: MatrixCell.DeviceClass
    public var outcome: String
    public var pageKinds: [String]
    /// Per page kind refuted, its worst outcome (`corruption`, `fault`).
    public var pageOutcomes: [String: String]
    /// A refuted claim's counterexample on the matrix platform, replayable
    /// with `dmaverify run`.
    public var counterexample: String?
    /// Per page kind refuted, the counterexample of its worst claim (on the
    /// matrix platform), for rewriting onto the board.
    public var pageCounterexamples: [String: String] = [:]
    public var claim: String
    public var replayed: Bool?
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
    timeout: Duration = .seconds(40), cache: MatrixVerdictCache? = nil
  ) throws -> [Verdict] {
    // Made at the first cell the cache does not hold.
    var session: ProofSession?
    let fix: MatrixCell.XenFix = xen.grantIOMMUMapping == .after04085ec1ac ? .after : .before
    let classes = Dictionary(grouping: devices, by: \.deviceClass)
    var verdicts: [Verdict] = []
    for policy in policies {
      for layout in layouts {
        if layout == .coloured && !xen.hasLLCColouring {
          verdicts.append(Verdict(policy: policy, layout: layout, safe: false, culprits: [], unknown: [], inapplicable: true))
          continue
        }
        let decidedAs: DMAPolicy? = !iommuEnabled && (policy == .globalFlag || policy == .perDevice) ? .legacy : nil
        var culprits: [Culprit] = []
        var unknown: [String] = []
        for deviceClass in MatrixCell.DeviceClass.allCases {
          guard let members = classes[deviceClass], !members.isEmpty else { continue }
          var refuted: [(page: MatrixCell.PageKind, finding: Finding)] = []
          for page in MatrixCell.PageKind.allCases {
            for shape in MatrixCell.Shape.allCases {
              let cell = MatrixCell(policy: decidedAs ?? policy, layout: layout, device: deviceClass, page: page, shape: shape, xen: fix)
              let decide = { () throws -> [Finding] in
                if session == nil { session = try ProofSession(timeout: timeout, seed: 1, dumpDirectory: nil) }
                return try DMAMatrixTheorem.decide(cell, session: session!, releases: [xen])
              }
              let findings = try cache.map { try $0.findings(cell, release: xen, decide: decide) } ?? decide()
              for finding in findings {
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
}
