import ArgumentParser
import Claims
import DeviceTree
import Foundation
import Proofs
import Spec

extension DMAVerify {
  /// `dmaverify check --platform FILE`: which DMA policies are safe for
  /// dom0 on this board.
  struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Decide, with Z3, which dom0 DMA policies are safe on a board's device tree.",
      discussion: """
        Reads the board's device tree (as 'dmaverify platform' does), puts each
        DMA master in its class for the chosen Xen — attached to dom0's context,
        behind an SMMU but undescribed (Xen cannot read its binding), or not
        behind any SMMU (unprotected or unknown masters) — and runs the
        dma.matrix theorems for those classes. A policy is SAFE on a dom0 layout
        only when integrity, isolation and liveness are proved for every page
        kind and buffer shape of every class the board has; otherwise it is
        UNSAFE, with the devices, the outcome (fault or corruption), a
        counterexample scenario replayable with 'dmaverify run', and the same
        DMA replayed on the board itself.

        Exit status: 0 when every policy and layout checked is SAFE, 1 when one
        is UNSAFE, 2 when the solver left a claim unknown, 64 on a usage error,
        65 for a malformed device tree, 66 when it cannot be read.
        """)

    @Option(help: "The board's device tree (.dtb, or .dts through dtc).", completion: .file())
    var platform: String

    @Option(help: ArgumentHelp("dom0's layout: direct, coloured or coloured:COLOURS; both layouts when omitted.", valueName: "layout"))
    var dom0: String?

    @Option(help: "A DMA policy to check (repeatable): legacy, merged-flags, global-flag, per-device; all when omitted.")
    var policy: [String] = []

    @Option(help: "The Xen release (4.12–4.21).")
    var xen = XenVersion.v4_20.name

    @Option(name: .customLong("assume-no-dma"), help: ArgumentHelp("A node that never masters the bus; repeat for several.", valueName: "node"))
    var assumeNoDMA: [String] = []

    @Option(name: .customLong("assume-dma"), help: ArgumentHelp("A node that masters the bus although nothing says so; repeat for several.", valueName: "node"))
    var assumeDMA: [String] = []

    @Option(help: ArgumentHelp("A DMA bindings file (the format of dma-bindings.txt), read before the bundled one.", valueName: "file"))
    var bindings: String?

    @Flag(help: "Treat PCI streams from iommu-map as attached to dom0 (Xen's PCI passthrough on).")
    var pciStreamsAttached = false

    @Flag(help: "Print a JSON report instead of text.")
    var json = false

    @Option(parsing: .unconditional, help: ArgumentHelp("How long dtc may take to compile a .dts before it is killed.", valueName: "seconds"))
    var dtcTimeout: Double = DeviceTreeSource.defaultTimeout

    func validate() throws {
      try BoardInput.validateDTCTimeout(dtcTimeout)
      _ = try choices()
    }

    func choices() throws -> (policies: [DMAPolicy], layouts: [MatrixCell.Layout], version: XenVersion, colours: [Int]) {
      let policies = try policy.map { name in
        guard let policy = DMAPolicy(rawValue: name) else {
          throw ValidationError("expected --policy to be one of \(DMAPolicy.allCases.map(\.rawValue).joined(separator: ", ")), found '\(name)'")
        }
        return policy
      }
      let version = try BoardInput.xenVersion(xen)
      var colours = Array(0..<8)
      let layouts: [MatrixCell.Layout]
      switch try dom0.map(BoardInput.layout) {
      case nil: layouts = [.direct, .coloured]
      case .direct?: layouts = [.direct]
      case .coloured(let chosen)?:
        colours = chosen ?? colours
        layouts = [.coloured]
        // The board's scenario has the default LLC colour count; a colour
        // past it is a mistake to say now, not after the proofs.
        let count = ScenarioOptions().llcColours
        if let wrong = colours.first(where: { $0 >= count }) {
          throw ValidationError("expected --dom0 colours below \(count), the board's number of LLC colours, found \(wrong) in '\(dom0 ?? "")'")
        }
      }
      return (policies.isEmpty ? DMAPolicy.allCases : policies, layouts, version, colours)
    }

    func run() throws {
      let (policies, layouts, version, colours) = try choices()
      let board = try BoardInput.load(
        platform, dtcTimeout: dtcTimeout, bindings: try BoardInput.bindings(bindings), assumeDMA: assumeDMA, assumeNoDMA: assumeNoDMA
      ).platform
      let boardScenario: PlatformScenario
      do {
        boardScenario = try board.scenario(ScenarioOptions(dom0: .directMapped, xen: version, pciStreamsAttached: pciStreamsAttached))
      } catch {
        FileHandle.standardError.write(Data("\(error.inFile(platform))\n".utf8))
        throw ExitCode(65)
      }
      // Each device's class, from how the board scenario declares it.
      let paths = Dictionary(uniqueKeysWithValues: boardScenario.deviceNames.map { ($0.value, $0.key) })
      var devices: [PlatformCheck.BoardDevice] = []
      for case .device(let declaration) in boardScenario.scenario.statements.map(\.kind) {
        let deviceClass: MatrixCell.DeviceClass
        switch declaration.placement {
        case .untranslated: deviceClass = .untranslated
        case .smmu(_, _, let described): deviceClass = described ? .attached : .undescribed
        }
        devices.append(PlatformCheck.BoardDevice(name: paths[declaration.name] ?? declaration.name, deviceClass: deviceClass))
      }
      let verdicts = try TerminalProgress.ticking("check") { try PlatformCheck.run(devices: devices, policies: policies, layouts: layouts, xen: version) }
      var replays: [String: String] = [:]
      for verdict in verdicts {
        for culprit in verdict.culprits where culprit.pageKinds.contains("local") {
          let key = "\(verdict.policy.rawValue)/\(verdict.layout.rawValue)/\(culprit.devices[0])"
          replays[key] = boardReplay(board: board, version: version, policy: verdict.policy, layout: verdict.layout, colours: colours, device: culprit.devices[0])
        }
      }
      if json {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        print(String(decoding: try encoder.encode(CheckReport(file: platform, xen: version.name, devices: devices.map { [$0.name: $0.deviceClass.rawValue] }, verdicts: verdicts, boardReplays: replays)), as: UTF8.self))
      } else {
        print(Self.text(file: platform, version: version, devices: devices, verdicts: verdicts, replays: replays))
      }
      if verdicts.contains(where: { !$0.unknown.isEmpty }) { throw ExitCode(2) }
      if verdicts.contains(where: { !$0.safe && !$0.inapplicable }) { throw ExitCode(1) }
    }

    /// The failing DMA on the board itself: its own scenario, plus a DMA
    /// of one dom0 page by the device, run on the specification.
    func boardReplay(board: Platform, version: XenVersion, policy: DMAPolicy, layout: MatrixCell.Layout, colours: [Int], device path: String) -> String {
      do {
        let options = ScenarioOptions(
          dom0: layout == .direct ? .directMapped : .coloured(colours: colours), policy: policy, xen: version, pciStreamsAttached: pciStreamsAttached)
        let generated = try board.scenario(options)
        guard let name = generated.deviceNames[path],
          let ram = generated.scenario.statements.lazy.compactMap({ if case .ram(let address, _) = $0.kind { address } else { nil } }).first
        else { return "not replayed: the device or RAM is missing from the board's scenario" }
        let dma = "dma \(name) from-device \(hex(ram + 0x10_0000)) 4K"
        let report = try ScenarioRunner.run(try ScenarioParser.parse(generated.text + dma + "\n"))
        guard let outcome = report.steps.last?.dma else { return "\(dma) → \(report.steps.last?.result ?? "nothing")" }
        return "\(dma) → \(outcome.outcome.rawValue.uppercased()) via \(outcome.path.rawValue)"
      } catch {
        return "not replayed: \(error)"
      }
    }

    struct CheckReport: Encodable {
      var file: String
      var xen: String
      var devices: [[String: String]]
      var verdicts: [PlatformCheck.Verdict]
      var boardReplays: [String: String]
    }

    static func text(file: String, version: XenVersion, devices: [PlatformCheck.BoardDevice], verdicts: [PlatformCheck.Verdict], replays: [String: String]) -> String {
      var lines = ["== \(file) (Xen \(version.name))", "DMA masters:"]
      for device in devices { lines.append("  \(device.deviceClass.rawValue.padding(toLength: 17, withPad: " ", startingAt: 0)) \(device.name)") }
      lines.append("")
      for verdict in verdicts {
        let title = "\(verdict.policy.rawValue) on a \(verdict.layout.rawValue) dom0"
        if verdict.inapplicable {
          lines.append("n/a     \(title): LLC colouring needs Xen 4.20")
          continue
        }
        if verdict.safe {
          lines.append("SAFE    \(title): proved for every page kind and buffer shape of every device")
          continue
        }
        lines.append("UNSAFE  \(title)")
        for culprit in verdict.culprits {
          lines.append("        \(culprit.outcome) for \(culprit.pageKinds.joined(separator: ", ")) pages: \(culprit.devices.joined(separator: ", ")) (\(culprit.deviceClass.rawValue))")
          if let replay = replays["\(verdict.policy.rawValue)/\(verdict.layout.rawValue)/\(culprit.devices[0])"] {
            lines.append("          on this board: \(replay)")
          }
          if let scenario = culprit.counterexample {
            lines.append("          counterexample (\(culprit.claim)\(culprit.replayed == true ? ", replayed" : "")):")
            for line in scenario.split(separator: "\n") where line.hasPrefix("grant ") || line.hasPrefix("foreign ") || line.hasPrefix("dma ") {
              lines.append("            \(line)")
            }
          }
        }
        for claim in verdict.unknown { lines.append("        unknown: \(claim)") }
      }
      // Names and strings come from the tree: each line is printed on
      // its own, with control characters escaped.
      return lines.map(Printable.escaped).joined(separator: "\n")
    }
  }
}
