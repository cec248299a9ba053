extension XenState {
  /// `XENMEM_add_to_physmap` with `XENMAPSPACE_gmfn_foreign` (arch/arm/mm.c
  /// `xenmem_add_to_physmap_one()`; §2.4): the caller maps the foreign
  /// domain's page `gfn` at its own `at`.
  ///
  /// 1. The foreign domain must exist (−ESRCH) and not be the caller
  ///    (−EINVAL).
  /// 2. `xsm_map_gmfn_foreign(XSM_TARGET, d, od)`: with the default (dummy)
  ///    XSM policy only the control domain, dom0 here, may map another
  ///    domain's page [derived: `xsm_default_action()` for XSM_TARGET].
  /// 3. `get_page_from_gfn(od, gfn)` must find a page of `od`, and its type
  ///    must be RAM: `ram_rw` → `map_foreign_rw`, `ram_ro` →
  ///    `map_foreign_ro`; anything else is −EINVAL.
  /// 4. `guest_physmap_add_entry(d, at, mfn, 0, t)`: a 4K entry replacing
  ///    whatever was at `at`.
  ///
  /// No IOMMU side effect and no `dev_bus_addr`: a device reaches the page
  /// only by its GFN in the caller's p2m (§2.4). Page references are not
  /// modelled.
  ///
  /// - Throws: ``XenError``; nothing changes on a throw.
  public mutating func addToPhysmapForeign(
    caller: DomainID = .dom0, foreign: DomainID, gfn: GFN, at target: GFN
  ) throws(XenError) {
    let od = try domain(foreign)
    guard foreign != caller else {
      throw .foreignMapRefused("\(caller) cannot map its own page as foreign")
    }
    guard caller == .dom0 else {
      throw .permissionDenied("\(caller) may not map pages of \(foreign) (xsm_map_gmfn_foreign)")
    }
    let outcome = foreignMapOperation(&self, caller: caller, foreign: foreign, gfn: gfn.rawValue, at: target.rawValue)
    if outcome.noEntry { throw .foreignMapRefused("\(foreign) has nothing mapped at \(gfn)") }
    if outcome.notRAM { throw .foreignMapRefused("\(foreign)'s \(gfn) is \(od.p2m.lookup(gfn)?.type ?? .invalid), not RAM") }
    if outcome.notOwned { throw .foreignMapRefused("\(MFN(outcome.mfn)) at \(foreign)'s \(gfn) is not \(foreign)'s page") }
    guard let local = domains[caller] else { throw .noSuchDomain(caller) }
    if outcome.refused { throw .p2m(caller, local.p2m.updateRefusal(target) ?? .domainDying) }
  }

  /// `XENMEM_remove_from_physmap` (common/memory.c): `get_page_from_gfn(d,
  /// gfn)` must yield a page — the domain's own RAM or a foreign mapping;
  /// grant and iommu entries and holes give −ENOENT — and then
  /// `guest_physmap_remove_page(d, gfn, mfn)` clears the entry. An own page
  /// stays the domain's: this unmaps, it does not free.
  ///
  /// - Throws: ``XenError/nothingToRemove(_:_:)``, ``XenError/p2m(_:_:)``;
  ///   nothing changes on a throw.
  public mutating func removeFromPhysmap(_ id: DomainID, gfn: GFN) throws(XenError) {
    _ = try domain(id)
    let outcome = removeFromPhysmapOperation(&self, id, gfn: gfn.rawValue)
    if outcome.nothing { throw .nothingToRemove(id, gfn) }
    if outcome.refused { throw .p2m(id, domains[id]?.p2m.updateRefusal(gfn) ?? .domainDying) }
  }
}
