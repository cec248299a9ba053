import Spec

extension ScenarioMachine {
  /// What the platform statements declare. They describe the hardware and
  /// Xen's boot options, so they all come before the system boots; `dom0`
  /// turns the declaration into a ``RunningSystem``, which keeps it fixed.
  struct Declaration {
    var version = XenVersion.defaultRelease
    var ipaBits = 40
    var llcColours: Int?
    var ram: [MemoryBank] = []
    var iommu: Bool?
    var hypercallCacheFlush = true
    var policy = DMAPolicy.mergedFlags
    var smmus: [SMMU] = []
    var devices: [Device] = []
    var swiotlb: (address: UInt64, size: UInt64)?

    /// Applies a platform statement and says what it declared; nil when
    /// `kind` is not a platform statement.
    mutating func declare(_ kind: StatementKind) throws(ScenarioError) -> String? {
      guard kind.phase == .platform else { return nil }
      switch kind {
      case .xen(let name):
        guard let parsed = XenVersion(name: name) else {
          throw fail("expected a Xen version 4.\(XenVersion.supportedMinors.lowerBound)–4.\(XenVersion.supportedMinors.upperBound), found \(name)")
        }
        version = parsed
        return "modelling Xen \(parsed.name) (grant 1:1 IOMMU mappings \(parsed.grantIOMMUMapping == .after04085ec1ac ? "fixed by" : "broken before") 04085ec1ac)"
      case .ipaBits(let bits):
        ipaBits = bits
        return "IPA size \(bits) bits"
      case .llcColours(let count):
        llcColours = count
        return "LLC colouring with \(count) colours"
      case .ram(let address, let size):
        // The parser refuses such banks; a scenario built in code may not.
        let (last, overflow) = address.addingReportingOverflow(size &- 1)
        guard size > 0, !overflow else { throw fail("expected a non-empty RAM bank ending at or below 2^64, found \(hex(address)) + \(hex(size))") }
        ram.append(MemoryBank(start: MFN(address >> pageShift), pages: size >> pageShift))
        return "host RAM bank \(hex(address))–\(hex(last))"
      case .iommu(let on):
        iommu = on
        return "IOMMU \(on ? "enabled" : "disabled") for dom0"
      case .hypercallCacheFlush(let on):
        hypercallCacheFlush = on
        return "GNTTABOP_cache_flush \(on ? "available" : "absent")"
      case .linuxPolicy(let chosen):
        policy = chosen
        return "dom0 Linux DMA policy \(chosen.rawValue)"
      case .smmu(let name, let smmuVersion, let entries, let iotlb):
        guard !smmus.contains(where: { $0.name == name }) else { throw fail("SMMU \(name) is already declared") }
        var smmu: SMMU = smmuVersion == .v2 ? .v2(name: name, streamMapEntries: entries ?? 16) : .v3(name: name)
        smmu.iotlbEntries = iotlb
        smmus.append(smmu)
        return "SMMU\(smmuVersion.rawValue) \(name)"
      case .device(let declaration):
        guard !devices.contains(where: { $0.name == declaration.name }) else {
          throw fail("device \(declaration.name) is already declared")
        }
        let attachment: DeviceAttachment
        switch declaration.placement {
        case .untranslated: attachment = .notBehindSMMU
        case .smmu(let smmu, let streams, let described):
          guard smmus.contains(where: { $0.name == smmu }) else { throw fail("SMMU \(smmu) is not declared") }
          attachment = .behindSMMU(smmu: smmu, streamIDs: streams, described: described)
        }
        var masks = declaration.streamMasks
        while masks.last == 0 { masks.removeLast() }
        if !masks.isEmpty {
          guard case .smmu(let smmuName, let streams, _) = declaration.placement, masks.count <= streams.count else {
            throw fail("expected a stream-match mask only on a stream of a device behind an SMMU")
          }
          guard smmus.first(where: { $0.name == smmuName })?.version == .v2 else {
            throw fail("expected no stream-match mask behind \(smmuName), an SMMUv3 (it has no SMRs)")
          }
          if let wide = masks.first(where: { $0 > Device.streamMatchMaskLimit }) {
            throw fail("expected a stream-match mask of at most 15 bits (SMR.MASK), found \(hex(UInt64(wide)))")
          }
        }
        let device = Device(
          name: declaration.name, coherent: declaration.coherent, dmaMaskBits: declaration.dmaMaskBits, attachment: attachment,
          streamMatchMasks: masks, passthrough: declaration.passthrough, dmaRegions: declaration.dmaRegions)
        devices.append(device)
        return "device \(device)"
      case .swiotlbPool(let address, let size):
        swiotlb = (address, size)
        return "swiotlb bounce pool at dom0 \(hex(address)), \(size >> 10) KiB"
      default:
        // Domains and operations (the guard above).
        return nil
      }
    }

    /// The declared SMMUs with the declared release's stream-match
    /// behaviour (``XenVersion/sharesMaskedStreamMatchEntries``,
    /// ``XenVersion/streamMapEntryLifetime``), whatever
    /// the order of the `xen` and `smmu` statements.
    var smmusAsXenDrivesThem: [SMMU] {
      smmus.map { smmu in
        var smmu = smmu
        smmu.sharesMaskedStreamMatchEntries = version.sharesMaskedStreamMatchEntries
        smmu.streamMapEntryLifetime = version.streamMapEntryLifetime
        return smmu
      }
    }

    // MARK: Boot

    /// Boots the declared platform: Xen with dom0 in `layout`, the SMMUs as
    /// Xen leaves them, and Linux's bounce pool. Returns the running system
    /// and what the boot made of dom0.
    func boot(layout: Dom0Memory, size: UInt64) throws(ScenarioError) -> (system: RunningSystem, summary: String) {
      guard !ram.isEmpty else { throw fail("expected at least one 'ram' bank before dom0") }
      let colouring: LLCColouring?
      switch (layout, llcColours) {
      case (.coloured, nil): throw fail("a coloured dom0 needs 'llc-colours <n>' first")
      case (_, let count?): colouring = LLCColouring(colourCount: count)
      case (.directMapped, nil): colouring = nil
      }
      var xen: XenState
      do { xen = try XenState(version: version, ipaBits: ipaBits, ram: ram, colouring: colouring) } catch { throw fail("\(error)") }

      let banks = try dom0Banks(size: size)
      let iommuEnabled = iommu ?? !smmus.isEmpty
      let placement: RAMPlacement
      switch layout {
      case .directMapped: placement = .directMapped(banks: banks)
      case .coloured(let colours): placement = .colouredHostLayout(colours: colours, banks: banks)
      }
      let dom0: DomainState
      do {
        try xen.createDomain(.dom0, memory: placement, iommuEnabled: iommuEnabled)
        dom0 = try xen.domain(.dom0)
      } catch {
        throw fail("\(error)")
      }

      var platform: SMMUPlatform
      do {
        platform = try SMMUPlatform(smmus: smmusAsXenDrivesThem, devices: devices)
        if iommuEnabled {
          try platform.assignDescribedDevicesToDom0()
        } else {
          for smmu in smmus { try platform.setState(firmwareState(of: smmu), of: smmu.name) }
        }
      } catch {
        throw fail("\(error)")
      }

      let pool = try bouncePool(dom0: dom0)
      let features = XenFeatures(version: version, dom0DirectMapped: dom0.isDirectMapped, iommuEnabled: iommuEnabled)
      var system = RunningSystem(declaration: self, xen: xen, platform: platform, pool: pool, features: features)
      system.layOutTables()
      let layoutText = dom0.isDirectMapped ? "direct-mapped" : "coloured \(ScenarioPrinter.colourText(dom0.colours ?? []))"
      let summary = "dom0 \(layoutText), banks \(dom0.ram.map(\.description).joined(separator: ", ")); devices attached to dom0: \(platform.assignments.keys.sorted().joined(separator: ", "))"
      return (system, summary)
    }

    /// dom0's banks: the first `size` bytes of host RAM
    /// (``MemoryBank/dom0Banks(pages:in:)``). A direct-mapped dom0 gets them
    /// 1:1; a coloured one uses them as its host layout (§5 "Coloured dom0
    /// memory") with MFNs from the allocator.
    func dom0Banks(size: UInt64) throws(ScenarioError) -> [MemoryBank] {
      guard let banks = MemoryBank.dom0Banks(pages: size >> pageShift, in: ram) else {
        throw fail("dom0 needs \(hex(size)) bytes but host RAM holds less")
      }
      return banks
    }

    /// Linux's swiotlb pool: where the scenario says, else the last 256 KiB
    /// of dom0's first bank. [derived] Linux allocates it from low memory at
    /// boot (`swiotlb_init`); the exact place does not change which pages are
    /// local dom0 RAM, which is all the model relies on.
    func bouncePool(dom0: DomainState) throws(ScenarioError) -> SwiotlbPool {
      if let (address, size) = swiotlb {
        for page in 0..<(size >> pageShift) where dom0.p2m.lookup(GFN(address >> pageShift).advanced(by: page)) == nil {
          throw fail("the swiotlb pool page \(hex(address + page << pageShift)) is not dom0 RAM")
        }
        return SwiotlbPool(start: GFN(address >> pageShift), pages: size >> pageShift)
      }
      guard let first = dom0.ram.first else { throw fail("dom0 has no RAM for the swiotlb pool") }
      let pages = min(64, first.pages)
      return SwiotlbPool(start: first.end.advanced(by: 0 &- pages), pages: pages)
    }

    /// `smmu` as Xen finds it when it never probes it (`iommu=0`): as
    /// firmware leaves it, which the model takes to be global bypass
    /// (SMMUv2 sCR0.CLIENTPD, SMMUv3 SMMUEN = 0). [derived: boards may
    /// differ; none of the fact sheet's sources says]
    func firmwareState(of smmu: SMMU) throws(SMMUError) -> SMMU.State {
      switch smmu.version {
      case .v2:
        return .v2(try SMMUv2Registers(streamMatch: [], streamToContext: [], contextBanks: [], unidentifiedStreamFaults: false))
      case .v3:
        var table = SMMUv3StreamTable()
        for device in devices {
          if case .behindSMMU(smmu.name, let streams, _) = device.attachment {
            for stream in streams { table.entries[stream] = .bypass }
          }
        }
        return .v3(table)
      }
    }
  }
}
