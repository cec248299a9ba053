import Spec

extension ScenarioMachine {
  /// The system once dom0 exists: Xen, the SMMUs, Linux's grant tree and
  /// bounce pool, and machine memory, on the platform it was booted from.
  struct RunningSystem {
    let declaration: Declaration
    var xen: XenState
    var platform: SMMUPlatform
    var grantTree = GrantTree()
    var pool: SwiotlbPool
    var memory = MachineMemory()
    var domainNames: [String: DomainID] = ["dom0": .dom0]
    /// Live grant maps by scenario handle: Xen's handle, the dom0 address,
    /// and the granted frame as a GFN (where Xen's 1:1 entry for it would be).
    var grants: [String: (handle: GrantHandle, hostAddress: UInt64, oneToOne: GFN?)] = [:]
    var foreignMaps: [String: GFN] = [:]
    var features: XenFeatures
    /// Each domain's p2m laid out as descriptor tables, with the p2m it was
    /// laid out from: reused by later DMAs while that p2m is unchanged.
    var tables: [DomainID: (p2m: ReferenceP2M, image: P2MTableImage)] = [:]

    init(declaration: Declaration, xen: XenState, platform: SMMUPlatform, pool: SwiotlbPool, features: XenFeatures) {
      self.declaration = declaration
      self.xen = xen
      self.platform = platform
      self.pool = pool
      self.features = features
    }

    /// Runs a statement that needs the system: domains and operations. A
    /// platform statement or a second `dom0` is an error, as the system is
    /// already running.
    mutating func operate(_ statement: Statement, text: String, describesSteps: Bool) throws(ScenarioError) -> StepReport {
      let line = statement.location?.line
      // What the statement does, as data, filled in as it runs.
      var effects = StepEffects()
      func report(_ result: String, succeeded: Bool = true) -> StepReport {
        var step = StepReport(line: line, statement: text, result: result, succeeded: succeeded)
        step.effects = effects
        return step
      }
      func refused(_ error: some Error) -> StepReport { report("refused: \(error)", succeeded: false) }
      switch statement.kind {
      case .dom0:
        throw fail("dom0 is already declared")

      case .domU(let domU):
        guard domainNames[domU.name] == nil else { throw fail("domain \(domU.name) is already declared") }
        let id = DomainID(domU.id)
        guard !domainNames.values.contains(id) else { throw fail("domain id \(domU.id) is already in use") }
        let placement: RAMPlacement
        switch domU.memory {
        case .at(let address, let size):
          placement = .fixed(MemoryBank(start: MFN(address >> pageShift), pages: size >> pageShift), base: GFN(domU.base >> pageShift))
        case .coloured(let colours, let pages):
          placement = .coloured(colours: colours, base: GFN(domU.base >> pageShift), pages: pages)
        }
        // A domU that may be given a device is created with the IOMMU
        // (`XEN_DOMCTL_CDF_iommu`, which xl sets for passthrough) whenever
        // Xen has one; the scenario language lets any domU take a device.
        let iommuEnabled = try dom0().iommuEnabled
        do { try xen.createDomain(id, memory: placement, iommuEnabled: iommuEnabled) } catch { return refused(error) }
        domainNames[domU.name] = id
        layOutTables()
        let pool = domU.p2mPoolPages.map { "; its p2m pool of \($0) pages is the implementation's (the spec's p2m has no tables): `replay` checks it" } ?? ""
        effects.createdDomain = StepEffects.CreatedDomain(id: id, p2mPoolPages: domU.p2mPoolPages)
        return report("created \(id) \(domU.name)" + pool)

      case .attach(let device, let domain):
        let id = try domainID(domain)
        // `iommu_assign_dt_device()`: -EINVAL unless `is_iommu_enabled(d)`.
        effects.assignment = StepEffects.Assignment(device: device, domain: id)
        guard xen.domains[id]?.iommuEnabled == true else {
          return report("refused: \(id) does not have the IOMMU enabled", succeeded: false)
        }
        do { try platform.attach(device, to: id) } catch { return refused(error) }
        if platform.hasLostStreamMapEntries(device) {
          return report(
            "\(device) attached to \(id)'s context, but without stream map entries: this release freed them at its detach "
              + "and kept its IOMMU group, so arm_smmu_domain_add_master() writes s2crs[INVALID_SMENDX] (index -1, out of bounds) "
              + "and its streams match no SMR and fault (Xen 4.16; fc151829ba keeps the entries from 4.17)")
        }
        return report("\(device) attached to \(id)'s context")

      case .detach(let device):
        effects.assignment = StepEffects.Assignment(device: device, domain: nil)
        do { try platform.detach(device) } catch { return refused(error) }
        return report("\(device) detached: its streams fault")

      case .grant(let grant):
        guard grants[grant.handle] == nil else { throw fail("grant handle \(grant.handle) is already in use") }
        let granter = try domainID(grant.granter)
        // Written: the host GFN and, where Xen adds one, the 1:1 entry at
        // the granted frame (`gnttab_need_iommu_mapping()`, §2.1); what
        // they held is taken before the map.
        let frame = xen.domains[granter]?.p2m.lookup(GFN(grant.gfnAddress >> pageShift))?.mfn
        let host = GFN(grant.hostAddress >> pageShift)
        effects.mapAskedAt = host
        let dom0Before = xen.domains[.dom0]?.p2m
        effects.p2mWrites.append(StepEffects.P2MWrite(domain: .dom0, gfn: host, pages: 1, raw: false, before: dom0Before))
        if let frame { effects.p2mWrites.append(StepEffects.P2MWrite(domain: .dom0, gfn: GFN(frame.rawValue), pages: 1, raw: false, before: dom0Before)) }
        let result: GrantMapResult
        do {
          result = try xen.mapGrant(from: granter, gfn: GFN(grant.gfnAddress >> pageShift), into: .dom0, at: GFN(grant.hostAddress >> pageShift), writable: grant.writable)
        } catch {
          return refused(error)
        }
        // Linux records the grant for pfn_to_bfn (set_foreign_p2m_mapping, §3.3).
        do {
          try grantTree.setForeignP2MMapping(hostAddress: grant.hostAddress, devBusAddress: result.devBusAddr)
        } catch {
          return refused(error)
        }
        grants[grant.handle] = (result.handle, grant.hostAddress, frame.map { GFN($0.rawValue) })
        let mfn = MFN(result.devBusAddr >> pageShift)
        let oneToOne = xen.domains[.dom0]?.p2m.lookup(GFN(mfn.rawValue))
        effects.grantMapped = StepEffects.HandleMapped(handle: grant.handle, host: host, oneToOne: frame.map { GFN($0.rawValue) })
        let iommuNote =
          oneToOne.flatMap { $0.type == .iommuMapRW || $0.type == .iommuMapRO ? "; 1:1 \($0.type) entry at gfn \(hex(mfn.rawValue))" : nil }
          ?? "; no 1:1 iommu_map entry"
        return report("mapped \(grant.granter)'s \(mfn) at dom0 \(hex(grant.hostAddress)), dev_bus_addr \(hex(result.devBusAddr))\(iommuNote)")

      case .ungrant(let handle):
        guard let grant = grants[handle] else { throw fail("grant handle \(handle) is not mapped") }
        // Written: the host GFN and the 1:1 entry at the granted frame.
        let dom0Before = xen.domains[.dom0]?.p2m
        effects.p2mWrites.append(StepEffects.P2MWrite(domain: .dom0, gfn: GFN(grant.hostAddress >> pageShift), pages: 1, raw: false, before: dom0Before))
        if let frame = grant.oneToOne {
          effects.p2mWrites.append(StepEffects.P2MWrite(domain: .dom0, gfn: frame, pages: 1, raw: false, before: dom0Before))
        }
        do { try xen.unmapGrant(grant.handle, of: .dom0) } catch { return refused(error) }
        grantTree.clearForeignP2MMapping(hostAddress: grant.hostAddress)
        grants[handle] = nil
        effects.grantUnmapped = handle
        return report("unmapped grant \(handle)")

      case .foreign(let foreign):
        guard foreignMaps[foreign.handle] == nil else { throw fail("foreign handle \(foreign.handle) is already in use") }
        let owner = try domainID(foreign.owner)
        let host = GFN(foreign.hostAddress >> pageShift)
        effects.mapAskedAt = host
        effects.p2mWrites.append(StepEffects.P2MWrite(domain: .dom0, gfn: host, pages: 1, raw: false, before: xen.domains[.dom0]?.p2m))
        do { try xen.addToPhysmapForeign(caller: .dom0, foreign: owner, gfn: GFN(foreign.gfnAddress >> pageShift), at: host) } catch {
          return refused(error)
        }
        foreignMaps[foreign.handle] = host
        effects.foreignMapped = StepEffects.HandleMapped(handle: foreign.handle, host: host)
        let entry = xen.domains[.dom0]?.p2m.lookup(host)
        return report("dom0 \(host) → \(entry.map(\.description) ?? "nothing")")

      case .unforeign(let handle):
        guard let host = foreignMaps[handle] else { throw fail("foreign handle \(handle) is not mapped") }
        effects.p2mWrites.append(StepEffects.P2MWrite(domain: .dom0, gfn: host, pages: 1, raw: false, before: xen.domains[.dom0]?.p2m))
        do { try xen.removeFromPhysmap(.dom0, gfn: host) } catch { return refused(error) }
        foreignMaps[handle] = nil
        effects.foreignUnmapped = handle
        return report("removed dom0 \(host)")

      case .p2mMap(let domain, let gfnAddress, let mfnAddress, let type, let hardwareValid, let pages):
        let id = try domainID(domain)
        let (gfn, mfn) = (GFN(gfnAddress >> pageShift), MFN(mfnAddress >> pageShift))
        let entry = P2MEntry(mfn: mfn, type: type, hardwareValid: hardwareValid)
        effects.p2mWrites.append(StepEffects.P2MWrite(domain: id, gfn: gfn, pages: pages, raw: true, rawEntry: entry, before: xen.domains[id]?.p2m))
        do {
          // Page by page in ascending order; a refused page leaves the ones
          // before it mapped, as `p2m_set_entry()` stops at the first chunk
          // that fails (`modifyDomain`).
          try xen.updateP2M(of: id) { p2m throws(P2MError) in
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
          effects.refusedRawUpdate = StepEffects.RawUpdate(domain: id, gfn: gfn, pages: pages, entry: entry)
          return refused(error)
        }
        return report("\(id) \(gfn) → \(mfn) \(type)" + (pages == 1 ? "" : " (\(pages) pages)"))

      case .p2mUnmap(let domain, let gfnAddress, let pages):
        let id = try domainID(domain)
        let gfn = GFN(gfnAddress >> pageShift)
        // Before XSA-393 (4.17) a removal keeps a hardware-invalid entry
        // only where its chunk reaches that entry's level: a chunk of 2 MiB
        // or 1 GiB (`p2m_set_entry()` picks the order from gfn | nr, so only
        // a removal of 512 pages or more has one) replaces a table
        // descriptor, which is valid, with every leaf under it
        // (RELEASE-4.16.0 xen/arch/arm/p2m.c `__p2m_set_entry()`: "if (
        // lpae_is_valid(orig_pte) ) p2m_remove_pte(…)"), and keeps a
        // hardware-invalid block whole. The spec's page-level p2m cannot
        // tell a table of such leaves from such a block, so it does not
        // decide that case rather than decide it wrongly.
        if pages >= 512, !xen.version.zeroesRemovedHardwareInvalidEntries,
          let p2m = xen.domains[id]?.p2m,
          let kept = p2m.mappings.runs.first(where: { !$0.first.hardwareValid && $0.end > gfn.rawValue && $0.start < gfn.rawValue + pages })
        {
          throw fail(
            "outside the model: removing \(pages) pages over a hardware-invalid entry (\(GFN(max(kept.start, gfn.rawValue)))) on Xen \(xen.version.name): "
              + "before 4.17 the result depends on whether the tables hold it as a block or as pages, which the spec does not track; remove it page by page, or use Xen 4.17 or later")
        }
        effects.p2mWrites.append(StepEffects.P2MWrite(domain: id, gfn: gfn, pages: pages, raw: true, before: xen.domains[id]?.p2m))
        do {
          // In ascending order, stopping at the first refused page, as the
          // map does.
          try xen.updateP2M(of: id) { p2m throws(P2MError) in
            if p2m.updateRefusal(gfn.advanced(by: pages - 1)) == nil {
              try p2m.unmap(gfn, count: pages)
              return
            }
            for page in 0..<pages { try p2m.unmap(gfn.advanced(by: page)) }
          }
        } catch {
          effects.refusedRawUpdate = StepEffects.RawUpdate(domain: id, gfn: gfn, pages: pages, entry: nil)
          return refused(error)
        }
        let p2m = xen.domains[id]?.p2m
        let kept = (0..<pages).lazy.compactMap { page in p2m?.lookup(gfn.advanced(by: page)).map { (gfn.advanced(by: page), $0) } }
        if let (first, entry) = kept.first {
          // Before XSA-393 a hardware-invalid entry survives its removal.
          let count = kept.count
          return report(
            "\(id) \(first) kept → \(entry.mfn) \(entry.type) (hw-invalid)\(count > 1 ? " and \(count - 1) more" : ""): Xen \(xen.version.name) zeroes only valid entries on removal (before XSA-393)")
        }
        return report("\(id) \(gfn) unmapped" + (pages == 1 ? "" : " (\(pages) pages)"))

      case .removeFromPhysmap(let domain, let gfnAddress):
        let id = try domainID(domain)
        let gfn = GFN(gfnAddress >> pageShift)
        effects.p2mWrites.append(StepEffects.P2MWrite(domain: id, gfn: gfn, pages: 1, raw: false, before: xen.domains[id]?.p2m))
        do { try xen.removeFromPhysmap(id, gfn: gfn) } catch { return refused(error) }
        return report("removed \(id) \(gfn)")

      case .setWay(let domain):
        // The p2m's entries do not change: the valid bits Xen clears are set
        // again by `p2m_resolve_translation_fault()` on each page's next
        // access, so the spec's translations are those of before. Xen does
        // not invalidate a p2m the IOMMU shares (2b45ff6030: DMA would fault);
        // the guest's operation is then refused here. [derived: whether the
        // guest then gets an undefined-instruction exception or is crashed
        // varies by release and is not modelled.]
        let id = try domainID(domain)
        effects.setWay = id
        guard xen.domains[id]?.iommuEnabled == false else {
          return report("refused: \(id) shares its p2m with the IOMMU; set/way is not emulated", succeeded: false)
        }
        return report("\(id)'s p2m invalidated at the root; each page faults once on its next access")

      case .dma(let dma):
        return try runDMA(dma, line: line, text: text, describesSteps: describesSteps)

      case .xen, .ipaBits, .llcColours, .ram, .iommu, .hypercallCacheFlush, .linuxPolicy, .smmu, .device, .swiotlbPool:
        throw fail("expected platform statements before dom0; the system is already running")
      }
    }

    func domainID(_ name: String) throws(ScenarioError) -> DomainID {
      guard let id = domainNames[name] else { throw fail("domain \(name) is not declared") }
      return id
    }

    /// dom0, which boot creates and no statement removes.
    func dom0() throws(ScenarioError) -> DomainState {
      do { return try xen.domain(.dom0) } catch { throw fail("\(error)") }
    }

    /// What the next DMA starts from on dom0's side.
    func dom0DMAState() throws(ScenarioError) -> Dom0DMAState {
      Dom0DMAState(
        p2m: try dom0().p2m, grantTree: grantTree, pool: pool,
        options: SwiotlbXenOptions(hypercallCacheFlush: declaration.hypercallCacheFlush), features: features)
    }

    mutating func runDMA(_ dma: DMAStatement, line: Int?, text: String, describesSteps: Bool) throws(ScenarioError) -> StepReport {
      guard declaration.devices.contains(where: { $0.name == dma.request.device }) else { throw fail("device \(dma.request.device) is not declared") }
      let translate = try architecturalTranslator()
      var dom0 = try dom0DMAState()
      let report: DMAReport
      do {
        report = try performDMA(
          dma.request, policy: declaration.policy,
          dom0: &dom0, platform: platform, memory: &memory,
          transact: platform.transactor(translate: translate))
      } catch {
        var step = StepReport(line: line, statement: text, result: "refused: \(error)", succeeded: false, expected: dma.expected)
        step.expectationMet = dma.expected == nil ? nil : false
        return step
      }
      pool = dom0.pool
      return StepReport(line: line, statement: text, result: describesSteps ? report.description : "", dma: report, expected: dma.expected)
    }

    /// Lays out every domain's p2m as tables ahead of the first DMA
    /// (``architecturalTranslator()``), so that copies of a booted machine
    /// share them; only a cache: a p2m that cannot be laid out is reported
    /// by the DMA that needs it, as before.
    mutating func layOutTables() {
      _ = try? architecturalTranslator()
    }

    /// Stage-2 translation as the SMMU does it: the architectural walk
    /// (``stageTwoWalk(memory:geometry:rootAddress:inputAddress:access:)``)
    /// over the context's p2m laid out as descriptor tables (the p2m *is* the
    /// SMMU's table on Arm, §1.6), kept in ``tables`` while each p2m is
    /// unchanged. Table frames come from the top of the physical address
    /// space, away from RAM; they live in their own descriptor store, so
    /// they cannot alias DMA data. The supply is the top 16,384 frames, or
    /// as many as the p2m's tables need when that is more (a direct-mapped
    /// 64 GiB dom0 has 32,768 last-level tables), so any p2m that fits the
    /// IPA space can be laid out.
    mutating func architecturalTranslator() throws(ScenarioError) -> StageTwoTranslator {
      let geometry: StageTwoGeometry
      do { geometry = try StageTwoGeometry(ipaBits: declaration.ipaBits) } catch { throw fail("\(error)") }
      let frameLimit = UInt64(1) << UInt64(declaration.ipaBits - pageShift)
      var images: [DomainID: P2MTableImage] = [:]
      for (id, domain) in xen.domains {
        if let cached = tables[id], cached.p2m == domain.p2m {
          images[id] = cached.image
          continue
        }
        let image: P2MTableImage
        do {
          let needed = max(16_384, try domain.p2m.tableFrameCount())
          let tableFrames = (frameLimit - min(needed, frameLimit))..<frameLimit
          image = try domain.p2m.tableImage(tableFrames: tableFrames.lazy.map(MFN.init))
        } catch {
          throw fail("cannot lay out \(id)'s p2m as tables: \(error)")
        }
        images[id] = image
        tables[id] = (domain.p2m, image)
      }
      return { domain, ipa, access in
        guard let table = images[domain] else { return .fault(StageTwoFault(kind: .translation, level: 0)) }
        switch stageTwoWalk(memory: table, geometry: geometry, rootAddress: table.root.address, inputAddress: ipa, access: access).result {
        case .translated(let address, _, _, _): return .translated(pa: address)
        case .fault(let fault): return .fault(fault)
        }
      }
    }
  }
}
