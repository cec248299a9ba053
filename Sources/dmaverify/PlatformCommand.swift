import ArgumentParser
import DeviceTree
import Foundation
import Scenario
import Spec
import SystemIO

extension DMAVerify {
  /// `dmaverify platform FILE`: what a board's device tree says about DMA.
  struct PlatformCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "platform",
      abstract: "Show a board's SMMUs, RAM and DMA masters from its device tree.",
      discussion: """
        Reads a device tree blob (.dtb), or source (.dts) through dtc (first
        through cpp, as the Linux kernel's dtbs rule runs it, when it has
        #include or #define lines; -I DIR for its includes), and
        classifies every enabled device (xen,passthrough nodes are a guest's,
        like disabled ones): protected (stream IDs on an SMMU, by
        iommus, mmu-masters or iommu-map), unprotected DMA master (evidence
        such as #dma-cells, dma-coherent or a master rule of the bindings
        file, but no stream IDs), not a master (with the reason: an I2C/SPI/
        MDIO bus, a not-master rule, no reg…), or unknown (no evidence either
        way; counted as unsafe unless --assume-no-dma names it; --assume-dma
        makes a node a master). --bindings FILE adds rules before the
        bundled dma-bindings.txt. Xen 4.15 reads
        only the legacy mmu-masters binding for SMMUv1/v2; iommus from 4.16.

        Then shows the board as Xen --xen sees it with --xen-config (its
        SMMUv3 driver, default off as in Xen's Kconfig; iommu=on|off): which
        IOMMUs Xen drives, each master's class (attached, undescribed,
        iommu-not-xens, not-behind-smmu), and whether Xen panics at dom0
        build (4.13-4.15 on an iommus-only SMMUv1/v2 master, disabled nodes
        included). Bootloader placeholders (a memory node of size 0, a
        zero-length iommu-map entry) are warnings on stderr; --ram BASE:SIZE
        gives the RAM.

        With --scenario, writes the board as a scenario file (docs/SCENARIOS.md)
        for 'dmaverify run': the SMMUs, RAM, devices and dom0, with the chosen
        layout, policy and Xen version.

        Exit status: 0 when the tree was read, 64 on a usage error, 65 when the
        tree is malformed or cannot be modelled (the message names the file and
        the byte offset; for a source, the file and line cpp or dtc reports;
        also when dtc, or cpp for a source with directives, is not installed),
        66 when the file cannot be read, 73 when the scenario
        file cannot be written (checked before the tree is read).

        The source's labels (/__symbols__, which dtc writes with -@) are shown
        beside their nodes (&uart0).

        The tree is untrusted input: dtc gets the file after '--' (cpp, which
        has no '--', as ./NAME when it starts with '-'); cpp and dtc run at
        most --dtc-timeout seconds each, each in its own process group; names and
        strings from the tree are printed with control characters escaped and
        written into scenarios only as sanitised names or escaped comments.
        The scenario file is written to a new file and renamed over the path;
        a device node, FIFO, directory or symbolic link at the path is
        refused (symbolic links are not followed).
        """)

    @Argument(help: "A device tree blob (.dtb), or device tree source (.dts) compiled with dtc.", completion: .file())
    var file: String

    @Flag(help: "Also list disabled nodes and nodes that are not DMA masters.")
    var all = false

    @Option(
      name: .customLong("assume-no-dma"),
      help: ArgumentHelp("A node (path, node name or &label) that never masters the bus; repeat for several.", valueName: "node"))
    var assumeNoDMA: [String] = []

    @Option(
      name: .customLong("assume-dma"),
      help: ArgumentHelp("A node (path, node name or &label) that masters the bus although nothing says so; repeat for several.", valueName: "node"))
    var assumeDMA: [String] = []

    @Option(help: ArgumentHelp("A DMA bindings file (the format of dma-bindings.txt), read before the bundled one.", valueName: "file"))
    var bindings: String?

    @Flag(help: "Print a JSON report instead of text.")
    var json = false

    @Option(name: .customLong("scenario"), help: ArgumentHelp("Write the board as a scenario file.", valueName: "out.scn"))
    var scenarioFile: String?

    @Option(help: ArgumentHelp("dom0's layout for --scenario, COLOURS in Xen's list syntax, any order (e.g. coloured:0-3,8; coloured alone is every colour).", valueName: "layout"))
    var dom0 = BoardInput.Layout.direct

    @Option(parsing: .unconditional, help: "The number of LLC colours for a coloured dom0.")
    var llcColours = 16

    @Option(help: ArgumentHelp("dom0's memory for --scenario (e.g. 64M); default 64M or the RAM available.", valueName: "size"))
    var dom0Memory: String?

    @Option(help: "dom0 Linux's DMA policy for --scenario.")
    var policy = DMAPolicy.mergedFlags

    @Option(help: "The Xen release whose view of the board is shown and modelled for --scenario.")
    var xen = XenVersion.defaultRelease

    @Flag(help: "Xen attaches PCI endpoints' iommu-map streams to dom0 (PCI passthrough support on; read from Xen 4.21).")
    var pciStreamsAttached = false

    @OptionGroup var boardOptions: BoardOptions

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
      _ = try options()
    }

    /// The scenario options, or a usage error.
    func options() throws -> ScenarioOptions {
      guard llcColours >= 2, llcColours & (llcColours - 1) == 0, llcColours <= 1 << 16 else {
        throw ValidationError("expected --llc-colours to be a power of two ≥ 2, found \(llcColours)")
      }
      var options = ScenarioOptions(policy: policy, xen: xen, pciStreamsAttached: pciStreamsAttached, xenConfig: try BoardInput.xenConfig(boardOptions.xenConfig))
      _ = try BoardInput.ram(boardOptions.ram)
      options.smmuStreamMapEntries = try BoardInput.streamMapEntries(boardOptions.smmuStreamMapEntries)
      options.llcColours = llcColours
      switch dom0 {
      case .direct: options.dom0 = .directMapped
      case .coloured(let colours): options.dom0 = .coloured(colours: colours ?? Array(0..<llcColours))
      }
      if case .coloured(let colours) = options.dom0 {
        guard xen.hasLLCColouring else {
          throw ValidationError("expected --xen 4.20 or later for a coloured dom0 (LLC colouring), found \(xen.name)")
        }
        guard let last = colours.last, last < llcColours else {
          throw ValidationError("expected dom0's colours below --llc-colours \(llcColours)")
        }
      }
      if let dom0Memory {
        guard case .swiotlbPool(_, let size)? = try? ScenarioParser.parse("swiotlb 0x0 \(dom0Memory)").statements.first?.kind else {
          throw ValidationError("expected --dom0-memory to be a size in whole pages such as 64M, found '\(dom0Memory)'")
        }
        options.dom0MemorySize = size
      }
      return options
    }

    func run() throws {
      let options = try options()
      // Before the tree is read: a path that cannot be written is found
      // before any work.
      if let scenarioFile {
        do { try OutputFile.check(scenarioFile) } catch {
          FileHandle.standardError.write(Data("\(error.description(writing: "the scenario"))\n".utf8))
          throw ExitCode(73)
        }
      }
      var (tree, platform) = try BoardInput.load(
        file, dtcTimeout: dtcTimeout, includeDirectories: includeDir, bindings: try BoardInput.bindings(bindings), assumeDMA: assumeDMA, assumeNoDMA: assumeNoDMA)
      let banks = try BoardInput.ram(boardOptions.ram)
      if !banks.isEmpty { platform = platform.withRAM(banks) }
      for warning in platform.warnings { FileHandle.standardError.write(Data("\(file): \(warning)\n".utf8)) }
      let view = platform.xenView(options)
      var written: PlatformScenario?
      if let scenarioFile {
        do {
          written = try platform.scenario(options, name: tree.root.property("model").flatMap { try? $0.string() } ?? (file as NSString).lastPathComponent)
        } catch {
          FileHandle.standardError.write(Data("\(error.inFile(file))\n".utf8))
          throw ExitCode(65)
        }
        do {
          try OutputFile.write(written?.text ?? "", to: scenarioFile)
        } catch {
          FileHandle.standardError.write(Data("\(error.description(writing: "the scenario"))\n".utf8))
          throw ExitCode(73)
        }
      }
      if json {
        let report = PlatformReport(file: file, platform: platform, all: all, scenario: written, scenarioFile: scenarioFile, view: view, options: options)
        print(try JSONText.encode(report))
      } else {
        print(Self.text(file: file, tree: tree, platform: platform, all: all, view: view, options: options))
        if let written, let scenarioFile {
          print("Scenario: wrote \(scenarioFile) (\(written.deviceNames.count) device\(written.deviceNames.count == 1 ? "" : "s"), \(written.smmuNames.count) SMMU\(written.smmuNames.count == 1 ? "" : "s"); \(written.notes.count) note\(written.notes.count == 1 ? "" : "s") as comments)")
        }
      }
    }

    static func text(file: String, tree: FlattenedDeviceTree, platform: Platform, all: Bool, view: XenView, options: ScenarioOptions) -> String {
      var lines = ["== \(file)" + (tree.root.compatible.first.map { ": \($0)" } ?? "")]
      lines.append("IOMMUs")
      if platform.iommus.isEmpty { lines.append("  none") }
      for iommu in platform.iommus where iommu.available || all {
        lines.append(
          "  \(iommu.path)  \(iommu.compatible.first ?? "-")  \(iommu.kind.rawValue)"
            + (iommu.iommuCells.map { "  #iommu-cells \($0)" } ?? "  (no #iommu-cells: legacy mmu-masters only)")
            + (iommu.available ? "" : "  DISABLED") + (platform.labels[iommu.path].map { "  " + $0.map { "&" + $0 }.joined(separator: " ") } ?? ""))
      }
      lines.append("RAM")
      if platform.ram.isEmpty { lines.append("  none") }
      for bank in platform.ram {
        let last = bank.address.addingReportingOverflow(bank.size - 1).partialValue
        lines.append("  \(hex(bank.address))–\(hex(last))  \(sizeText(bank.size))  \(bank.node)")
      }
      for reservation in platform.reservations {
        lines.append("  reserved (memreserve) \(hex(reservation.address)) + \(sizeText(reservation.size))")
      }
      let enabled = platform.enabledDevices
      let masters = enabled.filter { if case .notAMaster = $0.classification { false } else { true } }
      lines.append("Devices")
      if masters.isEmpty { lines.append("  none") }
      for device in masters {
        lines.append(contentsOf: deviceLines(device, labels: BoardInput.labelText(platform, device.path)))
      }
      let others = enabled.filter { if case .notAMaster = $0.classification { true } else { false } }
      if all {
        lines.append("Not DMA masters")
        for device in others {
          if case .notAMaster(let reason) = device.classification {
            let labels = BoardInput.labelText(platform, device.path)
            lines.append("  \(device.path)\(labels.isEmpty ? "" : " \(labels)"): \(reason)")
          }
        }
        lines.append("Disabled")
        if !platform.devices.contains(where: { $0.disabledBy != nil }) { lines.append("  none") }
        for device in platform.devices where device.disabledBy != nil {
          let passthrough = platform.devices.first { $0.path == device.disabledBy }?.xenPassthrough == true && tree.node(at: device.disabledBy ?? "")?.isAvailable == true
          let by =
            passthrough
            ? (device.disabledBy == device.path ? "xen,passthrough (a guest's)" : "under xen,passthrough \(device.disabledBy ?? "")")
            : device.disabledBy == device.path ? "status \"\(tree.node(at: device.path)?.status ?? "disabled")\"" : "under disabled \(device.disabledBy ?? "")"
          lines.append("  \(device.path): \(by); would be \(device.classification.label)")
        }
      }
      let protected = masters.filter { $0.classification == .protected }.count
      let unprotected = masters.filter { $0.classification == .unprotected }.count
      let unknown = masters.filter { $0.classification == .unknown }.count
      let disabled = platform.devices.filter { $0.disabledBy != nil }.count
      let unsafe = platform.unsafeDevices.map(\.path)
      lines.append(
        "Summary: \(protected) protected, \(unprotected) unprotected, \(unknown) unknown; \(others.count) not DMA masters, \(disabled) disabled"
          + (all ? "" : " (--all lists them)"))
      lines.append(
        unsafe.isEmpty
          ? "Every enabled DMA master is behind an SMMU."
          : "Untranslated DMA (unsafe for dma-direct with guest-physical addresses): \(unsafe.joined(separator: ", "))")
      lines.append("Xen \(options.xen.name) (\(options.xenConfig.description))")
      for iommu in platform.iommus where iommu.available {
        switch view.owners[iommu.path] {
        case .xen?: lines.append("  \(iommu.path): driven by Xen")
        case .xenIPMMU?: lines.append("  \(iommu.path): driven by Xen (ipmmu-vmsa.c; modelled as an SMMUv2 sharing dom0's p2m)")
        case .notXen(let reason)?: lines.append("  \(iommu.path): not Xen's: \(reason)")
        case nil: break
        }
      }
      for device in masters {
        if let placement = view.placements[device.path] {
          let labels = BoardInput.labelText(platform, device.path)
          lines.append("  \(placement.label.padding(toLength: 17, withPad: " ", startingAt: 0)) \(device.path)" + (labels.isEmpty ? "" : "  \(labels)"))
        }
      }
      for (iommu, use) in view.streamMapUse.sorted(by: { $0.key < $1.key }) {
        lines.append("  \(iommu): \(use) stream-map entr\(use == 1 ? "y" : "ies") used of \(options.smmuStreamMapEntries ?? Platform.defaultStreamMapEntries)")
      }
      if !view.iommuEnabled { lines.append("  iommu_enabled is false: no 1:1 grant entries, no XENFEAT_ARM_dom0_iommu") }
      let untranslated = masters.filter { device in
        switch view.placements[device.path] {
        case .untranslated?, .iommuNotXens?: true
        default: false
        }
      }.map(\.path)
      lines.append(
        untranslated.isEmpty
          ? "  Every DMA master of dom0's goes through an SMMU Xen drives."
          : "  Untranslated by Xen (unsafe for dma-direct with guest-physical addresses): \(untranslated.joined(separator: ", "))")
      for panic in view.panics { lines.append("  XEN PANICS: \(panic.reason)") }
      // Names and strings come from the tree: each line is printed on
      // its own, with control characters escaped.
      return lines.map(Printable.escaped).joined(separator: "\n")
    }

    /// - Parameter labels: the node's labels in the source (`&sata0`), shown
    ///   at the end of its line so that the node can be found in the `.dts`.
    static func deviceLines(_ device: PlatformDevice, labels: String = "") -> [String] {
      let label: String
      switch device.classification {
      case .protected: label = "protected"
      case .unprotected: label = "UNPROTECTED"
      case .unknown: label = "UNKNOWN"
      case .notAMaster: label = "not a master"
      }
      var lines = [
        "  " + label.padding(toLength: 12, withPad: " ", startingAt: 0) + " \(device.path)" + (device.compatible.first.map { " (\($0))" } ?? "")
          + (labels.isEmpty ? "" : "  \(labels)")
      ]
      for evidence in device.evidence {
        var line = "               " + evidence.description
        if case .streams(let assignment) = evidence { line += "  [\(bindingNote(assignment.binding))]" }
        lines.append(line)
      }
      if let binding = device.binding {
        lines.append("               bindings rule \(binding)")
      }
      if device.classification == .unknown {
        lines.append("               no DMA evidence either way: counted as an untranslated master")
      }
      if device.assumedNoDMA {
        lines.append("               assumed DMA-free (--assume-no-dma): left out of scenarios")
      } else if device.classification == .unknown || device.classification == .unprotected {
        lines.append("               if it never masters the bus: --assume-no-dma \(device.name)")
      }
      return lines
    }

    static func bindingNote(_ binding: StreamBinding) -> String {
      switch binding {
      case .iommus: "SMMUv1/v2: read by Xen ≥ 4.16 (2278d2cbb0); SMMUv3: ≥ 4.15"
      case .mmuMasters: "legacy; SMMUv1/v2 only; the one binding Xen 4.15 reads"
      case .iommuMap: "PCI; Xen attaches it only with PCI passthrough support"
      case .fslMCMap: "NXP fsl-mc (DPAA2); no Xen release reads it: undescribed"
      }
    }

    static func sizeText(_ size: UInt64) -> String {
      for (shift, unit) in [(30, "G"), (20, "M"), (10, "K")] where size != 0 && size % (1 << UInt64(shift)) == 0 {
        return String(size >> UInt64(shift)) + unit
      }
      return hex(size)
    }
  }
}

/// The `--json` document.
struct PlatformReport: Encodable {
  struct IOMMU: Encodable {
    var path: String
    var compatible: [String]
    var kind: String
    var iommuCells: UInt32?
    var available: Bool
  }
  struct Bank: Encodable {
    var address: UInt64
    var size: UInt64
    var node: String
  }
  struct Streams: Encodable {
    var iommu: String
    var binding: String
    var streamIDs: [UInt32]
    var requesterIDBase: UInt32?
    var length: UInt32?
  }
  struct Device: Encodable {
    var path: String
    var compatible: [String]
    var classification: String
    var reason: String?
    var evidence: [String]
    /// The bindings-file rule that decided the class (`file:line (source)`).
    var binding: String?
    var streams: [Streams]
    var coherent: Bool
    var assumedNoDMA: Bool
    var disabledBy: String?
    var scenarioName: String?
    /// The node's labels in the source, from `/__symbols__`.
    var labels: [String]
  }
  /// Xen's view for the release and build given.
  struct Xen: Encodable {
    var version: String
    var config: String
    var iommuEnabled: Bool
    /// Path → attached, undescribed, iommu-not-xens or not-behind-smmu.
    var placements: [String: String]
    var panics: [String]
    var streamMapUse: [String: Int]
    var notes: [String]
  }
  var file: String
  var iommus: [IOMMU]
  var ram: [Bank]
  var devices: [Device]
  var unsafe: [String]
  var warnings: [String]
  var xen: Xen
  var scenarioFile: String?
  var scenarioNotes: [String]?

  init(file: String, platform: Platform, all: Bool, scenario: PlatformScenario?, scenarioFile: String?, view: XenView, options: ScenarioOptions) {
    self.file = file
    warnings = platform.warnings.map(\.message)
    xen = Xen(
      version: options.xen.name, config: options.xenConfig.description, iommuEnabled: view.iommuEnabled,
      placements: view.placements.mapValues(\.label), panics: view.panics.map(\.reason), streamMapUse: view.streamMapUse, notes: view.notes)
    iommus = platform.iommus.map { IOMMU(path: $0.path, compatible: $0.compatible, kind: $0.kind.rawValue, iommuCells: $0.iommuCells, available: $0.available) }
    ram = platform.ram.map { Bank(address: $0.address, size: $0.size, node: $0.node) }
    devices = platform.devices.filter { device in
      if all { return true }
      if device.disabledBy != nil { return false }
      if case .notAMaster = device.classification { return false }
      return true
    }.map { device in
      var reason: String?
      if case .notAMaster(let why) = device.classification { reason = why }
      return Device(
        path: device.path, compatible: device.compatible, classification: device.classification.label, reason: reason,
        evidence: device.evidence.map(\.description), binding: device.binding,
        streams: device.streams.map {
          Streams(iommu: $0.iommu, binding: $0.binding.rawValue, streamIDs: $0.streamIDs, requesterIDBase: $0.requesterIDBase, length: $0.length)
        },
        coherent: device.coherent, assumedNoDMA: device.assumedNoDMA, disabledBy: device.disabledBy,
        scenarioName: scenario?.deviceNames[device.path], labels: platform.labels[device.path] ?? [])
    }
    unsafe = platform.unsafeDevices.map(\.path)
    self.scenarioFile = scenarioFile
    scenarioNotes = scenario?.notes
  }
}
