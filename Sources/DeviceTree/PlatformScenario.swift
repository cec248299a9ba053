import Scenario
import Spec

/// How to turn a board into a scenario: what the device tree does not say.
package struct ScenarioOptions: Hashable, Sendable {
  /// dom0's layout: direct-mapped, or coloured with these colours.
  package var dom0: Dom0Memory
  /// The number of LLC colours when dom0 is coloured (Xen computes it from
  /// the LLC way size, `llc-colors`; 16 is a 1 MiB 16-way LLC's [derived]).
  package var llcColours: Int
  /// dom0's memory; nil picks 64 MiB, or less when the RAM (or, coloured,
  /// the RAM of dom0's colours) is smaller.
  package var dom0MemorySize: UInt64?
  package var policy: DMAPolicy
  package var xen: XenVersion
  /// Whether Xen attaches PCI endpoints' streams (from `iommu-map`) to
  /// dom0's context. It does so only with its PCI passthrough support on
  /// (`pci-passthrough=on`, tech preview) and dom0 reporting the devices
  /// with PHYSDEVOP_pci_device_add; otherwise Xen never programs their
  /// streams, so they fault like undescribed masters (§6.4). Only from
  /// Xen 4.21: `iommu_add_dt_pci_sideband_ids()` (`7f661b7b40`,
  /// `xen/drivers/passthrough/device_tree.c`) maps a RID through
  /// `iommu-map`/`iommu-map-mask`, and smmu.c (`ca8f6ffeb6`) and smmu-v3.c
  /// (`63919fc4d1`) call it for PCI devices; RELEASE-4.20.0 has no reader
  /// of `iommu-map` but `write_properties()` hiding it from dom0.
  package var pciStreamsAttached: Bool
  /// How Xen was built and booted (its SMMUv3 driver, `iommu=`).
  package var xenConfig: XenConfig
  /// Stream-map entries (SMRs) of each SMMUv1/v2; nil for the default,
  /// ``Platform/defaultStreamMapEntries``. The tree does not say it: Xen
  /// reads it from the hardware (`SMMU_IDR0.NUMSMRG`,
  /// `arm_smmu_device_cfg_probe()` in smmu.c, RELEASE-4.15.0).
  package var smmuStreamMapEntries: Int?

  package init(
    dom0: Dom0Memory = .directMapped, llcColours: Int = 16, dom0MemorySize: UInt64? = nil,
    policy: DMAPolicy = .mergedFlags, xen: XenVersion = .latest, pciStreamsAttached: Bool = false, xenConfig: XenConfig = XenConfig()
  ) {
    self.dom0 = dom0
    self.llcColours = llcColours
    self.dom0MemorySize = dom0MemorySize
    self.policy = policy
    self.xen = xen
    self.pciStreamsAttached = pciStreamsAttached
    self.xenConfig = xenConfig
    smmuStreamMapEntries = nil
  }
}

/// A board as a scenario, with how its nodes were named and what the
/// translation had to assume.
package struct PlatformScenario: Hashable, Sendable {
  package var scenario: Scenario
  /// Node path → scenario name, for the devices declared.
  package var deviceNames: [String: String]
  /// Node path → scenario name, for the SMMUs declared.
  package var smmuNames: [String: String]
  /// What the scenario could not say, one sentence each; written as
  /// comments at the top of the file.
  package var notes: [String]

  /// The scenario file: notes as `#` comments, then the statements.
  package var text: String {
    notes.map { "# \(Printable.escaped($0))\n" }.joined() + ScenarioPrinter.print(scenario)
  }
}

extension Platform {
  /// The platform statements and dom0 of a scenario for this board, so
  /// that the spec and the proofs can run on it and a user can save it.
  ///
  /// - Protected devices become `device N smmu S streams …`, `undescribed`
  ///   when this Xen does not read the binding that lists their streams
  ///   (see ``ScenarioOptions`` and ``isRead(_:by:on:options:)``).
  /// - Unprotected DMA masters, and `unknown` devices, become
  ///   `device N untranslated` (unknown counts as unsafe); those assumed
  ///   DMA-free are left out.
  /// - Not-a-master and disabled nodes are left out.
  ///
  /// - Throws: ``DeviceTreeError`` when the board cannot be modelled: no
  ///   RAM, an IOMMU type the scenario language lacks, stream IDs wider than
  ///   the model's SMMUs, colouring on a Xen without it, bad colours.
  package func scenario(_ options: ScenarioOptions, name: String? = nil) throws(DeviceTreeError) -> PlatformScenario {
    var statements: [StatementKind] = [.xen(version: options.xen.name)]
    var notes: [String] = []

    // RAM: whole pages only; the spec's frames are 4 KiB.
    var banks: [(address: UInt64, size: UInt64)] = []
    for bank in ram.sorted(by: { $0.address < $1.address }) {
      let pageMask = pageSize - 1
      let start = (bank.address &+ pageMask) & ~pageMask
      let (end, overflow) = bank.address.addingReportingOverflow(bank.size)
      let pageEnd = (overflow ? UInt64.max : end) & ~pageMask
      guard start < pageEnd, start >= bank.address else {
        notes.append("RAM bank \(hex(bank.address))+\(hex(bank.size)) of \(bank.node) holds no whole 4 KiB page; left out")
        continue
      }
      if start != bank.address || pageEnd != end { notes.append("RAM bank \(hex(bank.address))+\(hex(bank.size)) trimmed to whole pages") }
      banks.append((start, pageEnd - start))
    }
    guard let highest = banks.map({ $0.address + $0.size }).max() else {
      throw DeviceTreeError(offset: nil, message: "expected at least one memory node (device_type = \"memory\") with RAM, found none; give it with --ram BASE:SIZE, or read the tree the firmware fixed up (/sys/firmware/fdt on the running board)")
    }
    // The smallest IPA size Xen's p2m supports that covers all RAM: dom0's
    // GFNs are host addresses when direct-mapped (§2.3).
    guard let ipaBits = [40, 42, 44, 48].first(where: { highest <= UInt64(1) << UInt64($0) }) else {
      throw DeviceTreeError(offset: nil, message: "expected RAM below 2^48, found RAM up to \(hex(highest))")
    }
    statements.append(.ipaBits(ipaBits))

    if case .coloured(let colours) = options.dom0 {
      guard options.xen.hasLLCColouring else {
        throw DeviceTreeError(offset: nil, message: "expected Xen 4.20 or later for a coloured dom0 (LLC colouring, fact sheet §5), found \(options.xen.name)")
      }
      guard options.llcColours >= 2, options.llcColours & (options.llcColours - 1) == 0 else {
        throw DeviceTreeError(offset: nil, message: "expected the number of LLC colours to be a power of two ≥ 2, found \(options.llcColours)")
      }
      // As Xen reads `dom0-llc-colors`: any order, repeats allowed
      // (parse_color_config(), check_colors(), RELEASE-4.21.0).
      guard !colours.isEmpty, colours.count <= options.llcColours, colours.allSatisfy({ (0..<options.llcColours).contains($0) }) else {
        throw DeviceTreeError(offset: nil, message: "expected dom0's colours below \(options.llcColours), at most \(options.llcColours) entries, found \(colours.map(String.init).joined(separator: ","))")
      }
      statements.append(.llcColours(options.llcColours))
    }
    statements += banks.map { .ram(address: $0.address, size: $0.size) }

    // SMMUs the scenario can model: those Xen drives.
    let view = xenView(options)
    notes += view.panics.map { "\($0.reason); the scenario models the board as if Xen booted" }
    notes += view.notes
    var smmuNames: [String: String] = [:]
    // Where each SMMU's statement is, to size its stream-match table once
    // the devices are known.
    var smmuStatements: [String: Int] = [:]
    var names = UniqueNames()
    let used = Set(enabledDevices.flatMap { $0.streams.map(\.iommu) })
    for iommu in iommus where iommu.available {
      switch view.owners[iommu.path] {
      case .xen?:
        let name = names.make(for: iommu.name)
        smmuNames[iommu.path] = name
        smmuStatements[name] = statements.count
        statements.append(.smmu(name: name, version: iommu.kind == .smmuV3 ? .v3 : .v2))
        if iommu.kind == .smmuV1 { notes.append("\(iommu.path) is an SMMUv1, modelled as v2: Xen drives both with smmu.c (fact sheet §6.1)") }
      case .xenIPMMU?:
        // [derived] An IPMMU context walks the domain's p2m as an SMMUv2
        // context bank does (IOMMUOwner.xenIPMMU); its micro-TLB IDs
        // stand for stream IDs. Stream matching, context-bank counts and
        // the IPMMU's own fault reporting are not modelled.
        guard used.contains(iommu.path) else {
          notes.append("IOMMU \(iommu.path) (\(iommu.compatible.first ?? "?")) has no masters and is left out")
          continue
        }
        let name = names.make(for: iommu.name)
        smmuNames[iommu.path] = name
        smmuStatements[name] = statements.count
        statements.append(.smmu(name: name, version: .v2))
        notes.append("\(iommu.path) is an R-Car IPMMU that Xen drives (ipmmu-vmsa.c): modelled as an SMMUv2 whose contexts share dom0's p2m, its micro-TLB IDs as stream IDs")
      case .notXen?, nil:
        if !used.contains(iommu.path) { notes.append("IOMMU \(iommu.path) (\(iommu.compatible.first ?? "?")) has no masters and is left out") }
      }
    }
    statements.append(.iommu(view.iommuEnabled && !smmuNames.isEmpty))
    statements.append(.linuxPolicy(options.policy))

    // Devices.
    var deviceNames: [String: String] = [:]
    var attachedStreams: [String: Set<UInt32>] = [:]
    // Per SMMUv1/v2, its described devices' streams with their masks, in
    // the order Xen assigns them to dom0.
    var streamMatchRequests: [String: [(device: String, requests: [StreamMatchRegister])]] = [:]
    let smmuKinds = Dictionary(iommus.map { ($0.path, $0.kind) }, uniquingKeysWith: { first, _ in first })
    for device in enabledDevices {
      let placement: DeviceDeclaration.Placement
      var deviceMasks: [UInt32] = []
      if device.assumedNoDMA {
        notes.append("\(device.path) (\(device.classification.label)) left out: assumed DMA-free (--assume-no-dma)")
        continue
      }
      switch view.placements[device.path] {
      case nil:
        continue
      case .untranslated?, .iommuNotXens?:
        if case .unknown = device.classification {
          notes.append("\(device.path) has no DMA evidence either way; counted as an untranslated master (unsafe) unless assumed DMA-free")
        }
        if case .iommuNotXens(let iommu)? = view.placements[device.path] {
          notes.append("\(device.path): its streams are on \(iommu), which Xen does not drive; modelled as untranslated")
        }
        placement = .untranslated
      case .attached?, .undescribed?:
        let onSMMUs = device.streams.filter { smmuNames[$0.iommu] != nil }
        guard let first = onSMMUs.first, let smmu = smmuNames[first.iommu], let kind = smmuKinds[first.iommu] else { continue }
        let here = onSMMUs.filter { $0.iommu == first.iommu }
        if here.count < onSMMUs.count {
          notes.append("\(device.path) has streams on several SMMUs; the scenario keeps those on \(first.iommu)")
        }
        var streams: [UInt32] = []
        var masks: [UInt32] = []
        for assignment in here {
          for (position, id) in assignment.streamIDs.enumerated() where !streams.contains(id) {
            streams.append(id)
            masks.append(assignment.streamMatchMasks.indices.contains(position) ? assignment.streamMatchMasks[position] : 0)
          }
        }
        if !masks.contains(where: { $0 != 0 }) { masks = [] }
        if streams.isEmpty {
          streams = [0]
          notes.append("\(device.path) has an IOMMU specifier without cells; modelled as stream 0x0")
        }
        // The spec's SMMUs: v2 with 15-bit, v3 with 16-bit stream IDs
        // (`SMMU.v2`, `SMMU.v3` defaults).
        let bits = kind == .smmuV3 ? 16 : 15
        if let wide = streams.first(where: { UInt64($0) >= UInt64(1) << UInt64(bits) }), let assignment = here.first(where: { $0.streamIDs.contains(wide) }) {
          throw DeviceTreeError(offset: assignment.offset, message: "expected stream IDs of \(device.path) below 2^\(bits) (the model's SMMU\(kind == .smmuV3 ? "v3" : "v2")), found \(hex(wide))")
        }
        let described: Bool
        if case .attached? = view.placements[device.path] { described = true } else { described = false }
        if !described {
          let bindings = Set(here.map(\.binding.rawValue)).sorted().joined(separator: ", ")
          notes.append("\(device.path): Xen \(options.xen.name) does not read its \(bindings) streams on \(first.iommu), so they are undescribed and fault")
        }
        if here.contains(where: { ($0.binding == .iommuMap || $0.binding == .fslMCMap) && $0.requesterID == nil }) {
          notes.append("\(device.path): each iommu-map entry is modelled by its first stream (the endpoint at rid-base)")
        }
        placement = .smmu(name: smmu, streams: streams, described: described)
        if !masks.isEmpty {
          deviceMasks = masks
          let masked = zip(streams, masks).filter { $0.1 != 0 }.map { "\(hex(UInt64($0.0)))/\(hex(UInt64($0.1)))" }.joined(separator: ", ")
          notes.append(
            "\(device.path): stream-match mask \(masked) on \(first.iommu); "
              + (options.xen.sharesMaskedStreamMatchEntries
                ? "Xen \(options.xen.name) writes it into the SMR and shares the entry with any stream inside it"
                : "Xen \(options.xen.name) ignores it (SMR mask 0, before ef3b4768b3 in 4.20): only the ID itself is matched"))
        }
        if described, kind != .smmuV3 {
          attachedStreams[smmu, default: []].formUnion(streams)
          let requests = streams.indices.map { StreamMatchRegister(id: streams[$0], mask: masks.indices.contains($0) ? masks[$0] : 0) }
          streamMatchRequests[smmu, default: []].append((device.path, requests))
        }
      }
      let name = names.make(for: device.name)
      deviceNames[device.path] = name
      statements.append(
        .device(
          DeviceDeclaration(
            name: name, placement: placement, coherent: device.coherent, streamMasks: deviceMasks, dmaRegions: device.dmaRanges?.regions ?? [])))
    }

    // The scenario language's SMMUv2 has the spec's 16 stream-map entries
    // unless told (`smmu NAME v2 entries N`): a board that attaches more
    // gets the hardware's count (`--smmu-stream-map-entries`, else
    // ``Platform/defaultStreamMapEntries``), as Xen reads NUMSMRG.
    let hardwareEntries = options.smmuStreamMapEntries ?? Platform.defaultStreamMapEntries
    for (smmu, streams) in attachedStreams.sorted(by: { $0.key < $1.key }) where streams.count > 16 {
      guard let index = smmuStatements[smmu], case .smmu(let name, let version, _, _) = statements[index] else { continue }
      statements[index] = .smmu(name: name, version: version, streamMapEntries: min(hardwareEntries, 128))
      if streams.count > hardwareEntries {
        notes.append("SMMU \(smmu) gets \(streams.count) attached streams, more than its \(hardwareEntries) stream-map entries: 'dmaverify run' cannot boot this scenario")
      }
    }

    for (smmu, devices) in streamMatchRequests.sorted(by: { $0.key < $1.key }) {
      notes += Self.streamMatchSharing(devices, on: smmu, xen: options.xen)
    }

    // dom0.
    // Saturating: a hostile tree may list banks whose sizes add past 2^64.
    let totalPages = banks.map { $0.size >> pageShift }.reduce(UInt64(0)) { sum, pages in
      let (total, overflow) = sum.addingReportingOverflow(pages)
      return overflow ? .max : total
    }
    var availablePages = totalPages
    if case .coloured(let colours) = options.dom0 {
      availablePages = totalPages / UInt64(options.llcColours) * UInt64(colours.count)
    }
    let size = options.dom0MemorySize ?? min(64 << 20, availablePages << pageShift)
    guard size > 0, size % pageSize == 0 else {
      throw DeviceTreeError(offset: nil, message: "expected dom0's memory to be a positive multiple of 4 KiB, found \(hex(size))")
    }
    statements.append(.dom0(options.dom0, size: size))
    return PlatformScenario(
      scenario: Scenario(name: name.map(Self.scenarioName), statements: statements.map { Statement($0) }),
      deviceNames: deviceNames, smmuNames: smmuNames, notes: notes)
  }

  /// A name from the tree (its `model`) as a scenario's quoted name: on
  /// one line, control characters escaped, `"` as `'`.
  static func scenarioName(_ name: String) -> String {
    String(Printable.escaped(name).map { $0 == "\"" ? "'" : $0 })
  }

  /// Whether Xen `version` reads stream IDs given by `binding` for an SMMU
  /// of `kind`, so that `iommu_add_dt_device()` can attach them to dom0
  /// (fact sheet §6.1–6.3):
  /// - `mmu-masters`: Xen's SMMUv1/v2 driver (smmu.c) in every modelled
  ///   release; the SMMUv3 driver never.
  /// - `iommus`: the SMMUv3 driver from its import (4.15); the SMMUv1/v2
  ///   driver from `2278d2cbb0` (4.16); the R-Car IPMMU driver from its
  ///   import (4.13).
  /// - `iommu-map`: only from 4.21, and when
  ///   ``ScenarioOptions/pciStreamsAttached``; an fsl-mc bus's never.
  ///
  /// [uncertain] Linux refuses to probe an SMMU whose tree mixes both
  /// bindings; whether Xen's port does too is not in the fact sheet, so a
  /// mixed tree is taken to work with both.
  package static func isRead(_ binding: StreamBinding, by version: XenVersion, on kind: IOMMUKind, options: ScenarioOptions) -> Bool {
    switch (binding, kind) {
    case (.mmuMasters, .smmuV1), (.mmuMasters, .smmuV2): true
    case (.mmuMasters, _): false
    case (.iommus, .smmuV3): version.minor >= 15
    case (.iommus, .smmuV1), (.iommus, .smmuV2): version.minor >= 16
    // `.other` here is an IPMMU Xen drives (only those are asked):
    // ipmmu-vmsa.c has `.dt_xlate` and `.add_device` since it came (4.13).
    case (.iommus, .other): version.minor >= 13
    case (.iommuMap, _): options.pciStreamsAttached && version.minor >= 21
    case (.fslMCMap, _): false
    }
  }
}

/// Scenario names from node names: letters, digits, `-` and `_`, starting
/// with a letter (docs/SCENARIOS.md); the unit address is added, then a
/// counter, only when needed to keep names unique.
struct UniqueNames {
  var taken: Set<String> = []

  mutating func make(for nodeName: String) -> String {
    let parts = nodeName.split(separator: "@", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
    let base = Self.sanitise(parts.first ?? "")
    var candidates = [base]
    if parts.count == 2 { candidates.append(base + "-" + Self.sanitise(parts[1])) }
    for candidate in candidates where taken.insert(candidate).inserted { return candidate }
    let stem = candidates[candidates.count - 1]
    var counter = 2
    while !taken.insert("\(stem)-\(counter)").inserted { counter += 1 }
    return "\(stem)-\(counter)"
  }

  static func sanitise(_ text: String) -> String {
    var result = String(text.unicodeScalars.map { scalar in
      scalar.isASCII && (ASCIIClass.alphanumerics(scalar) || scalar == "-" || scalar == "_") ? Character(scalar) : "-"
    })
    if result.isEmpty { result = "node" }
    if let first = result.unicodeScalars.first, !(first.isASCII && ASCIIClass.letters(first)) { result = "n-" + result }
    return result
  }
}

/// ASCII classes without Foundation.
enum ASCIIClass {
  static func letters(_ scalar: Unicode.Scalar) -> Bool {
    ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar)
  }
  static func alphanumerics(_ scalar: Unicode.Scalar) -> Bool {
    letters(scalar) || ("0"..."9").contains(scalar)
  }
}
