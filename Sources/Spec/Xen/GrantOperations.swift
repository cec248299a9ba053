// Xen's grant-table and foreign-map operations, written once over ``Word``
// and a ``XenMappingWorld``: ``XenState`` runs them on itself (and turns
// each refusal into its ``XenError``), the DMA matrix proofs run them on a
// symbolic world to build the dom0 p2m a DMA goes through. Every refusal
// is a condition, in the order Xen meets them; nothing changes on a
// refusal unless the outcome says so.

/// `mapkind(lgt, rd, mfn)` (common/grant_table.c) over a maptrack: whether
/// the local domain has maps of `mfn` granted by `granter`, and whether
/// any is writable.
public func grantMapKind<W: Word>(_ maptrack: [GrantMappingWord<W>], granter: DomainID, mfn: W) -> (any: W.Condition, writable: W.Condition) {
  var any = mfn.condition(false)
  var writable = mfn.condition(false)
  for mapping in maptrack where mapping.granter == granter {
    let same = mapping.live && mapping.mfn == mfn
    any = any || same
    writable = writable || (same && mapping.writable)
  }
  return (any, writable)
}

/// `p2m_remove_mapping()`'s MFN check (`5a4a2cef08`, Xen 4.17): an
/// `any_ram` entry of another frame is not removed (−EILSEQ).
public func removalMismatch<W: Word>(_ entry: P2MSlot<W>, expecting mfn: W) -> W.Condition {
  entry.typeIs(\.isAnyRAM) && entry.mfn != mfn
}

/// `guest_physmap_remove_page(d, gfn, mfn)` → `p2m_remove_mapping()`, when
/// `condition` holds: refused when the p2m refuses the update or, from
/// 4.17 (``XenVersion/checksMFNOnRemoval``), the entry is another frame's
/// RAM; before 4.17 whatever is mapped at `gfn` goes.
public func physmapRemoveOperation<World: XenMappingWorld>(
  _ world: inout World, _ domain: DomainID, at gfn: World.Address, expecting mfn: World.Address, when condition: World.Address.Condition
) -> (refused: World.Address.Condition, mismatch: World.Address.Condition) {
  let refused = world.p2mRefusesUpdate(of: domain, at: gfn)
  let mismatch = world.version.checksMFNOnRemoval ? !refused && removalMismatch(world.p2mEntry(of: domain, at: gfn), expecting: mfn) : gfn.condition(false)
  world.writeP2M(of: domain, at: gfn, .invalid(gfn), when: condition && !refused && !mismatch)
  return (condition && refused, condition && mismatch)
}

/// Arm's `gnttab_need_iommu_mapping(ld)` in the world's release (§2.1, §8).
public func needsGrantIOMMUMapping<World: XenMappingWorld>(_ world: World, _ domain: DomainID) -> Bool {
  guard world.domainExists(domain) else { return false }
  return world.version.grantIOMMUMapping.needsIOMMUMapping(
    directMapped: world.isDirectMapped(domain), iommuEnabled: world.isIOMMUEnabled(domain))
}

/// How a `GNTTABOP_map_grant_ref` ended.
public struct GrantMapOutcome<W: Word> {
  /// GNTST_bad_page: nothing mapped at the granter's GFN, not non-foreign
  /// RAM there, or a frame the granter does not own (nothing changed).
  public var noEntry: W.Condition
  public var notRAM: W.Condition
  public var notOwned: W.Condition
  /// The host entry's p2m update was refused (nothing changed).
  public var hostRefused: W.Condition
  /// `BUG_ON(!is_domain_direct_mapped(d))` in `arm_iommu_map_page` (the
  /// host entry stays).
  public var iommuBug: W.Condition
  /// The 1:1 entry's p2m update was refused; the host entry was removed
  /// again (`undo_out`).
  public var iommuRefused: W.Condition
  /// The granted frame (`act->mfn`), meaningful unless a bad page.
  public var mfn: W
  public var succeeded: W.Condition
}

/// `GNTTABOP_map_grant_ref` with `GNTMAP_host_map` (common/grant_table.c
/// `map_grant_ref()`, arch/arm/mm.c `create_grant_host_mapping()`; §2.1).
/// See ``XenState/mapGrant(from:gfn:into:at:writable:)`` for the steps.
/// A successful map is added to the local maptrack with `handle`. The
/// operation happens only when `issued` holds (a proof's history chooses
/// its operations symbolically); otherwise nothing changes and no outcome
/// condition holds.
public func grantMapOperation<World: XenMappingWorld>(
  _ world: inout World, granter: DomainID, gfn: World.Address, local: DomainID, hostGFN: World.Address,
  writable: World.Address.Condition, handle: Int, issued: World.Address.Condition? = nil
) -> GrantMapOutcome<World.Address> {
  typealias W = World.Address
  let no = gfn.condition(false)
  let issued = issued ?? gfn.condition(true)
  // 1. get_paged_frame(): any_ram but not foreign, owned by the granter.
  let entry = world.p2mEntry(of: granter, at: gfn)
  let noEntry = issued && !entry.isValid
  let notRAM = issued && entry.isValid && !entry.typeIs { $0.isAnyRAM && !$0.isForeign }
  let notOwned = issued && entry.isValid && !notRAM && !world.owns(granter, entry.mfn)
  let grantable = issued && !noEntry && !notRAM && !notOwned
  let mfn = entry.mfn
  // 2. The host mapping, replacing whatever was at hostGFN.
  let hostRefused = grantable && world.p2mRefusesUpdate(of: local, at: hostGFN)
  let hostMapped = grantable && !hostRefused
  let hostType = W.select(writable, gfn.constant(UInt64(P2MType.grantMapRW.rawValue)), gfn.constant(UInt64(P2MType.grantMapRO.rawValue)))
  world.writeP2M(of: local, at: hostGFN, P2MSlot(type: hostType, mfn: mfn), when: hostMapped)
  // 3. The 1:1 IOMMU entry, chosen by mapkind() over the existing maps
  // (from 4.16 by per-MFN counts, which choose the same: mapGrant's step 3).
  var iommuBug = no
  var iommuRefused = no
  if local != granter && needsGrantIOMMUMapping(world, local) {
    let kind = grantMapKind(world.maptrack(of: local), granter: granter, mfn: mfn)
    let makeWritable = writable && !(SeededBug.grantRWAfterRONotUpgraded.isActive ? kind.any : kind.writable)
    let makeReadOnly = !writable && !kind.any
    let make = hostMapped && (makeWritable || makeReadOnly)
    if world.isDirectMapped(local) {
      let dfn = SeededBug.oneToOneAtGFN.isActive ? gfn : mfn
      iommuRefused = make && world.p2mRefusesUpdate(of: local, at: dfn)
      let type = W.select(makeWritable, gfn.constant(UInt64(P2MType.iommuMapRW.rawValue)), gfn.constant(UInt64(P2MType.iommuMapRO.rawValue)))
      world.writeP2M(of: local, at: dfn, P2MSlot(type: type, mfn: mfn), when: make && !iommuRefused)
      // undo_out: replace_grant_host_mapping(), its result ignored.
      _ = physmapRemoveOperation(&world, local, at: hostGFN, expecting: mfn, when: iommuRefused)
    } else {
      iommuBug = make
    }
  }
  // 4. The maptrack entry.
  let succeeded = hostMapped && !iommuBug && !iommuRefused
  world.addMapping(
    to: local,
    GrantMappingWord(handle: handle, live: succeeded, granter: granter, grantedGFN: gfn, mfn: mfn, hostGFN: hostGFN, writable: writable),
    when: succeeded)
  return GrantMapOutcome(
    noEntry: noEntry, notRAM: notRAM, notOwned: notOwned, hostRefused: hostRefused, iommuBug: iommuBug,
    iommuRefused: iommuRefused, mfn: mfn, succeeded: succeeded)
}

/// How a `GNTTABOP_unmap_grant_ref` ended.
public struct GrantUnmapOutcome<W: Word> {
  /// The handle names no live map (GNTST_bad_handle).
  public var badHandle: W.Condition
  /// `guest_physmap_remove_page()` refused (nothing changed).
  public var hostRefused: W.Condition
  public var hostMismatch: W.Condition
  /// The 1:1 entry could not be updated (the unmap stands): the hook
  /// refused (not direct-mapped) or the p2m did.
  public var iommuRefused: W.Condition
  /// `BUG_ON(!is_domain_direct_mapped(d))` on the read-only downgrade.
  public var iommuBug: W.Condition
  public var succeeded: W.Condition
}

/// `GNTTABOP_unmap_grant_ref` of a host mapping at the address it was
/// mapped at (common/grant_table.c `unmap_common()`, arch/arm/mm.c
/// `replace_grant_host_mapping()`; §2.1 step 4). See
/// ``XenState/unmapGrant(_:of:)`` for the steps.
public func grantUnmapOperation<World: XenMappingWorld>(
  _ world: inout World, local: DomainID, handle: Int, context: World.Address, issued: World.Address.Condition? = nil
) -> GrantUnmapOutcome<World.Address> {
  let no = context.condition(false)
  let issued = issued ?? context.condition(true)
  guard let mapping = world.maptrack(of: local).first(where: { $0.handle == handle }) else {
    return GrantUnmapOutcome(
      badHandle: context.condition(true), hostRefused: no, hostMismatch: no, iommuRefused: no, iommuBug: no, succeeded: no)
  }
  let needIOMMU = needsGrantIOMMUMapping(world, local)
  let live = issued && mapping.live
  let host = physmapRemoveOperation(&world, local, at: mapping.hostGFN, expecting: mapping.mfn, when: live)
  let removed = live && !host.refused && !host.mismatch
  let countsRemovedMap = SeededBug.unmapCountsRemovedMap.isActive
  let maptrackBefore = countsRemovedMap ? world.maptrack(of: local) : []
  world.releaseMapping(of: local, handle: handle, when: removed)
  var iommuRefused = no
  var iommuBug = no
  if needIOMMU && local != mapping.granter {
    let remaining = countsRemovedMap ? maptrackBefore : world.maptrack(of: local)
    let kind = grantMapKind(remaining, granter: mapping.granter, mfn: mapping.mfn)
    let unmapOneToOne = removed && !kind.any
    // From 4.16 only the last writable map's removal re-maps read-only
    // (``XenVersion/remapsReadOnlyOnlyAfterLastWritable``).
    let removedWritable = world.version.remapsReadOnlyOnlyAfterLastWritable ? mapping.writable : context.condition(true)
    let downgrade = removed && kind.any && !kind.writable && removedWritable
    if world.isDirectMapped(local) {
      // `arm_iommu_unmap_page()`: the frame itself up to 4.20, INVALID_MFN
      // from 4.21 (``XenVersion/unmapsOneToOneWithInvalidMFN``).
      let named = world.version.unmapsOneToOneWithInvalidMFN ? mapping.mfn.constant(.max) : mapping.mfn
      let removal = physmapRemoveOperation(&world, local, at: mapping.mfn, expecting: named, when: unmapOneToOne)
      let downgradeRefused = downgrade && world.p2mRefusesUpdate(of: local, at: mapping.mfn)
      world.writeP2M(of: local, at: mapping.mfn, P2MSlot(.iommuMapRO, mfn: mapping.mfn), when: downgrade && !downgradeRefused)
      iommuRefused = removal.refused || removal.mismatch || downgradeRefused
    } else {
      // arm_iommu_unmap_page() returns −EINVAL; arm_iommu_map_page() BUGs.
      iommuRefused = unmapOneToOne
      iommuBug = downgrade
    }
  }
  return GrantUnmapOutcome(
    badHandle: issued && !mapping.live, hostRefused: host.refused, hostMismatch: host.mismatch, iommuRefused: iommuRefused, iommuBug: iommuBug,
    succeeded: removed && !iommuBug)
}

/// How a `XENMEM_add_to_physmap` of `XENMAPSPACE_gmfn_foreign` ended,
/// after the concrete checks (the domains exist, differ, and the caller
/// is dom0).
public struct ForeignMapOutcome<W: Word> {
  public var noEntry: W.Condition
  public var notRAM: W.Condition
  public var notOwned: W.Condition
  public var refused: W.Condition
  public var mfn: W
  public var succeeded: W.Condition
}

/// `xenmem_add_to_physmap_one()` with `XENMAPSPACE_gmfn_foreign` (arch/arm/mm.c;
/// §2.4), from step 3: see ``XenState/addToPhysmapForeign(caller:foreign:gfn:at:)``.
public func foreignMapOperation<World: XenMappingWorld>(
  _ world: inout World, caller: DomainID, foreign: DomainID, gfn: World.Address, at target: World.Address,
  issued: World.Address.Condition? = nil
) -> ForeignMapOutcome<World.Address> {
  let issued = issued ?? gfn.condition(true)
  let entry = world.p2mEntry(of: foreign, at: gfn)
  let noEntry = issued && !entry.isValid
  let notRAM = issued && entry.isValid && !entry.typeIs(\.isRAM)
  let notOwned = issued && entry.isValid && !notRAM && !world.owns(foreign, entry.mfn)
  let mappable = issued && !noEntry && !notRAM && !notOwned
  let refused = mappable && world.p2mRefusesUpdate(of: caller, at: target)
  let succeeded = mappable && !refused
  let type = World.Address.select(
    entry.type == UInt64(P2MType.ramRW.rawValue), gfn.constant(UInt64(P2MType.mapForeignRW.rawValue)),
    gfn.constant(UInt64(P2MType.mapForeignRO.rawValue)))
  world.writeP2M(of: caller, at: target, P2MSlot(type: type, mfn: entry.mfn), when: succeeded)
  return ForeignMapOutcome(noEntry: noEntry, notRAM: notRAM, notOwned: notOwned, refused: refused, mfn: entry.mfn, succeeded: succeeded)
}

/// `XENMEM_remove_from_physmap` (common/memory.c): `get_page_from_gfn(d,
/// gfn)` must yield a page — the domain's own RAM or a foreign mapping;
/// grant and iommu entries and holes give −ENOENT (`nothing`) — and then
/// `guest_physmap_remove_page(d, gfn, mfn)` clears the entry (`refused`
/// when the p2m refuses). See ``XenState/removeFromPhysmap(_:gfn:)``.
public func removeFromPhysmapOperation<World: XenMappingWorld>(
  _ world: inout World, _ domain: DomainID, gfn: World.Address, issued: World.Address.Condition? = nil
) -> (nothing: World.Address.Condition, refused: World.Address.Condition) {
  let issued = issued ?? gfn.condition(true)
  let entry = world.p2mEntry(of: domain, at: gfn)
  let page = entry.typeIs(\.isAnyRAM) && (entry.typeIs(\.isForeign) || world.owns(domain, entry.mfn))
  let removal = physmapRemoveOperation(&world, domain, at: gfn, expecting: entry.mfn, when: issued && page)
  return (issued && !page, removal.refused || removal.mismatch)
}
