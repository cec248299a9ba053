import ArgumentParser
import Claims
import DeviceTree
import Foundation
import Proofs
import Scenario
import Spec
import SystemIO

extension DMAVerify {
  /// `dmaverify check --platform FILE`: which DMA policies are safe for
  /// dom0 on this board.
  struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Decide, with Z3, which dom0 DMA policies are safe on a board's device tree.",
      discussion: """
        Reads the board's device tree (as 'dmaverify platform' does), puts each
        of dom0's DMA masters in its class for the chosen Xen release and build
        (--xen-config) — attached to dom0's context, behind an SMMU of Xen's but
        undescribed (Xen cannot read its binding), behind an IOMMU Xen does not
        drive (iommu-not-xens: an SMMUv3 without CONFIG_ARM_SMMU_V3, which is
        off by default; iommu=off; vendor IOMMUs), or not behind any IOMMU
        (unprotected or unknown masters) — and runs the dma.matrix theorems for
        those classes (iommu-not-xens masters are untranslated, so the
        not-behind-smmu cells decide them). Disabled nodes are not dom0's
        masters, but Xen still adds them to the IOMMU; xen,passthrough nodes
        are a guest's. A policy is SAFE on a dom0 layout only when integrity,
        isolation and liveness are proved for every page kind and buffer shape
        of every class the board has; otherwise it is UNSAFE, with the devices,
        the outcome (fault or corruption), a counterexample scenario replayable
        with 'dmaverify run', and, for each page kind, that counterexample
        moved onto the board itself and run there: the board's RAM, dom0 and
        device (its own coherence and DMA mask), the guest's memory after
        dom0's, grants and foreign pages in a hole above the board's RAM. Its
        outcome is the board's and may differ from the matrix's.
        When Xen drives no IOMMU, global-flag and per-device are decided as
        legacy (Xen sets no flag and protects no device).

        The output opens with one line per policy and dom0 layout (SAFE, UNSAFE
        or UNKNOWN, and each page kind's outcome: local, grant, foreign) with
        the devices that decide it, then what would make it safe, then the
        masters (with the source's labels, &name, when it has them) and the
        details. --json carries the same (remedies included); --format
        markdown writes it as a document with a table of verdicts, to attach
        to a review.

        A .dts with #include or #define lines goes through cpp first, as the
        Linux kernel's dtbs rule runs it (-nostdinc -undef -D__DTS__ -x
        assembler-with-cpp), with -I DIR for its includes; errors name the
        file and line cpp or dtc reports.

        Xen 4.13-4.15 panics building dom0 when a node has 'iommus' but is
        not in an SMMUv1/v2's 'mmu-masters' (smmu.c reads the generic binding
        from 4.16): check then says so instead of any verdict.

        Bootloader placeholders (a memory node of size 0, a zero-length
        iommu-map entry) are warnings on stderr; --ram BASE:SIZE gives the RAM,
        or read the tree the firmware fixed up (/sys/firmware/fdt).

        A cell's verdict does not depend on the board, so each one this build
        decides is kept in a cache (--cache-dir; by default
        $XDG_CACHE_HOME/dmaverify or ~/.cache/dmaverify), in a file named
        after a hash of the executable: another build never reads it. Only
        proved, refuted and n/a verdicts are kept (an unknown is asked again);
        the report says how many cells were decided and how many read.
        --no-cache decides every cell.

        Exit status: 0 when every policy and layout checked is SAFE, 1 when one
        is UNSAFE or Xen panics at dom0 build, 2 when the solver left a claim
        unknown, 64 on a usage error, 65 for a malformed device tree, 66 when
        it cannot be read.
        """)

    @Option(help: "The board's device tree (.dtb, or .dts through dtc; through cpp first when it has #include or #define lines).", completion: .file())
    var platform: String

    @Option(help: ArgumentHelp("dom0's layout, COLOURS in Xen's list syntax, any order (e.g. coloured:0-3,8); both layouts when omitted.", valueName: "layout"))
    var dom0: BoardInput.Layout?

    @Option(help: "A DMA policy to check (repeatable); all when omitted.")
    var policy: [DMAPolicy] = []

    @Option(help: "The Xen release; the latest by default, as for run and platform.")
    var xen = XenVersion.defaultRelease

    @Option(name: .customLong("assume-no-dma"), help: ArgumentHelp("A node (path, node name or &label) that never masters the bus; repeat for several.", valueName: "node"))
    var assumeNoDMA: [String] = []

    @Option(name: .customLong("assume-dma"), help: ArgumentHelp("A node (path, node name or &label) that masters the bus although nothing says so; repeat for several.", valueName: "node"))
    var assumeDMA: [String] = []

    @Option(help: ArgumentHelp("A DMA bindings file (the format of dma-bindings.txt), read before the bundled one.", valueName: "file"))
    var bindings: String?

    @Flag(help: "Treat PCI streams from iommu-map as attached to dom0 (Xen's PCI passthrough on; read from Xen 4.21).")
    var pciStreamsAttached = false

    @OptionGroup var boardOptions: BoardOptions

    @Option(
      help: ArgumentHelp(
        "Where this build keeps the matrix cells it decided (default: $XDG_CACHE_HOME/dmaverify or ~/.cache/dmaverify).", valueName: "dir"))
    var cacheDir: String?

    @Flag(help: "Decide every cell with the solvers; read and write no cache.")
    var noCache = false

    @Option(help: "Matrix cells decided at once, each worker with its own Z3 context (default: the number of cores, at most 4).")
    var jobs: Int?

    /// The workers: `--jobs`, else the cores (at most 4).
    var workers: Int { jobs ?? min(4, max(1, ProcessInfo.processInfo.activeProcessorCount)) }

    /// How the report is written.
    enum Format: String, CaseIterable {
      case text, json, markdown
    }

    @Option(help: ArgumentHelp("The report's format; the same content in each.", valueName: "format"))
    var format: Format?

    @Flag(help: "Print a JSON report instead of text (as --format json).")
    var json = false

    /// `--json` is `--format json`; the two disagreeing is a usage error.
    var outputFormat: Format { json ? .json : format ?? .text }

    @Option(
      parsing: .unconditional,
      help: ArgumentHelp("How long dtc (and cpp before it) may each take on a .dts before it is killed.", valueName: "seconds"))
    var dtcTimeout: Double = DeviceTreeSource.defaultTimeout

    @Option(
      name: [.customShort("I", allowingJoined: true), .customLong("include-dir")],
      help: ArgumentHelp(
        "A directory for a .dts's #include (cpp -I) and /include/ (dtc -i); repeatable. A .dts with #include or #define lines goes through cpp first, as the Linux kernel's dtbs rule runs it.",
        valueName: "dir"))
    var includeDir: [String] = []

    func validate() throws {
      try BoardInput.validateDTCTimeout(dtcTimeout)
      try BoardInput.validateIncludeDirectories(includeDir)
      if json, let format, format != .json {
        throw ValidationError("expected --json or --format \(format.rawValue), not both (--json is --format json)")
      }
      _ = try choices()
      _ = try BoardInput.xenConfig(boardOptions.xenConfig)
      _ = try BoardInput.ram(boardOptions.ram)
      _ = try BoardInput.streamMapEntries(boardOptions.smmuStreamMapEntries)
      if noCache, cacheDir != nil { throw ValidationError("expected --cache-dir or --no-cache, not both") }
      if let jobs, !(1...64).contains(jobs) { throw ValidationError("expected --jobs to be from 1 to 64, found \(jobs)") }
      if let cacheDir {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: cacheDir, isDirectory: &isDirectory), !isDirectory.boolValue {
          throw ValidationError("expected --cache-dir to be a directory, found a file: \(cacheDir)")
        }
      }
    }

    /// The verdict cache of this build, or nil with --no-cache, without a
    /// place for it, or when the executable cannot be hashed.
    func verdictCache() -> MatrixVerdictCache? {
      guard !noCache, let build = Version.buildIdentity() else { return nil }
      let environment = ProcessInfo.processInfo.environment
      let directory: URL
      if let cacheDir {
        directory = URL(fileURLWithPath: cacheDir)
      } else if let xdg = environment["XDG_CACHE_HOME"], xdg.hasPrefix("/") {
        directory = URL(fileURLWithPath: xdg).appendingPathComponent("dmaverify")
      } else if let home = environment["HOME"], home.hasPrefix("/") {
        directory = URL(fileURLWithPath: home).appendingPathComponent(".cache/dmaverify")
      } else {
        return nil
      }
      return MatrixVerdictCache(directory: directory, build: build)
    }

    /// Writes what this run added to the cache; a cache that cannot be
    /// written is a warning (the verdicts stand), never a failure.
    static func save(_ cache: MatrixVerdictCache) {
      func warn(_ reason: String) {
        FileHandle.standardError.write(Data("check: warning: \(cache.file.path): cannot write the verdict cache: \(reason)\n".utf8))
      }
      do {
        guard let contents = try cache.contentsToSave() else { return }
        try FileManager.default.createDirectory(at: cache.file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try OutputFile.write(contents, to: cache.file.path)
      } catch let failure as OutputFile.Failure {
        warn(failure.reason)
      } catch {
        warn(error.localizedDescription)
      }
    }

    func choices() throws -> (policies: [DMAPolicy], layouts: [MatrixCell.Layout], version: XenVersion, colours: [Int]) {
      var colours = Array(0..<8)
      let layouts: [MatrixCell.Layout]
      switch dom0 {
      case nil: layouts = [.direct, .coloured]
      case .direct?: layouts = [.direct]
      case .coloured(let chosen)?:
        colours = chosen ?? colours
        layouts = [.coloured]
        // The board's scenario has the default LLC colour count; a colour
        // past it is a mistake to say now, not after the proofs.
        let count = ScenarioOptions().llcColours
        if let wrong = colours.first(where: { $0 >= count }) {
          throw ValidationError("expected --dom0 colours below \(count), the board's number of LLC colours, found \(wrong) in 'coloured:\(ScenarioPrinter.colourText(colours))'")
        }
      }
      return (policy.isEmpty ? DMAPolicy.allCases : policy, layouts, xen, colours)
    }

    func run() throws {
      let (policies, layouts, version, colours) = try choices()
      let config = try BoardInput.xenConfig(boardOptions.xenConfig)
      let banks = try BoardInput.ram(boardOptions.ram)
      var board = try BoardInput.load(
        platform, dtcTimeout: dtcTimeout, includeDirectories: includeDir, bindings: try BoardInput.bindings(bindings), assumeDMA: assumeDMA, assumeNoDMA: assumeNoDMA
      ).platform
      if !banks.isEmpty { board = board.withRAM(banks) }
      for warning in board.warnings { FileHandle.standardError.write(Data("\(platform): \(warning)\n".utf8)) }
      var options = ScenarioOptions(dom0: .directMapped, xen: version, pciStreamsAttached: pciStreamsAttached, xenConfig: config)
      options.smmuStreamMapEntries = try BoardInput.streamMapEntries(boardOptions.smmuStreamMapEntries)
      let view = board.xenView(options)
      // Each dom0 master's class, from where Xen puts it.
      var devices: [PlatformCheck.BoardDevice] = []
      for device in board.enabledDevices {
        guard let placement = view.placements[device.path] else { continue }
        let deviceClass: MatrixCell.DeviceClass
        switch placement {
        case .attached: deviceClass = .attached
        case .undescribed: deviceClass = .undescribed
        case .untranslated, .iommuNotXens: deviceClass = .untranslated
        }
        devices.append(PlatformCheck.BoardDevice(name: device.path, deviceClass: deviceClass, label: placement.label))
      }
      if !view.panics.isEmpty {
        try report(board: board, version: version, config: config, view: view, devices: devices, verdicts: [], replays: [:])
        throw ExitCode(1)
      }
      let cache = verdictCache()
      if let problem = cache?.problem { FileHandle.standardError.write(Data("check: warning: \(problem)\n".utf8)) }
      let verdicts = try TerminalProgress.ticking("check") {
        try PlatformCheck.run(devices: devices, policies: policies, layouts: layouts, xen: version, iommuEnabled: view.iommuEnabled, cache: cache, jobs: workers)
      }
      if let cache { Self.save(cache) }
      let cells = cache.map { CellSource(decided: $0.misses, cached: $0.hits, cacheFile: $0.file.path) }
      var replays: [String: String] = [:]
      for verdict in verdicts {
        for culprit in verdict.culprits {
          for page in culprit.pageKinds {
            let key = Self.replayKey(verdict, culprit, page: page)
            replays[key] = boardReplay(
              board: board, options: options, policy: verdict.policy, layout: verdict.layout, colours: colours, device: culprit.devices[0],
              page: page, counterexample: culprit.pageCounterexamples[page])
          }
        }
      }
      try report(board: board, version: version, config: config, view: view, devices: devices, verdicts: verdicts, replays: replays, cells: cells)
      if verdicts.contains(where: { !$0.unknown.isEmpty }) { throw ExitCode(2) }
      if verdicts.contains(where: { !$0.safe && !$0.inapplicable }) { throw ExitCode(1) }
    }

    /// Prints the report in the chosen format: text, JSON or Markdown, each
    /// with the verdicts, remedies, masters (with the source's labels) and
    /// details.
    func report(
      board: Platform, version: XenVersion, config: XenConfig, view: XenView, devices: [PlatformCheck.BoardDevice], verdicts: [PlatformCheck.Verdict],
      replays: [String: String], cells: CellSource? = nil
    ) throws {
      let labels = board.labels.filter { path, _ in devices.contains { $0.name == path } }
      // Where the verdicts came from, when there are any.
      let source = verdicts.isEmpty ? nil : cells.map(\.description) ?? "every cell decided by the solvers (no verdict cache)"
      switch outputFormat {
      case .json:
        let report = CheckReport(
          file: platform, xen: version.name, xenConfig: config.description, devices: devices.map { [$0.name: $0.label] }, verdicts: verdicts,
          boardReplays: replays, xenPanics: view.panics.map { [$0.node: $0.reason] }, notes: view.notes,
          remedies: Self.remedies(verdicts, version: version),
          safePolicies: Dictionary(uniqueKeysWithValues: Self.safePolicies(verdicts).map { ($0.layout.rawValue, $0.policies) }), labels: labels,
          cells: verdicts.isEmpty ? nil : cells)
        print(try JSONText.encode(report))
      case .markdown:
        print(Self.markdown(file: platform, version: version, config: config, view: view, devices: devices, verdicts: verdicts, replays: replays, labels: labels))
        if let source { print("\n" + Markdown.text("Cells: \(source).")) }
      case .text:
        print(Self.text(file: platform, version: version, config: config, view: view, devices: devices, verdicts: verdicts, replays: replays, labels: labels))
        if let source { print("Cells: \(source).") }
      }
    }

    /// Where a culprit's replay on the board is kept, per page kind.
    static func replayKey(_ verdict: PlatformCheck.Verdict, _ culprit: PlatformCheck.Culprit, page: String) -> String {
      "\(verdict.policy.rawValue)/\(verdict.layout.rawValue)/\(culprit.devices[0])/\(page)"
    }

    /// The failing DMA on the board itself: the matrix's counterexample for
    /// the page kind rewritten onto the board's addresses and done by the
    /// board's device (``Platform/counterexample(_:options:device:)``); for a
    /// local page without one, a DMA of one dom0 page by the device.
    func boardReplay(
      board: Platform, options: ScenarioOptions, policy: DMAPolicy, layout: MatrixCell.Layout, colours: [Int], device path: String,
      page: String, counterexample: String?
    ) -> String {
      do {
        var options = options
        options.dom0 = layout == .direct ? .directMapped : .coloured(colours: colours)
        options.policy = policy
        guard !board.ram.isEmpty else { return "not replayed: the tree gives no RAM (give --ram BASE:SIZE)" }
        if let counterexample {
          let moved = try board.counterexample(counterexample, options: options, device: path)
          return moved.steps.joined(separator: "; ") + " → " + moved.outcome
        }
        // Without the matrix's counterexample only a local page can be
        // shown: a grant or foreign page needs the guest and the Xen
        // operations the counterexample would have given.
        guard page == MatrixCell.PageKind.local.rawValue else {
          return "not replayed: the matrix gave no counterexample for the \(page) page"
        }
        // A board with more masters than 16 gets its SMMUv2's stream-match
        // table sized as the hardware's (`smmu NAME v2 entries N`).
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

    // MARK: - What the report says, in every format

    /// One page kind's outcome in a verdict: `CORRUPTION`, `FAULT`,
    /// `unknown` or `ok` (the worst of the deciding devices').
    static func pageOutcomes(_ verdict: PlatformCheck.Verdict) -> [(page: String, outcome: String)] {
      MatrixCell.PageKind.allCases.map { page in
        let outcomes = verdict.culprits.compactMap { $0.pageOutcomes[page.rawValue] }
        if outcomes.contains("corruption") { return (page.rawValue, "CORRUPTION") }
        if outcomes.contains("fault") { return (page.rawValue, "FAULT") }
        if verdict.unknown.contains(where: { $0.contains("/\(page.rawValue)/") }) { return (page.rawValue, "unknown") }
        return (page.rawValue, "ok")
      }
    }

    static func status(_ verdict: PlatformCheck.Verdict) -> String {
      verdict.inapplicable ? "n/a" : verdict.safe ? "SAFE" : verdict.culprits.isEmpty ? "UNKNOWN" : "UNSAFE"
    }

    /// The devices that decide a verdict, each once, in the culprits' order.
    static func decidingDevices(_ verdict: PlatformCheck.Verdict) -> [String] {
      var devices: [String] = []
      for culprit in verdict.culprits {
        for device in culprit.devices where !devices.contains(device) { devices.append(device) }
      }
      return devices
    }

    /// What would make a deciding device safe, by its class on the board.
    struct Remedy: Encodable, Equatable {
      var device: String
      var deviceClass: String
      var remedy: String

      enum CodingKeys: String, CodingKey {
        case device
        case deviceClass = "class"
        case remedy
      }
    }

    /// Each deciding device of every verdict once, with its remedy.
    static func remedies(_ verdicts: [PlatformCheck.Verdict], version: XenVersion) -> [Remedy] {
      var remedies: [Remedy] = []
      var seen: Set<String> = []
      for verdict in verdicts {
        for culprit in verdict.culprits {
          for (device, label) in zip(culprit.devices, culprit.labels) where seen.insert(device).inserted {
            let remedy: String
            let name = device.split(separator: "/").last.map(String.init) ?? device
            switch label {
            case "iommu-not-xens":
              remedy = "make its IOMMU Xen's (an SMMUv3: Xen built with CONFIG_EXPERT and CONFIG_ARM_SMMU_V3, then --xen-config smmuv3=on; Xen's iommu=on)"
            case MatrixCell.DeviceClass.undescribed.rawValue:
              remedy = "describe its streams in a binding Xen \(version.name) reads (SMMUv1/v2: mmu-masters, iommus from 4.16; PCI: Xen 4.21 with PCI passthrough)"
            case MatrixCell.DeviceClass.attached.rawValue:
              remedy = "attached to dom0's context: the policy fails it (Details has the counterexample); use a policy SAFE below"
            default:
              remedy = "put it behind an SMMU Xen drives (give the node iommus), or --assume-no-dma \(name) if it never does DMA"
            }
            remedies.append(Remedy(device: device, deviceClass: label, remedy: remedy))
          }
        }
      }
      return remedies
    }

    /// Per dom0 layout checked (and applicable), the policies SAFE on it.
    static func safePolicies(_ verdicts: [PlatformCheck.Verdict]) -> [(layout: MatrixCell.Layout, policies: [String])] {
      MatrixCell.Layout.allCases.compactMap { layout in
        let here = verdicts.filter { $0.layout == layout && !$0.inapplicable }
        return here.isEmpty ? nil : (layout, here.filter(\.safe).map(\.policy.rawValue))
      }
    }

    // MARK: - Text

    /// The answer first: one line per policy and dom0 layout with each page
    /// kind's outcome and the devices that decide it, then what would make
    /// the unsafe ones safe.
    static func verdictLines(_ verdicts: [PlatformCheck.Verdict], version: XenVersion) -> [String] {
      var lines = ["Verdicts (per page kind: local, grant, foreign):"]
      let width = verdicts.map { "\($0.policy.rawValue) on a \($0.layout.rawValue) dom0".count }.max() ?? 0
      for verdict in verdicts {
        let title = "\(verdict.policy.rawValue) on a \(verdict.layout.rawValue) dom0".padding(toLength: width, withPad: " ", startingAt: 0)
        if verdict.inapplicable {
          lines.append("  n/a     \(title)  LLC colouring needs Xen 4.20")
          continue
        }
        let pages = pageOutcomes(verdict).map { "\($0.page) \($0.outcome)" }
        let devices = decidingDevices(verdict)
        let shown = devices.count > 3 ? devices.prefix(3).joined(separator: ", ") + " and \(devices.count - 3) more" : devices.joined(separator: ", ")
        lines.append(
          "  \(status(verdict).padding(toLength: 7, withPad: " ", startingAt: 0)) \(title)  \(pages.joined(separator: ", "))"
            + (shown.isEmpty ? "" : ": \(shown)") + (verdict.decidedAs.map { " (IOMMU off: as \($0.rawValue))" } ?? ""))
      }
      // Remedies: per class of the deciding devices, then the policies
      // that are safe on each layout.
      let remedies = remedies(verdicts, version: version).map { "  \($0.device) (\($0.deviceClass)): \($0.remedy)" }
      if !remedies.isEmpty {
        lines.append("To make it safe:")
        lines += remedies.count > 8 ? Array(remedies.prefix(8)) + ["  … and \(remedies.count - 8) more devices (see Details)"] : remedies
        for (layout, safe) in safePolicies(verdicts) {
          lines.append("  policies SAFE on a \(layout.rawValue) dom0 as the board is: \(safe.isEmpty ? "none of those checked" : safe.joined(separator: ", "))")
        }
      }
      return lines
    }

    struct CheckReport: Encodable {
      var file: String
      var xen: String
      var xenConfig: String
      var devices: [[String: String]]
      var verdicts: [PlatformCheck.Verdict]
      var boardReplays: [String: String]
      /// Node → why Xen panics building dom0; no verdicts then.
      var xenPanics: [[String: String]]
      var notes: [String]
      /// What would make each deciding device safe (the text's "To make it
      /// safe"), and per dom0 layout the policies SAFE as the board is.
      var remedies: [Remedy] = []
      var safePolicies: [String: [String]] = [:]
      /// Node path → the source's labels (`/__symbols__`), for the masters.
      var labels: [String: [String]] = [:]
      /// How many matrix cells were decided now and how many read from the
      /// verdict cache (absent with --no-cache or without verdicts).
      var cells: CellSource?
    }

    /// Where a run's cell verdicts came from.
    struct CellSource: Encodable, CustomStringConvertible {
      var decided: Int
      var cached: Int
      var cacheFile: String
      var description: String {
        "\(decided) decided by the solvers, \(cached) read from this build's verdict cache (\(cacheFile))"
      }
    }

    static func text(
      file: String, version: XenVersion, config: XenConfig, view: XenView, devices: [PlatformCheck.BoardDevice], verdicts: [PlatformCheck.Verdict],
      replays: [String: String], labels: [String: [String]] = [:]
    ) -> String {
      var lines = ["== \(file) (Xen \(version.name), \(config.description))"]
      if !view.panics.isEmpty {
        lines.append("XEN PANICS at dom0 build, before any DMA policy matters:")
        for panic in view.panics { lines.append("  \(panic.reason)") }
        if let remedy = panicRemedy(view) { lines.append("  remedy: \(remedy)") }
        lines.append("")
      }
      if !verdicts.isEmpty {
        lines += verdictLines(verdicts, version: version)
        lines.append("")
      }
      lines.append("DMA masters:")
      for device in devices {
        let shown = (labels[device.name] ?? []).map { "&" + $0 }.joined(separator: " ")
        lines.append("  \(device.label.padding(toLength: 17, withPad: " ", startingAt: 0)) \(device.name)" + (shown.isEmpty ? "" : "  \(shown)"))
      }
      for note in view.notes { lines.append("  note: \(note)") }
      lines.append("")
      if !verdicts.isEmpty { lines.append("Details:") }
      for verdict in verdicts {
        let title = "\(verdict.policy.rawValue) on a \(verdict.layout.rawValue) dom0" + (verdict.decidedAs.map { " (Xen's IOMMU is off: Linux acts as \($0.rawValue))" } ?? "")
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
          lines.append("        \(culprit.outcome) for \(culprit.pageKinds.joined(separator: ", ")) pages: \(culpritDevices(culprit))")
          for page in culprit.pageKinds {
            if let replay = replays[replayKey(verdict, culprit, page: page)] { lines.append("          on this board (\(page)): \(replay)") }
          }
          if let scenario = culprit.counterexample {
            lines.append("          counterexample (\(culprit.claim)\(culprit.replayed == true ? ", replayed" : "")):")
            for line in counterexampleLines(scenario) { lines.append("            \(line)") }
          }
        }
        for claim in verdict.unknown { lines.append("        unknown: \(claim)") }
      }
      // Names and strings come from the tree: each line is printed on
      // its own, with control characters escaped.
      return lines.map(Printable.escaped).joined(separator: "\n")
    }

    static func panicRemedy(_ view: XenView) -> String? {
      view.panics.contains(where: { $0.reason.contains("'iommus'") })
        ? "describe these masters in the SMMU's mmu-masters (the binding Xen before 4.16 reads), or use Xen 4.16 or later" : nil
    }

    /// A culprit's devices with their classes (once when they share one).
    static func culpritDevices(_ culprit: PlatformCheck.Culprit) -> String {
      Set(culprit.labels) == [culprit.deviceClass.rawValue]
        ? "\(culprit.devices.joined(separator: ", ")) (\(culprit.deviceClass.rawValue))"
        : zip(culprit.devices, culprit.labels).map { "\($0) (\($1))" }.joined(separator: ", ")
    }

    /// The counterexample's grants, foreign mappings and DMAs: the steps
    /// that make it (the rest is the matrix platform's setup).
    static func counterexampleLines(_ scenario: String) -> [String] {
      scenario.split(separator: "\n").filter { $0.hasPrefix("grant ") || $0.hasPrefix("foreign ") || $0.hasPrefix("dma ") }.map(String.init)
    }

    // MARK: - Markdown

    /// The same report as ``text(file:version:config:view:devices:verdicts:replays:labels:)``
    /// as a Markdown document (CommonMark with GitHub's tables) for a review:
    /// the verdicts as a table, then remedies, masters and details. Strings
    /// from the tree are escaped as in the text (control characters) and
    /// for Markdown (in code spans, or with backslashes), so a node name
    /// cannot add markup or break a table.
    static func markdown(
      file: String, version: XenVersion, config: XenConfig, view: XenView, devices: [PlatformCheck.BoardDevice], verdicts: [PlatformCheck.Verdict],
      replays: [String: String], labels: [String: [String]] = [:]
    ) -> String {
      var lines = ["# dmaverify check: \(Markdown.code(file))", "", "Xen \(version.name), \(Markdown.code(config.description)); dmaverify \(Version.release).", ""]
      if !view.panics.isEmpty {
        lines += ["## Xen panics at dom0 build", "", "Before any DMA policy matters:", ""]
        for panic in view.panics { lines.append("- \(Markdown.text(panic.reason))") }
        if let remedy = panicRemedy(view) { lines.append("- Remedy: \(Markdown.text(remedy))") }
        lines.append("")
      }
      if !verdicts.isEmpty {
        lines += ["## Verdicts", "", "| Verdict | Policy | dom0 | local | grant | foreign | Deciding devices |", "|---|---|---|---|---|---|---|"]
        for verdict in verdicts {
          let policy = Markdown.code(verdict.policy.rawValue) + (verdict.decidedAs.map { " (IOMMU off: as \(Markdown.code($0.rawValue)))" } ?? "")
          if verdict.inapplicable {
            lines.append("| n/a | \(policy) | \(verdict.layout.rawValue) | — | — | — | LLC colouring needs Xen 4.20 |")
            continue
          }
          let status = status(verdict)
          let pages = pageOutcomes(verdict).map { $0.outcome == "ok" ? "ok" : "**\($0.outcome)**" }
          let devices = decidingDevices(verdict).map { Markdown.code($0, inTable: true) }.joined(separator: ", ")
          lines.append(
            "| \(status == "SAFE" ? status : "**\(status)**") | \(policy) | \(verdict.layout.rawValue) | \(pages.joined(separator: " | ")) | \(devices.isEmpty ? "—" : devices) |")
        }
        lines.append("")
        let remedies = remedies(verdicts, version: version)
        if !remedies.isEmpty {
          lines += ["## To make it safe", ""]
          for remedy in remedies {
            // The option to give is code, the rest prose.
            let parts = remedy.remedy.components(separatedBy: "--assume-no-dma ")
            let prose =
              parts.count == 2
              ? Markdown.text(parts[0]) + Markdown.code("--assume-no-dma " + (parts[1].split(separator: " ").first.map(String.init) ?? ""))
                + Markdown.text(String(parts[1].drop { $0 != " " }))
              : Markdown.text(remedy.remedy)
            lines.append("- \(Markdown.code(remedy.device)) (\(remedy.deviceClass)): \(prose)")
          }
          for (layout, safe) in safePolicies(verdicts) {
            lines.append(
              "- Policies SAFE on a \(layout.rawValue) dom0 as the board is: \(safe.isEmpty ? "none of those checked" : safe.map { Markdown.code($0) }.joined(separator: ", "))")
          }
          lines.append("")
        }
      }
      lines += ["## DMA masters", ""]
      if devices.isEmpty {
        lines.append("None.")
      } else {
        // The labels column only when the tree has labels (a DTS, or a DTB
        // compiled with dtc -@).
        lines += labels.isEmpty ? ["| Class | Device |", "|---|---|"] : ["| Class | Device | Labels |", "|---|---|---|"]
        for device in devices {
          let shown = (labels[device.name] ?? []).map { Markdown.code("&" + $0, inTable: true) }.joined(separator: " ")
          lines.append("| \(device.label) | \(Markdown.code(device.name, inTable: true)) |" + (labels.isEmpty ? "" : " \(shown.isEmpty ? "—" : shown) |"))
        }
      }
      if !view.notes.isEmpty {
        lines.append("")
        for note in view.notes { lines.append("- Note: \(Markdown.text(note))") }
      }
      lines.append("")
      if !verdicts.isEmpty { lines += ["## Details", ""] }
      for verdict in verdicts {
        let title = "\(verdict.policy.rawValue) on a \(verdict.layout.rawValue) dom0" + (verdict.decidedAs.map { " (Xen's IOMMU is off: Linux acts as \($0.rawValue))" } ?? "")
        if verdict.inapplicable {
          lines += ["### n/a: \(title)", "", "LLC colouring needs Xen 4.20.", ""]
          continue
        }
        if verdict.safe {
          lines += ["### SAFE: \(title)", "", "Proved for every page kind and buffer shape of every device.", ""]
          continue
        }
        lines += ["### \(status(verdict)): \(title)", ""]
        for culprit in verdict.culprits {
          let shown = zip(culprit.devices, culprit.labels).map { "\(Markdown.code($0)) (\($1))" }.joined(separator: ", ")
          lines.append("- \(culprit.outcome) for \(culprit.pageKinds.joined(separator: ", ")) pages: \(shown)")
          for page in culprit.pageKinds {
            if let replay = replays[replayKey(verdict, culprit, page: page)] { lines.append("  - On this board (\(page)): \(Markdown.code(replay))") }
          }
          if let scenario = culprit.counterexample {
            lines += ["  - Counterexample (\(Markdown.code(culprit.claim))\(culprit.replayed == true ? ", replayed" : "")):", ""]
            lines += Markdown.block(counterexampleLines(scenario), indent: "    ")
            lines.append("")
          }
        }
        for claim in verdict.unknown { lines.append("- Unknown: \(Markdown.code(claim))") }
        lines.append("")
      }
      // One blank line between blocks, none at the end.
      let document = lines.enumerated().filter { index, line in !(line.isEmpty && (index == 0 || lines[index - 1].isEmpty)) }.map(\.element)
      return (document.last == "" ? document.dropLast() : document[...]).joined(separator: "\n")
    }
  }
}

/// Markdown for strings that may come from the tree.
enum Markdown {
  /// A code span: control characters escaped as in the text output, a
  /// fence longer than any run of backticks inside (CommonMark 0.31 §6.1),
  /// and in a table `|` escaped, which GitHub's tables read even inside
  /// code spans (elsewhere the backslash would show).
  static func code(_ string: String, inTable: Bool = false) -> String {
    let escaped = inTable ? Printable.escaped(string).replacingOccurrences(of: "|", with: "\\|") : Printable.escaped(string)
    var longest = 0
    var run = 0
    for character in escaped {
      run = character == "`" ? run + 1 : 0
      longest = max(longest, run)
    }
    let fence = String(repeating: "`", count: longest + 1)
    let padded = escaped.hasPrefix("`") || escaped.hasSuffix("`") ? " \(escaped) " : escaped
    return fence + padded + fence
  }

  /// Plain text with every ASCII punctuation character that Markdown could
  /// read as markup backslash-escaped (CommonMark 0.31 §2.4).
  static func text(_ string: String) -> String {
    var result = ""
    for character in Printable.escaped(string) {
      if "\\`*_[]<>|#!~".contains(character) { result.append("\\") }
      result.append(character)
    }
    return result
  }

  /// A fenced code block of `lines`, indented to sit in a list item.
  static func block(_ lines: [String], indent: String) -> [String] {
    let escaped = lines.map(Printable.escaped)
    var longest = 2
    for line in escaped {
      var run = 0
      for character in line {
        run = character == "`" ? run + 1 : 0
        longest = max(longest, run)
      }
    }
    let fence = String(repeating: "`", count: longest + 1)
    return [indent + fence] + escaped.map { indent + $0 } + [indent + fence]
  }
}
