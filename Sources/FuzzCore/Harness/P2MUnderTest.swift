import P2MImpl
import Spec

/// Xen's p2m code as the differential oracles run it: updates,
/// `p2m_get_entry()`-style lookups, the walk without a TLB, and the CPU's
/// view through the TLB — each over a domain's tables (`XenP2M`), which
/// the implementation's SMMU platform owns.
///
/// Why the code is separate from the tables: on Arm the p2m *is* the
/// SMMU's stage-2 table (`iommu_use_hap_pt`, fact sheet §1.6), and
/// `__p2m_set_entry()` flushes the IOTLBs in the middle of an update
/// (§1.5). So the tables must have one owner that the SMMUs walk and whose
/// flush callback reaches their IOTLBs: `XenSMMUPlatform`, updated in
/// place through `updateP2M(of:_:)`. A second owner would be a second
/// p2m the SMMU never sees, or — sharing the storage — a copy of the
/// table pool on every update (copy-on-write). Broken implementations
/// therefore plug in as code over those tables: mutant flags set on the
/// tables by a ``P2MFactory``, or a conformer with state of its own (a
/// test's stale translation cache) around the calls below. Either way the
/// CPU side and the SMMU see the same broken tables.
///
/// The defaults are Xen's own code (`XenP2M`'s methods).
package protocol P2MUnderTest {
  /// The type-valid entry at `gfn` (as ``ReferenceP2M/lookup(_:)``).
  func lookup(_ gfn: GFN, in tables: XenP2M) -> P2MEntry?
  /// The architectural walk of `ipa`, bypassing any TLB.
  func walk(_ ipa: UInt64, access: Access, in tables: XenP2M) -> WalkResult
  /// What the CPU sees: a TLB hit, else the walk (which may fill the TLB).
  mutating func translate(_ ipa: UInt64, access: Access, in tables: inout XenP2M) -> WalkResult
  /// Makes `count` pages from `gfn` map as `entry` says (consecutive MFNs
  /// from `entry.mfn`), or removes them when `entry` is nil.
  mutating func set(_ gfn: GFN, count: UInt64, to entry: P2MEntry?, in tables: inout XenP2M) throws(XenP2MError)
}

extension P2MUnderTest {
  package func lookup(_ gfn: GFN, in tables: XenP2M) -> P2MEntry? { tables.lookup(gfn) }
  package func walk(_ ipa: UInt64, access: Access, in tables: XenP2M) -> WalkResult { tables.walk(ipa, access: access) }
  package mutating func translate(_ ipa: UInt64, access: Access, in tables: inout XenP2M) -> WalkResult {
    tables.translate(ipa, access: access)
  }
  package mutating func set(_ gfn: GFN, count: UInt64, to entry: P2MEntry?, in tables: inout XenP2M) throws(XenP2MError) {
    try tables.set(gfn, count: count, to: entry)
  }
}

/// Xen's p2m code, unchanged.
package struct XenP2MCode: P2MUnderTest {
  package init() {}
}

extension XenP2M {
  /// `p2m_set_entry()`; a hardware-invalid entry (one page) is mapped and
  /// then has its valid bit cleared, as Set/Way tracking would leave it.
  package mutating func set(_ gfn: GFN, count: UInt64, to entry: P2MEntry?) throws(XenP2MError) {
    guard let entry else { return try unmap(gfn, count: count) }
    try map(gfn, count: count, to: entry.mfn, type: entry.type)
    if !entry.hardwareValid {
      for page in 0..<count { _ = clearHardwareValid(gfn.advanced(by: page)) }
    }
  }
}

/// The p2m implementation under test: how a domain's tables are made
/// (with at least `poolPages` pages for tables below the root), and the
/// code that runs over them (one instance per domain).
package struct P2MFactory: Sendable {
  package typealias MakeTables = @Sendable (_ domain: DomainID, _ ipaBits: Int, _ iommuEnabled: Bool, _ poolPages: Int) throws(XenP2MError) -> XenP2M

  package var makeTables: MakeTables
  package var makeCode: @Sendable () -> any P2MUnderTest

  package init(
    makeTables: @escaping MakeTables = P2MFactory.xenTables,
    makeCode: @escaping @Sendable () -> any P2MUnderTest = { XenP2MCode() }
  ) {
    self.makeTables = makeTables
    self.makeCode = makeCode
  }

  /// Xen's p2m.
  package static let xen = P2MFactory()

  /// `XenP2M` with a pool of `poolPages` pages. The tables sit in the
  /// middle of the PA space; VMID = domain id + 1 (VMID 0 is `INVALID_VMID`).
  package static func xenTables(_ domain: DomainID, ipaBits: Int, iommuEnabled: Bool, poolPages: Int) throws(XenP2MError) -> XenP2M {
    try XenP2M(
      ipaBits: ipaBits, vmid: domain.rawValue + 1, tableBase: MFN(1 << UInt64(ipaBits - pageShift - 1)), poolPages: poolPages,
      iommuEnabled: iommuEnabled, tlbCapacity: 256)
  }
}
