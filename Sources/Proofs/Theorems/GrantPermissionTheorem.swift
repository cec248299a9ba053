import Spec
import SymbolicWord

/// `grant.one-to-one-permissions`: on a direct-mapped dom0 with the IOMMU
/// on (Xen 4.20), the 1:1 IOMMU entry of a granted frame is writable as
/// soon as one of dom0's maps of it is writable: a read-only map, then a
/// writable map of the same grant (`mapkind()` over the existing maps:
/// "a writable map and none writable → rw"), must leave `iommu_map_rw` at
/// dfn = mfn, so the device may DMA into the page. Decided on the spec's
/// concrete state after the two `GNTTABOP_map_grant_ref`s.
///
/// Added when a mapkind() mistake (no upgrade after a read-only map)
/// escaped the DMA matrix, whose cells map each grant once.
enum GrantPermissionTheorem {
  /// `GNTTABOP_map_grant_ref` into dom0: granter, granted GFN, host GFN,
  /// writable.
  typealias MapGrant = @Sendable (inout XenState, DomainID, GFN, GFN, Bool) throws -> GrantMapResult

  /// - Parameter mapGrant: the grant map under proof, the spec's
  ///   ``XenState/mapGrant(from:gfn:into:at:writable:)`` by default; a test
  ///   hands in a broken one, which must make the theorem refuted (a
  ///   `mapkind()` that upgrades the 1:1 entry only when the frame has no
  ///   map yet leaves it read-only).
  static func theorem(
    mapGrant: @escaping MapGrant = { xen, granter, gfn, hostGFN, writable in
      try xen.mapGrant(from: granter, gfn: gfn, at: hostGFN, writable: writable)
    }
  ) -> Theorem {
    Theorem(name: "grant.one-to-one-permissions", summary: "a writable grant map after a read-only one makes the 1:1 IOMMU entry writable (mapkind; direct-mapped dom0, 4.20)") { session in
      let ram = MemoryBank(start: MFN(0x80000), pages: 64)
      let guestRAM = MemoryBank(start: MFN(0x90000), pages: 16)
      var xen = try XenState(version: .v4_20, ipaBits: 40, ram: [ram, guestRAM])
      try xen.createDomain(.dom0, memory: .directMapped(banks: [ram]), iommuEnabled: true)
      try xen.createDomain(DomainID(1), memory: .fixed(guestRAM, base: GFN(0x10000)), iommuEnabled: false)
      let first = try mapGrant(&xen, DomainID(1), GFN(0x10003), GFN(0xA0000), false)
      _ = try mapGrant(&xen, DomainID(1), GFN(0x10003), GFN(0xA0001), true)
      let frame = MFN(first.devBusAddr >> pageShift)
      let entry = try xen.domain(.dom0).p2m.lookup(GFN(frame.rawValue))
      let ipa = try session.word("ipa")
      return [
        try session.decide("grant.one-to-one-permissions[ro-then-rw]", claim: ipa.condition(entry?.type == .iommuMapRW), hypotheses: []) { _ in
          ("after a read-only then a writable map of \(frame), dom0's 1:1 entry is \(entry.map { "\($0)" } ?? "missing")", nil, nil, [:])
        }
      ]
    }
  }
}
