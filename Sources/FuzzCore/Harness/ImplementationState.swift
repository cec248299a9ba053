import P2MImpl
import SMMUImpl
import Scenario
import Spec

/// The implementation side of a differential run: Xen's SMMUs
/// (`XenSMMUPlatform`) owning every domain's p2m tables, the p2m code per
/// domain (``P2MUnderTest``), and machine memory as the implementation's
/// DMAs leave it.
///
/// The oracles keep it in step with the spec: ``P2MDifferentialOracle``
/// creates the domains and applies the spec's p2m changes — through the
/// platform, so each update's `iommu_iotlb_flush()` reaches the IOTLBs as
/// it does in Xen — and ``SMMUDifferentialOracle`` boots the SMMUs and
/// forwards attaches and detaches.
package final class ImplementationState {
  /// The SMMUs, made when the first domain (dom0) is; nil before.
  package private(set) var platform: XenSMMUPlatform?
  var code: [DomainID: any P2MUnderTest] = [:]
  /// What the implementation's DMAs wrote, starting empty as the spec's
  /// memory does at boot.
  package internal(set) var memory = MachineMemory()
  /// The frame table's reference counts that foreign mappings hold, per
  /// frame: taken here as `xenmem_add_to_physmap_one()` takes them
  /// (`get_page_from_gfn()` for `XENMAPSPACE_gmfn_foreign`, before
  /// `guest_physmap_add_entry()`; RELEASE-4.21.0 xen/arch/arm/mm.c) for
  /// each page a foreign entry maps (``takesReferences(writing:pages:)``),
  /// and dropped by the p2m's own puts (``XenP2M/foreignReferencesPut``).
  /// Absent means zero.
  package private(set) var foreignReferences: [UInt64: Int] = [:]
  /// Domains whose p2m pool the scenario sized (`p2m-pool`): an update
  /// that runs it dry is judged (``poolDemand(_:count:to:of:)``), which
  /// needs the tables as they were before it.
  package internal(set) var sizedPools: Set<DomainID> = []
  /// A sized-pool domain's tables before the running update.
  var tablesBeforeUpdate: (domain: DomainID, tables: XenP2M)?

  /// Whether an update writing `pages` entries of `type` takes a
  /// reference per page: foreign entries only, and only up to 2 MiB —
  /// Xen's `p2m_put_page()` puts nothing at level 1 ("we don't handle
  /// level 1 super-page"), and no hypercall makes a 1 GiB foreign mapping.
  static func takesReferences(writing type: P2MType, pages: UInt64) -> Bool {
    type.isForeign && pages <= 512
  }
  let p2mFactory: P2MFactory

  /// Entries per SMMU IOTLB. Small, because the fuzzer copies the booted
  /// platform per input and an input touches a handful of pages; still a
  /// power of two above the fuzzer's page pools, so that evictions are rare
  /// and a stale entry stays long enough to be seen.
  static let iotlbCapacity = 256

  package init(p2m: P2MFactory = .xen) {
    p2mFactory = p2m
  }

  /// An independent copy (the platform deep-copied, the rest values).
  func copy() -> ImplementationState {
    let copy = ImplementationState(p2m: p2mFactory)
    copy.platform = platform?.copy()
    copy.code = code
    copy.memory = memory
    copy.foreignReferences = foreignReferences
    copy.sizedPools = sizedPools
    return copy
  }

  /// Whether `domain` has a p2m here.
  package func hasDomain(_ domain: DomainID) -> Bool { code[domain] != nil }

  /// `domain_create()`: the domain's tables from the factory, filled by
  /// `build` (its RAM) before anything can translate through them, then
  /// registered with the platform — made at the first domain from the
  /// SMMUs and devices the spec declared, as Xen probes them before dom0
  /// is built.
  func createDomain(
    _ domain: DomainID, ipaBits: Int, iommuEnabled: Bool, poolPages: Int, spec: ScenarioExecution,
    build: (inout any P2MUnderTest, inout XenP2M) throws(XenP2MError) -> Void
  ) throws(XenSMMUError) {
    var code = p2mFactory.makeCode()
    var tables: XenP2M
    do {
      tables = try p2mFactory.makeTables(domain, ipaBits, iommuEnabled, poolPages)
      // The release's own removal: before XSA-393 a hardware-invalid
      // entry survives it, in the spec and here alike.
      if let version = spec.xen?.version { tables.zeroesRemovedHardwareInvalidEntries = version.zeroesRemovedHardwareInvalidEntries }
      try build(&code, &tables)
    } catch {
      throw .p2m(error)
    }
    if platform == nil {
      let made = try XenSMMUPlatform(smmus: spec.declaredSMMUs, devices: spec.devices, iotlbCapacity: Self.iotlbCapacity)
      // The spec has no IOTLB: without the fix, every recycled S2VMID is
      // a divergence (smmu.coherence[v3,detach]) that masks other bugs.
      made.invalidatesReleasedS2VMIDs = true
      platform = made
    }
    try platform!.addDomain(domain, p2m: tables)
    self.code[domain] = code
  }

  package func lookup(_ gfn: GFN, of domain: DomainID) -> P2MEntry? {
    guard let code = code[domain], let tables = platform?.p2m(of: domain) else { return nil }
    return code.lookup(gfn, in: tables)
  }

  /// The walk; a translation fault for a domain without a p2m.
  package func walk(_ ipa: UInt64, access: Access, of domain: DomainID) -> WalkResult {
    guard let code = code[domain], let tables = platform?.p2m(of: domain) else { return .fault(StageTwoFault(kind: .translation, level: 0)) }
    return code.walk(ipa, access: access, in: tables)
  }

  /// Through the CPU's TLB; a translation fault for a domain without a p2m.
  package func translate(_ ipa: UInt64, access: Access, of domain: DomainID) -> WalkResult {
    let noP2M = WalkResult.fault(StageTwoFault(kind: .translation, level: 0))
    guard let index = code.index(forKey: domain), let platform else { return noP2M }
    return (try? platform.updateP2M(of: domain) { tables throws(XenP2MError) in
      self.code.values[index].translate(ipa, access: access, in: &tables)
    }) ?? noP2M
  }

  /// Set/Way emulation on `domain`'s tables: `p2m_invalidate_root()`,
  /// refused (`XenP2MError.setWayWithSharedIOMMU`) for a p2m the IOMMU
  /// shares. A domain without a p2m is left alone.
  package func invalidateRoot(of domain: DomainID) throws(XenP2MError) {
    guard code[domain] != nil, let platform else { return }
    do {
      try platform.updateP2M(of: domain) { tables throws(XenP2MError) in try tables.invalidateRoot() }
    } catch {
      if case .p2m(let error) = error { throw error }
    }
  }

  /// The guest's accesses to `gfns` of `domain` after set/way emulation:
  /// while the walk of a page ends in a translation fault,
  /// `p2m_resolve_translation_fault()` (one level per fault, so at most
  /// four). Returns the first page that does not come back; nil when all
  /// do, or for a domain without a p2m.
  package func touch(_ gfns: some Sequence<GFN>, of domain: DomainID) -> GFN? {
    guard let index = code.index(forKey: domain), let platform else { return nil }
    return (try? platform.updateP2M(of: domain) { tables throws(XenP2MError) -> GFN? in
      for gfn in gfns {
        var faults = 0
        while case .fault(let fault) = self.code.values[index].walk(gfn.address, access: .read, in: tables), fault.kind != .permission {
          faults += 1
          guard faults <= 4, tables.resolveTranslationFault(gfn) else { return gfn }
        }
      }
      return nil
    }) ?? nil
  }

  /// `p2m_set_entry()` on `domain`'s tables in place, its IOTLB flushes
  /// reaching the SMMUs. A domain without a p2m is left alone.
  ///
  /// - Returns: for a p2m the IOMMU shares, the first release the update
  ///   made before the IOTLB flush it owed
  ///   (`P2MEvent.releaseBeforeIOTLBFlush(in:)`, Xen `6718787797`); the
  ///   events are recorded for this update only.
  @discardableResult
  package func set(_ gfn: GFN, count: UInt64, to entry: P2MEntry?, of domain: DomainID) throws(XenP2MError) -> P2MEvent? {
    guard let index = code.index(forKey: domain), let platform else { return nil }
    do {
      return try platform.updateP2M(of: domain) { tables throws(XenP2MError) in
        // A copy only where a pool is sized: it costs a copy of the
        // tables at the update's first write.
        self.tablesBeforeUpdate = self.sizedPools.contains(domain) ? (domain, tables) : nil
        tables.removeAllEvents()
        tables.recordsEvents = tables.iommuEnabled
        defer { tables.recordsEvents = false }
        // The foreign map whose pages each take a reference: every one, as
        // Xen takes them whatever the GFN held before.
        let referencing = entry.flatMap { Self.takesReferences(writing: $0.type, pages: count) ? $0 : nil }
        if let referencing {
          for page in 0..<count { self.foreignReferences[referencing.mfn.rawValue &+ page, default: 0] += 1 }
        }
        defer {
          for put in tables.foreignReferencesPut {
            for page in 0..<UInt64(put.pages) { self.foreignReferences[put.mfn.rawValue &+ page, default: 0] -= 1 }
          }
          tables.foreignReferencesPut.removeAll(keepingCapacity: true)
        }
        do throws(XenP2MError) {
          try self.code.values[index].set(gfn, count: count, to: entry, in: &tables)
        } catch {
          // The hypercall's error path puts what it took for the pages
          // the failed update did not map.
          if let referencing {
            for page in 0..<count where self.code.values[index].lookup(gfn.advanced(by: page), in: tables) != referencing.advanced(by: page) {
              self.foreignReferences[referencing.mfn.rawValue &+ page, default: 0] -= 1
            }
          }
          throw error
        }
        return tables.iommuEnabled ? P2MEvent.releaseBeforeIOTLBFlush(in: tables.events) : nil
      }
    } catch {
      if case .p2m(let error) = error { throw error }
      return nil
    }
  }
}

extension ImplementationState {
  /// What the last ``set(_:count:to:of:)`` of a sized-pool domain asked of
  /// its pool: the pages it takes at its deepest (`needed`) and those free
  /// before it (`free`), measured by running it again on the tables as
  /// they were, in a pool ``poolDemandMargin`` pages larger (the same
  /// code, so the same pages in the same order up to where the real pool
  /// ran dry). nil when there is no such update, or when it fails even
  /// there (the error).
  package func poolDemand(_ gfn: GFN, count: UInt64, to entry: P2MEntry?, of domain: DomainID) -> Result<(needed: Int, free: Int), XenP2MError>? {
    guard let before = tablesBeforeUpdate, before.domain == domain, var code = code[domain] else { return nil }
    var tables = before.tables
    let free = tables.memory.freeCount
    do throws(XenP2MError) {
      try tables.enlargePool(by: Self.poolDemandMargin)
      tables.recordsEvents = false
      tables.resetPoolLowWaterMark()
      try code.set(gfn, count: count, to: entry, in: &tables)
    } catch {
      return .failure(error)
    }
    return .success((free + Self.poolDemandMargin - tables.memory.lowWaterMark, free))
  }

  /// Pages added to judge a run-dry pool: more than any one update of the
  /// fuzzer's needs (a 4K map in a new 512 GiB region of a 48-bit space
  /// takes three tables; a split of a 1 GiB block, two).
  static let poolDemandMargin = 64
}

extension P2MEntry {
  /// The frame a foreign entry holds a reference on; nil for any other
  /// entry.
  var foreignFrame: UInt64? { type.isForeign ? mfn.rawValue : nil }
}
