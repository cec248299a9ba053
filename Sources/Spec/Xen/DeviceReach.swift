/// Whether a domain's right covers what its devices can do through one of
/// its p2m entries (on Arm the SMMU walks the domain's own p2m, §1.6, so
/// an attached device reaches exactly the p2m's entries, with their
/// permissions). Written once over ``Word``: the fuzzer's reach oracle
/// runs it on every entry of the spec's state, and `dma.reach` proves it
/// for every entry after any history of Xen's grant and foreign
/// operations.
///
/// A writable entry needs a right to write, a read-only one a right to
/// read:
/// - RAM (`ram_rw`, `ram_ro`): the frame is the domain's own RAM
///   (`ownsRAM`);
/// - a grant's host entry (`grant_map_rw/ro`): a live grant map of the
///   frame at this GFN (writable for a writable entry) in the domain's
///   maptrack;
/// - the 1:1 entry `gnttab_need_iommu_mapping()` adds (`iommu_map_rw/ro`):
///   a live grant map of the frame, at any GFN;
/// - a foreign entry (`map_foreign_rw/ro`): the frame is another domain's
///   (`ownedByAnother`), which `XENMAPSPACE_gmfn_foreign` checked;
/// - anything else (no entry, MMIO types the model does not make): covered.
public func deviceReachCovered<W: Word>(
  _ slot: P2MSlot<W>, at gfn: W, maps: [GrantMappingWord<W>], ownsRAM: W.Condition, ownedByAnother: W.Condition
) -> W.Condition {
  let writable = slot.typeIs(\.permissions.write)
  func liveMap(atHost: Bool) -> W.Condition {
    maps.reduce(gfn.condition(false)) { any, map in
      any || (map.live && map.mfn == slot.mfn && (map.writable || !writable) && (atHost ? map.hostGFN == gfn : gfn.condition(true)))
    }
  }
  return W.Condition.select(
    slot.typeIs { $0 == .ramRW || $0 == .ramRO }, ownsRAM,
    W.Condition.select(
      slot.typeIs { $0 == .grantMapRW || $0 == .grantMapRO }, liveMap(atHost: true),
      W.Condition.select(
        slot.typeIs { $0 == .iommuMapRW || $0 == .iommuMapRO }, liveMap(atHost: false),
        W.Condition.select(slot.typeIs { $0 == .mapForeignRW || $0 == .mapForeignRO }, ownedByAnother, gfn.condition(true)))))
}

/// A domain's rights as Xen's state holds them now, read once for the
/// many entries a check asks about: its maptrack, as the words
/// ``deviceReachCovered(_:at:maps:ownsRAM:ownedByAnother:)`` takes, and
/// the host's owners.
public struct DeviceRights {
  public let domain: DomainID
  let maps: [GrantMappingWord<UInt64>]
  let host: HostMemory

  /// The frames the domain has a live writable grant map of (its
  /// maptrack's `cnt.wr` above zero).
  public var writablyGrantedFrames: Set<MFN> { Set(maps.filter(\.writable).map { MFN($0.mfn) }) }

  /// Whether the rights cover `entry` at `gfn`.
  public func covers(_ entry: P2MEntry, at gfn: GFN) -> Bool {
    let owner = host.owner(of: entry.mfn)
    let ownedByAnother: Bool = if case .domain(let other)? = owner { other != domain } else { false }
    return deviceReachCovered(
      P2MSlot(entry.type, mfn: entry.mfn.rawValue), at: gfn.rawValue, maps: maps, ownsRAM: owner == .domain(domain),
      ownedByAnother: ownedByAnother)
  }
}

extension XenState {
  /// `domain`'s rights as they are now.
  public func deviceRights(of domain: DomainID) -> DeviceRights {
    let maps = (domains[domain]?.maptrack.values).map {
      $0.map {
        GrantMappingWord<UInt64>(
          handle: 0, live: true, granter: $0.granter, grantedGFN: $0.grantedGFN.rawValue, mfn: $0.mfn.rawValue,
          hostGFN: $0.hostGFN.rawValue, writable: $0.writable)
      }
    } ?? []
    return DeviceRights(domain: domain, maps: maps, host: host)
  }
}
