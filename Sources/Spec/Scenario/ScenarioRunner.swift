/// Executes a scenario on the executable specification: Xen's p2m and grant
/// table (`XenState`), the SMMUs (`SMMUPlatform`), Linux's grant tree and
/// bounce pool, machine memory, and DMAs translated by the architectural
/// stage-2 walk over each domain's p2m laid out as descriptor tables.
///
/// This is Serval's "one interpreter": `dmaverify run`, the fuzzer's
/// replay and the minimizer all run scenarios through here.
public enum ScenarioRunner {
  /// Runs `scenario` statement by statement.
  ///
  /// A Xen or Linux refusal (a bad grant, an unmapped buffer) is a step
  /// result, as the hypercall's error code would be. A scenario that cannot
  /// mean anything (a device used before it is declared, a platform
  /// statement after the domains exist) throws a ``ScenarioError`` naming
  /// the line.
  public static func run(_ scenario: Scenario, file: String? = nil) throws(ScenarioError) -> ScenarioReport {
    var machine = ScenarioMachine()
    var steps: [StepReport] = []
    for statement in scenario.statements {
      do throws(ScenarioError) {
        steps.append(try machine.execute(statement))
      } catch {
        var located = error
        if located.location == nil { located.location = statement.location }
        throw file.map { located.inFile($0) } ?? located
      }
    }
    return ScenarioReport(name: scenario.name, steps: steps)
  }
}

/// The state a scenario builds: platform settings first, then the running
/// system once dom0 exists.
struct ScenarioMachine {
  // MARK: Platform settings (before the first domain)
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
  /// Whether step reports carry the statement's text and a successful
  /// DMA's account (``ScenarioExecution/describesSteps``).
  var describesSteps = true

  // MARK: The running system
  var system: RunningSystem?

  struct RunningSystem {
    var xen: XenState
    var platform: SMMUPlatform
    var grantTree = GrantTree()
    var pool: SwiotlbPool
    var memory = MachineMemory()
    var domainNames: [String: DomainID] = ["dom0": .dom0]
    var grants: [String: (handle: GrantHandle, hostAddress: UInt64)] = [:]
    var foreignMaps: [String: GFN] = [:]
    var features: XenFeatures
    /// Each domain's p2m laid out as descriptor tables, with the p2m it was
    /// laid out from: reused by later DMAs while that p2m is unchanged.
    var tables: [DomainID: (p2m: ReferenceP2M, image: P2MTableImage)] = [:]
  }

  mutating func execute(_ statement: Statement) throws(ScenarioError) -> StepReport {
    let text = describesSteps ? ScenarioPrinter.line(for: statement.kind) : ""
    func step(_ result: String, succeeded: Bool = true) -> StepReport {
      StepReport(line: statement.location?.line, statement: text, result: result, succeeded: succeeded)
    }
    switch statement.kind {
    case .xen(let name):
      try requirePlatformPhase()
      guard let parsed = XenVersion(name: name) else {
        throw fail("expected a Xen version 4.\(XenVersion.supportedMinors.lowerBound)–4.\(XenVersion.supportedMinors.upperBound), found \(name)")
      }
      version = parsed
      return step("modelling Xen \(parsed.name) (grant 1:1 IOMMU mappings \(parsed.grantIOMMUMapping == .after04085ec1ac ? "fixed by" : "broken before") 04085ec1ac)")
    case .ipaBits(let bits):
      try requirePlatformPhase()
      ipaBits = bits
      return step("IPA size \(bits) bits")
    case .llcColours(let count):
      try requirePlatformPhase()
      llcColours = count
      return step("LLC colouring with \(count) colours")
    case .ram(let address, let size):
      try requirePlatformPhase()
      // The parser refuses such banks; a scenario built in code may not.
      let (last, overflow) = address.addingReportingOverflow(size &- 1)
      guard size > 0, !overflow else { throw fail("expected a non-empty RAM bank ending at or below 2^64, found \(hex(address)) + \(hex(size))") }
      ram.append(MemoryBank(start: MFN(address >> 12), pages: size >> 12))
      return step("host RAM bank \(hex(address))–\(hex(last))")
    case .iommu(let on):
      try requirePlatformPhase()
      iommu = on
      return step("IOMMU \(on ? "enabled" : "disabled") for dom0")
    case .hypercallCacheFlush(let on):
      try requirePlatformPhase()
      hypercallCacheFlush = on
      return step("GNTTABOP_cache_flush \(on ? "available" : "absent")")
    case .linuxPolicy(let chosen):
      try requirePlatformPhase()
      policy = chosen
      return step("dom0 Linux DMA policy \(chosen.rawValue)")
    case .smmu(let name, let smmuVersion, let entries, let iotlb):
      try requirePlatformPhase()
      guard !smmus.contains(where: { $0.name == name }) else { throw fail("SMMU \(name) is already declared") }
      var smmu: SMMU = smmuVersion == .v2 ? .v2(name: name, streamMapEntries: entries ?? 16) : .v3(name: name)
      smmu.iotlbEntries = iotlb
      smmus.append(smmu)
      return step("SMMU\(smmuVersion.rawValue) \(name)")
    case .device(let declaration):
      try requirePlatformPhase()
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
      let device = Device(name: declaration.name, coherent: declaration.coherent, dmaMaskBits: declaration.dmaMaskBits, attachment: attachment)
      devices.append(device)
      return step("device \(device)")
    case .swiotlbPool(let address, let size):
      try requirePlatformPhase()
      swiotlb = (address, size)
      return step("swiotlb bounce pool at dom0 \(hex(address)), \(size >> 10) KiB")
    case .dom0(let layout, let size):
      try boot(layout: layout, size: size)
      let dom0 = system!.xen.domains[.dom0]!
      return step("dom0 \(dom0.isDirectMapped ? "direct-mapped" : "coloured \(ScenarioPrinter.colourText(dom0.colours ?? []))"), banks \(dom0.ram.map(\.description).joined(separator: ", ")); devices attached to dom0: \(system!.platform.assignments.keys.sorted().joined(separator: ", "))")
    default:
      guard system != nil else { throw fail("expected dom0 to be declared before domains and operations") }
      return try operate(statement, text: text)
    }
  }

  /// Platform statements describe the hardware and Xen's boot options, so
  /// they must all come before the system boots.
  func requirePlatformPhase() throws(ScenarioError) {
    guard system == nil else { throw fail("expected platform statements before dom0; the system is already running") }
  }

  func fail(_ message: String) -> ScenarioError { ScenarioError(location: nil, message: message) }

  // MARK: Boot

  mutating func boot(layout: Dom0Memory, size: UInt64) throws(ScenarioError) {
    guard system == nil else { throw fail("dom0 is already declared") }
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
    do { try xen.createDomain(.dom0, memory: placement, iommuEnabled: iommuEnabled) } catch { throw fail("\(error)") }

    var platform: SMMUPlatform
    do {
      platform = try SMMUPlatform(smmus: smmus, devices: devices)
      if iommuEnabled {
        try platform.assignDescribedDevicesToDom0()
      } else {
        for smmu in smmus { try platform.setState(Self.firmwareBypass(smmu, devices: devices), of: smmu.name) }
      }
    } catch {
      throw fail("\(error)")
    }

    let dom0 = xen.domains[.dom0]!
    let pool = try bouncePool(dom0: dom0)
    let features = XenFeatures(version: version, dom0DirectMapped: dom0.isDirectMapped, iommuEnabled: iommuEnabled)
    system = RunningSystem(xen: xen, platform: platform, pool: pool, features: features)
    layOutTables()
  }

  /// Lays out every domain's p2m as tables ahead of the first DMA
  /// (``architecturalTranslator(_:cache:)``), so that copies of a booted
  /// machine share them; only a cache: a p2m that cannot be laid out is
  /// reported by the DMA that needs it, as before.
  mutating func layOutTables() {
    _ = try? architecturalTranslator(system!.xen, cache: &system!.tables)
  }

  /// dom0's banks: the first `size` bytes of host RAM
  /// (``MemoryBank/dom0Banks(pages:in:)``). A direct-mapped dom0 gets them
  /// 1:1; a coloured one uses them as its host layout (§5 "Coloured dom0
  /// memory") with MFNs from the allocator.
  func dom0Banks(size: UInt64) throws(ScenarioError) -> [MemoryBank] {
    guard let banks = MemoryBank.dom0Banks(pages: size >> 12, in: ram) else {
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
      for page in 0..<(size >> 12) where dom0.p2m.lookup(GFN(address >> 12).advanced(by: page)) == nil {
        throw fail("the swiotlb pool page \(hex(address + page << 12)) is not dom0 RAM")
      }
      return SwiotlbPool(start: GFN(address >> 12), pages: size >> 12)
    }
    guard let first = dom0.ram.first else { throw fail("dom0 has no RAM for the swiotlb pool") }
    let pages = min(64, first.pages)
    return SwiotlbPool(start: first.end.advanced(by: 0 &- pages), pages: pages)
  }

  /// An SMMU Xen never probed (`iommu=0`): as firmware leaves it, which the
  /// model takes to be global bypass (SMMUv2 sCR0.CLIENTPD, SMMUv3
  /// SMMUEN = 0). [derived: boards may differ; none of the fact sheet's
  /// sources says]
  static func firmwareBypass(_ smmu: SMMU, devices: [Device]) throws(SMMUError) -> SMMU.State {
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

  // MARK: Operations

  mutating func operate(_ statement: Statement, text: String) throws(ScenarioError) -> StepReport {
    let line = statement.location?.line
    func refused(_ error: some Error) -> StepReport {
      StepReport(line: line, statement: text, result: "refused: \(error)", succeeded: false)
    }
    switch statement.kind {
    case .domU(let declaration):
      guard system!.domainNames[declaration.name] == nil else { throw fail("domain \(declaration.name) is already declared") }
      let id = DomainID(declaration.id)
      guard !system!.domainNames.values.contains(id) else { throw fail("domain id \(declaration.id) is already in use") }
      let placement: RAMPlacement
      switch declaration.memory {
      case .at(let address, let size):
        placement = .fixed(MemoryBank(start: MFN(address >> 12), pages: size >> 12), base: GFN(declaration.base >> 12))
      case .coloured(let colours, let pages):
        placement = .coloured(colours: colours, base: GFN(declaration.base >> 12), pages: pages)
      }
      // A domU that may be given a device is created with the IOMMU
      // (`XEN_DOMCTL_CDF_iommu`, which xl sets for passthrough) whenever
      // Xen has one; the scenario language lets any domU take a device.
      let iommuEnabled = system!.xen.domains[.dom0]!.iommuEnabled
      do { try system!.xen.createDomain(id, memory: placement, iommuEnabled: iommuEnabled) } catch { return refused(error) }
      system!.domainNames[declaration.name] = id
      layOutTables()
      return StepReport(line: line, statement: text, result: "created \(id) \(declaration.name)")

    case .attach(let device, let domain):
      let id = try domainID(domain)
      // `iommu_assign_dt_device()`: -EINVAL unless `is_iommu_enabled(d)`.
      guard system!.xen.domains[id]?.iommuEnabled == true else {
        return StepReport(line: line, statement: text, result: "refused: \(id) does not have the IOMMU enabled", succeeded: false)
      }
      do { try system!.platform.attach(device, to: id) } catch { return refused(error) }
      return StepReport(line: line, statement: text, result: "\(device) attached to \(id)'s context")

    case .detach(let device):
      do { try system!.platform.detach(device) } catch { return refused(error) }
      return StepReport(line: line, statement: text, result: "\(device) detached: its streams fault")

    case .grant(let grant):
      guard system!.grants[grant.handle] == nil else { throw fail("grant handle \(grant.handle) is already in use") }
      let granter = try domainID(grant.granter)
      let result: GrantMapResult
      do {
        result = try system!.xen.mapGrant(from: granter, gfn: GFN(grant.gfnAddress >> 12), into: .dom0, at: GFN(grant.hostAddress >> 12), writable: grant.writable)
      } catch {
        return refused(error)
      }
      // Linux records the grant for pfn_to_bfn (set_foreign_p2m_mapping, §3.3).
      do {
        try system!.grantTree.setForeignP2MMapping(hostAddress: grant.hostAddress, devBusAddress: result.devBusAddr)
      } catch {
        return refused(error)
      }
      system!.grants[grant.handle] = (result.handle, grant.hostAddress)
      let mfn = MFN(result.devBusAddr >> 12)
      let oneToOne = system!.xen.domains[.dom0]?.p2m.lookup(GFN(mfn.rawValue))
      let iommuNote =
        oneToOne.flatMap { $0.type == .iommuMapRW || $0.type == .iommuMapRO ? "; 1:1 \($0.type) entry at gfn \(hex(mfn.rawValue))" : nil }
        ?? "; no 1:1 iommu_map entry"
      return StepReport(line: line, statement: text, result: "mapped \(grant.granter)'s \(mfn) at dom0 \(hex(grant.hostAddress)), dev_bus_addr \(hex(result.devBusAddr))\(iommuNote)")

    case .ungrant(let handle):
      guard let grant = system!.grants[handle] else { throw fail("grant handle \(handle) is not mapped") }
      do { try system!.xen.unmapGrant(grant.handle, of: .dom0) } catch { return refused(error) }
      system!.grantTree.clearForeignP2MMapping(hostAddress: grant.hostAddress)
      system!.grants[handle] = nil
      return StepReport(line: line, statement: text, result: "unmapped grant \(handle)")

    case .foreign(let foreign):
      guard system!.foreignMaps[foreign.handle] == nil else { throw fail("foreign handle \(foreign.handle) is already in use") }
      let owner = try domainID(foreign.owner)
      let host = GFN(foreign.hostAddress >> 12)
      do { try system!.xen.addToPhysmapForeign(caller: .dom0, foreign: owner, gfn: GFN(foreign.gfnAddress >> 12), at: host) } catch {
        return refused(error)
      }
      system!.foreignMaps[foreign.handle] = host
      let entry = system!.xen.domains[.dom0]?.p2m.lookup(host)
      return StepReport(line: line, statement: text, result: "dom0 \(host) → \(entry.map(\.description) ?? "nothing")")

    case .unforeign(let handle):
      guard let host = system!.foreignMaps[handle] else { throw fail("foreign handle \(handle) is not mapped") }
      do { try system!.xen.removeFromPhysmap(.dom0, gfn: host) } catch { return refused(error) }
      system!.foreignMaps[handle] = nil
      return StepReport(line: line, statement: text, result: "removed dom0 \(host)")

    case .p2mMap(let domain, let gfnAddress, let mfnAddress, let type, let hardwareValid, let pages):
      let id = try domainID(domain)
      let (gfn, mfn) = (GFN(gfnAddress >> 12), MFN(mfnAddress >> 12))
      do {
        // Page by page in ascending order; a refused page leaves the ones
        // before it mapped, as `p2m_set_entry()` stops at the first chunk
        // that fails (`modifyDomain`).
        try system!.xen.updateP2M(of: id) { p2m throws(P2MError) in
          // A range with no refused page is one update (a 1 GiB map is
          // one run, not 262 144 steps): the refusals (beyond the root
          // tables, a dying domain) are all pages from some GFN on, so
          // the last page tells.
          if p2m.updateRefusal(gfn.advanced(by: pages - 1)) == nil {
            try p2m.map(gfn, count: pages, to: mfn, type: type, hardwareValid: hardwareValid)
            return
          }
          for page in 0..<pages {
            try p2m.map(gfn.advanced(by: page), to: mfn.advanced(by: page), type: type, hardwareValid: hardwareValid)
          }
        }
      } catch {
        return refused(error)
      }
      return StepReport(line: line, statement: text, result: "\(id) \(gfn) → \(mfn) \(type)" + (pages == 1 ? "" : " (\(pages) pages)"))

    case .p2mUnmap(let domain, let gfnAddress, let pages):
      let id = try domainID(domain)
      let gfn = GFN(gfnAddress >> 12)
      do {
        // In ascending order, stopping at the first refused page, as the
        // map does.
        try system!.xen.updateP2M(of: id) { p2m throws(P2MError) in
          if p2m.updateRefusal(gfn.advanced(by: pages - 1)) == nil {
            try p2m.unmap(gfn, count: pages)
            return
          }
          for page in 0..<pages { try p2m.unmap(gfn.advanced(by: page)) }
        }
      } catch {
        return refused(error)
      }
      let p2m = system!.xen.domains[id]?.p2m
      let kept = (0..<pages).lazy.compactMap { page in p2m?.lookup(gfn.advanced(by: page)).map { (gfn.advanced(by: page), $0) } }
      if let (first, entry) = kept.first {
        // Before XSA-393 a hardware-invalid entry survives its removal.
        let count = kept.count
        return StepReport(
          line: line, statement: text,
          result: "\(id) \(first) kept → \(entry.mfn) \(entry.type) (hw-invalid)\(count > 1 ? " and \(count - 1) more" : ""): Xen \(system!.xen.version.name) zeroes only valid entries on removal (before XSA-393)")
      }
      return StepReport(line: line, statement: text, result: "\(id) \(gfn) unmapped" + (pages == 1 ? "" : " (\(pages) pages)"))

    case .setWay(let domain):
      // The p2m's entries do not change: the valid bits Xen clears are set
      // again by `p2m_resolve_translation_fault()` on each page's next
      // access, so the spec's translations are those of before. Xen does
      // not invalidate a p2m the IOMMU shares (2b45ff6030: DMA would fault);
      // the guest's operation is then refused here. [derived: whether the
      // guest then gets an undefined-instruction exception or is crashed
      // varies by release and is not modelled.]
      let id = try domainID(domain)
      guard system!.xen.domains[id]?.iommuEnabled == false else {
        return StepReport(
          line: line, statement: text, result: "refused: \(id) shares its p2m with the IOMMU; set/way is not emulated", succeeded: false)
      }
      return StepReport(line: line, statement: text, result: "\(id)'s p2m invalidated at the root; each page faults once on its next access")

    case .dma(let dma):
      return try runDMA(dma, line: line, text: text)

    default:
      throw fail("expected platform statements before dom0; the system is already running")
    }
  }

  func domainID(_ name: String) throws(ScenarioError) -> DomainID {
    guard let id = system!.domainNames[name] else { throw fail("domain \(name) is not declared") }
    return id
  }

  mutating func runDMA(_ dma: DMAStatement, line: Int?, text: String) throws(ScenarioError) -> StepReport {
    guard devices.contains(where: { $0.name == dma.request.device }) else { throw fail("device \(dma.request.device) is not declared") }
    let xen = system!.xen
    let translate = try architecturalTranslator(xen, cache: &system!.tables)
    var dom0 = Dom0DMAState(
      p2m: xen.domains[.dom0]!.p2m, grantTree: system!.grantTree, pool: system!.pool,
      options: SwiotlbXenOptions(hypercallCacheFlush: hypercallCacheFlush), features: system!.features)
    let report: DMAReport
    do {
      report = try performDMA(
        dma.request, policy: policy,
        dom0: &dom0, platform: system!.platform, memory: &system!.memory,
        transact: system!.platform.transactor(translate: translate))
    } catch {
      var step = StepReport(line: line, statement: text, result: "refused: \(error)", succeeded: false, expected: dma.expected)
      step.expectationMet = dma.expected == nil ? nil : false
      return step
    }
    system!.pool = dom0.pool
    return StepReport(line: line, statement: text, result: describesSteps ? report.description : "", dma: report, expected: dma.expected)
  }

  /// Stage-2 translation as the SMMU does it: the architectural walk
  /// (``stageTwoWalk(memory:geometry:rootAddress:inputAddress:access:)``)
  /// over the context's p2m laid out as descriptor tables (the p2m *is* the
  /// SMMU's table on Arm, §1.6). Table frames come from the top of the
  /// physical address space, away from RAM; they live in their own
  /// descriptor store, so they cannot alias DMA data. The supply is the top
  /// 16,384 frames, or as many as the p2m's tables need when that is more
  /// (a direct-mapped 64 GiB dom0 has 32,768 last-level tables), so any p2m
  /// that fits the IPA space can be laid out.
  func architecturalTranslator(
    _ xen: XenState, cache: inout [DomainID: (p2m: ReferenceP2M, image: P2MTableImage)]
  ) throws(ScenarioError) -> StageTwoTranslator {
    let geometry: StageTwoGeometry
    do { geometry = try StageTwoGeometry(ipaBits: ipaBits) } catch { throw fail("\(error)") }
    let frameLimit = UInt64(1) << UInt64(ipaBits - 12)
    var tables: [DomainID: P2MTableImage] = [:]
    for (id, domain) in xen.domains {
      if let cached = cache[id], cached.p2m == domain.p2m {
        tables[id] = cached.image
        continue
      }
      do {
        let needed = max(16_384, try domain.p2m.tableFrameCount())
        let tableFrames = (frameLimit - min(needed, frameLimit))..<frameLimit
        tables[id] = try domain.p2m.tableImage(tableFrames: tableFrames.lazy.map(MFN.init))
      } catch {
        throw fail("cannot lay out \(id)'s p2m as tables: \(error)")
      }
      cache[id] = (domain.p2m, tables[id]!)
    }
    return { domain, ipa, access in
      guard let table = tables[domain] else { return .fault(StageTwoFault(kind: .translation, level: 0)) }
      switch stageTwoWalk(memory: table, geometry: geometry, rootAddress: table.root.address, inputAddress: ipa, access: access).result {
      case .translated(let address, _, _, _): return .translated(pa: address)
      case .fault(let fault): return .fault(fault)
      }
    }
  }

}
