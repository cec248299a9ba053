/// A maptrack handle: what `GNTTABOP_map_grant_ref` returns and
/// `GNTTABOP_unmap_grant_ref` names. Handles are per local domain; the model
/// numbers them from 0 and never reuses one (Xen's maptrack free lists
/// reuse them, which matters to no property here).
public struct GrantHandle: Hashable, Comparable, Sendable, CustomStringConvertible {
  public let rawValue: Int
  public init(_ rawValue: Int) { self.rawValue = rawValue }
  public static func < (lhs: GrantHandle, rhs: GrantHandle) -> Bool { lhs.rawValue < rhs.rawValue }
  public var description: String { "handle \(rawValue)" }
}

/// One active grant mapping: a maptrack entry (`struct grant_mapping`:
/// granting domain, flags) with the active entry's frame (`act->mfn`) and
/// the address it was mapped at.
///
/// The model folds "rd grants gfn to ld" and "ld maps that grant" into one
/// operation: the map's `writable` is the grant's access, and grant-entry
/// checks (GTF_readonly, pin counts) are not modelled.
public struct GrantMapping: Hashable, Sendable, CustomStringConvertible {
  /// The granting domain (`map->domid`, `rd`).
  public let granter: DomainID
  /// The frame in the granter's address space (`act->gfn`).
  public let grantedGFN: GFN
  /// The machine frame (`act->mfn`).
  public let mfn: MFN
  /// Where the local domain mapped it (`host_addr >> PAGE_SHIFT`).
  public let hostGFN: GFN
  /// Not `GNTMAP_readonly`.
  public let writable: Bool

  /// `op->dev_bus_addr = mfn_to_maddr(mfn)`: always the machine address,
  /// direct-mapped or not (§2.1 step 3).
  public var devBusAddr: UInt64 { mfn.address }

  public var description: String {
    "\(granter) \(grantedGFN) (\(mfn)) at \(hostGFN) \(writable ? "rw" : "ro")"
  }
}

/// What a successful `GNTTABOP_map_grant_ref` returns.
public struct GrantMapResult: Hashable, Sendable {
  public let handle: GrantHandle
  /// The machine address of the granted frame (§2.1 step 3).
  public let devBusAddr: UInt64
}

extension XenState {
  /// Arm's `gnttab_need_iommu_mapping(ld)` for this release (asm/grant_table.h;
  /// §2.1, §8): never before `04085ec1ac`; after it,
  /// `is_domain_direct_mapped(ld) && is_iommu_enabled(ld)`. A coloured dom0
  /// is not direct-mapped, so it never gets 1:1 grant entries (§2.2).
  public func needsGrantIOMMUMapping(_ domain: DomainID) -> Bool {
    Spec.needsGrantIOMMUMapping(self, domain)
  }

  /// `GNTTABOP_map_grant_ref` with `GNTMAP_host_map` (common/grant_table.c
  /// `map_grant_ref()`, arch/arm/mm.c `create_grant_host_mapping()`; §2.1):
  ///
  /// 1. `get_paged_frame()`: the granter's p2m entry at `gfn` must be
  ///    `any_ram` but not foreign, and its frame must belong to the granter
  ///    (`get_page(page, rd)`), else GNTST_bad_page. A writable map of a
  ///    `ram_ro` page is not refused: Arm's `get_page_type()` always succeeds
  ///    [derived].
  /// 2. The host mapping: `guest_physmap_add_entry(ld, host_addr >> 12, mfn,
  ///    0, p2m_grant_map_rw|ro)`, replacing whatever was at `hostGFN`.
  /// 3. If `ld != rd` (a domain's own pages are already in its IOMMU view,
  ///    so a self-map must neither add nor, on unmap, remove one:
  ///    `e8185c5f01` "gnttab: bypass IOMMU (un)mapping when a domain is
  ///    (un)mapping its own grant", first in RELEASE-4.15.0, map and unmap
  ///    alike; not keyed on the release, because on Arm the 1:1 entries
  ///    themselves start in 4.15 with `04085ec1ac`, so no modelled release
  ///    adds them without the bypass) and
  ///    `gnttab_need_iommu_mapping(ld)`: `mapkind()`
  ///    over the *existing* maps of this frame from this granter (the new one
  ///    is not in the maptrack yet) chooses: a writable map and none writable
  ///    → `iommu_legacy_map(ld, dfn = mfn, mfn, rw)`; else no map at all →
  ///    the same, read-only; else nothing. If that fails, Xen removes the
  ///    host entry again (`undo_out`) and the call fails. From 4.16
  ///    (`9781b51efd`, XSA-380) the choice is made from per-MFN counts in
  ///    `lgt->maptrack_tree` instead: read-write when the write count
  ///    becomes 1, read-only when the read count becomes 1 with no writer
  ///    (RELEASE-4.16.0 `map_grant_ref()`). Those are exactly mapkind()'s
  ///    two cases (a frame is granted by its one owner), so the map is not
  ///    keyed on the release; the unmap is
  ///    (``XenVersion/remapsReadOnlyOnlyAfterLastWritable``).
  /// 4. The maptrack entry is written; `dev_bus_addr` = the MFN's address.
  ///
  /// - Throws: ``XenError/grantBadPage(granter:_:reason:)``,
  ///   ``XenError/noSuchDomain(_:)``, ``XenError/p2m(_:_:)`` (nothing
  ///   changed); ``XenError/grantIOMMUUpdateFailed(_:reason:)`` (the host
  ///   entry was made and removed again: what it replaced is gone);
  ///   ``XenError/xenBug(_:)``.
  public mutating func mapGrant(
    from granter: DomainID, gfn: GFN, into local: DomainID = .dom0, at hostGFN: GFN, writable: Bool
  ) throws(XenError) -> GrantMapResult {
    let rd = try domain(granter)
    let handle = try domain(local).nextHandle
    let outcome = grantMapOperation(
      &self, granter: granter, gfn: gfn.rawValue, local: local, hostGFN: hostGFN.rawValue, writable: writable, handle: handle)
    let mfn = MFN(outcome.mfn)
    if outcome.noEntry { throw .grantBadPage(granter: granter, gfn, reason: "nothing is mapped there") }
    if outcome.notRAM {
      throw .grantBadPage(granter: granter, gfn, reason: "its p2m type is \(rd.p2m.lookup(gfn)?.type ?? .invalid), not RAM")
    }
    if outcome.notOwned {
      let owner = host.owner(of: mfn)
      throw .grantBadPage(granter: granter, gfn, reason: "\(mfn) belongs to \(owner.map { "\($0)" } ?? "no one (not RAM)")")
    }
    if outcome.hostRefused { throw .p2m(local, domains[local]?.p2m.updateRefusal(hostGFN) ?? .domainDying) }
    if outcome.iommuBug { throw .xenBug("BUG_ON(!is_domain_direct_mapped(d)) in arm_iommu_map_page for \(local)") }
    if outcome.iommuRefused {
      let refusal = domains[local]?.p2m.updateRefusal(GFN(mfn.rawValue)) ?? .domainDying
      throw .grantIOMMUUpdateFailed(mfn, reason: XenError.p2m(local, refusal).description)
    }
    return GrantMapResult(handle: GrantHandle(handle), devBusAddr: mfn.address)
  }

  /// `GNTTABOP_unmap_grant_ref` of a host mapping, at the address it was
  /// mapped at, as Linux passes it (common/grant_table.c `unmap_common()`,
  /// arch/arm/mm.c `replace_grant_host_mapping()`; §2.1 step 4):
  ///
  /// 1. An unknown handle is GNTST_bad_handle.
  /// 2. `guest_physmap_remove_page(ld, hostGFN, mfn)`: refused with −EILSEQ
  ///    if the entry there is now `any_ram` of another frame (Xen 4.17,
  ///    `5a4a2cef08`; earlier releases remove whatever is there,
  ///    ``XenVersion/checksMFNOnRemoval``); the maptrack entry then stays.
  /// 3. The maptrack entry is released.
  /// 4. If `ld != rd` and `gnttab_need_iommu_mapping(ld)`: `mapkind()` over
  ///    the remaining maps: none → `iommu_legacy_unmap(ld, dfn = mfn)`; only
  ///    read-only → `iommu_legacy_map(…, readable)`, downgrading the 1:1
  ///    entry to `iommu_map_ro`; a writable one → nothing.
  ///
  /// - Throws: ``XenError/grantBadHandle(local:_:)``, ``XenError/p2m(_:_:)``
  ///   (nothing changed); ``XenError/grantIOMMUUpdateFailed(_:reason:)``
  ///   (the unmap stands, the 1:1 entry was not updated);
  ///   ``XenError/xenBug(_:)``.
  public mutating func unmapGrant(_ handle: GrantHandle, of local: DomainID = .dom0) throws(XenError) {
    guard let mapping = try domain(local).maptrack[handle] else { throw .grantBadHandle(local: local, handle) }
    let outcome = grantUnmapOperation(&self, local: local, handle: handle.rawValue, context: mapping.mfn.rawValue)
    let p2m = domains[local]!.p2m
    if outcome.hostRefused { throw .p2m(local, p2m.updateRefusal(mapping.hostGFN) ?? .domainDying) }
    if outcome.hostMismatch {
      let found = p2m.lookup(mapping.hostGFN)?.mfn ?? mapping.mfn
      throw .p2m(local, .mfnMismatch(mapping.hostGFN, expected: mapping.mfn, found: found))
    }
    if outcome.iommuBug { throw .xenBug("BUG_ON(!is_domain_direct_mapped(d)) in arm_iommu_map_page for \(local)") }
    if outcome.iommuRefused {
      let oneToOne = GFN(mapping.mfn.rawValue)
      let reason: XenError
      if !isDirectMapped(local) {
        reason = .iommuHookRefused(local, "arm_iommu_unmap_page")
      } else if let refusal = p2m.updateRefusal(oneToOne) {
        reason = .p2m(local, refusal)
      } else {
        let named = version.unmapsOneToOneWithInvalidMFN ? MFN(.max) : mapping.mfn
        reason = .p2m(local, .mfnMismatch(oneToOne, expected: named, found: p2m.lookup(oneToOne)?.mfn ?? mapping.mfn))
      }
      throw .grantIOMMUUpdateFailed(mapping.mfn, reason: reason.description)
    }
  }


}
