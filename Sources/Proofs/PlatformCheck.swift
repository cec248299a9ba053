import Claims
import Spec

/// The DMA matrix restricted to one board's devices: for each policy and
/// dom0 layout, is every DMA of every device safe? (issue 8, `dmaverify
/// check`). A device's situation on the board decides its class —
/// attached to dom0's context, not behind any SMMU, or behind one but
/// undescribed — and the board is as safe as its worst class.
public enum PlatformCheck {
  /// One device of the board, in matrix terms.
  public struct BoardDevice: Sendable {
    public var name: String
    public var deviceClass: MatrixCell.DeviceClass
    public init(name: String, deviceClass: MatrixCell.DeviceClass) {
      self.name = name
      self.deviceClass = deviceClass
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
  }

  public struct Culprit: Sendable, Codable {
    public var devices: [String]
    public var deviceClass: MatrixCell.DeviceClass
    public var outcome: String
    public var pageKinds: [String]
    /// A refuted claim's counterexample on the matrix platform, replayable
    /// with `dmaverify run`.
    public var counterexample: String?
    public var claim: String
    public var replayed: Bool?
  }

  public static func run(
    devices: [BoardDevice], policies: [DMAPolicy], layouts: [MatrixCell.Layout], xen: XenVersion, timeout: Duration = .seconds(40)
  ) throws -> [Verdict] {
    let session = try ProofSession(timeout: timeout, seed: 1, dumpDirectory: nil)
    let fix: MatrixCell.XenFix = xen.grantIOMMUMapping == .after04085ec1ac ? .after : .before
    let classes = Dictionary(grouping: devices, by: \.deviceClass)
    var verdicts: [Verdict] = []
    for policy in policies {
      for layout in layouts {
        if layout == .coloured && !xen.hasLLCColouring {
          verdicts.append(Verdict(policy: policy, layout: layout, safe: false, culprits: [], unknown: [], inapplicable: true))
          continue
        }
        var culprits: [Culprit] = []
        var unknown: [String] = []
        for deviceClass in MatrixCell.DeviceClass.allCases {
          guard let members = classes[deviceClass], !members.isEmpty else { continue }
          var refuted: [(page: MatrixCell.PageKind, finding: Finding)] = []
          for page in MatrixCell.PageKind.allCases {
            for shape in MatrixCell.Shape.allCases {
              let cell = MatrixCell(policy: policy, layout: layout, device: deviceClass, page: page, shape: shape, xen: fix)
              for finding in try DMAMatrixTheorem.decide(cell, session: session, releases: [xen]) {
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
          culprits.append(
            Culprit(
              devices: members.map(\.name), deviceClass: deviceClass, outcome: corruption ? "corruption" : "fault", pageKinds: pages,
              counterexample: first.finding.counterexample, claim: first.finding.claim, replayed: first.finding.replayed))
        }
        verdicts.append(Verdict(policy: policy, layout: layout, safe: culprits.isEmpty && unknown.isEmpty, culprits: culprits, unknown: unknown, inapplicable: false))
      }
    }
    return verdicts
  }
}
