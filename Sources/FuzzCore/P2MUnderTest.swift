import P2MImpl
import Spec

/// What the spec-versus-implementation oracle needs of a p2m
/// implementation: updates, `p2m_get_entry()`-style lookups, the walk
/// without a TLB, and the CPU's view through the TLB.
///
/// `XenP2M` is the implementation; tests plug in deliberately broken ones
/// to show the oracle is not vacuous.
public protocol P2MUnderTest {
  /// The type-valid entry at `gfn` (as ``ReferenceP2M/lookup(_:)``).
  func lookup(_ gfn: GFN) -> P2MEntry?
  /// The architectural walk of `ipa`, bypassing any TLB.
  func walk(_ ipa: UInt64, access: Access) -> WalkResult
  /// What the CPU sees: a TLB hit, else the walk (which may fill the TLB).
  mutating func translate(_ ipa: UInt64, access: Access) -> WalkResult
  /// Makes `count` pages from `gfn` map as `entry` says (consecutive MFNs
  /// from `entry.mfn`), or removes them when `entry` is nil.
  mutating func set(_ gfn: GFN, count: UInt64, to entry: P2MEntry?) throws(XenP2MError)
}

extension XenP2M: P2MUnderTest {
  /// `p2m_set_entry()`; a hardware-invalid entry (one page) is mapped and
  /// then has its valid bit cleared, as Set/Way tracking would leave it.
  public mutating func set(_ gfn: GFN, count: UInt64, to entry: P2MEntry?) throws(XenP2MError) {
    guard let entry else { return try unmap(gfn, count: count) }
    try map(gfn, count: count, to: entry.mfn, type: entry.type)
    if !entry.hardwareValid {
      for page in 0..<count { _ = clearHardwareValid(gfn.advanced(by: page)) }
    }
  }
}

/// Makes the implementation's p2m for a domain.
public typealias P2MFactory = (_ domain: DomainID, _ ipaBits: Int, _ iommuEnabled: Bool) throws(XenP2MError) -> any P2MUnderTest

/// The implementation side of a differential run: one p2m per domain, kept
/// in step with the spec by ``P2MDifferentialOracle``, and readable by any
/// oracle that runs after it (an SMMU oracle walks these tables).
public final class ImplementationState {
  public internal(set) var p2ms: [DomainID: any P2MUnderTest] = [:]
  let makeP2M: P2MFactory

  public init(makeP2M: @escaping P2MFactory = ImplementationState.xenP2M) {
    self.makeP2M = makeP2M
  }

  /// An independent copy (the p2ms are values).
  func copy() -> ImplementationState {
    let copy = ImplementationState(makeP2M: makeP2M)
    copy.p2ms = p2ms
    return copy
  }

  /// `XenP2M` with a pool large enough for every table the fuzzer's pools
  /// can make, but small, since it is allocated (and zeroed) per input:
  /// 32 pages. The tables sit in the middle of the PA space; VMID =
  /// domain id + 1 (VMID 0 is `INVALID_VMID`).
  public static func xenP2M(_ domain: DomainID, ipaBits: Int, iommuEnabled: Bool) throws(XenP2MError) -> any P2MUnderTest {
    try XenP2M(
      ipaBits: ipaBits, vmid: domain.rawValue + 1, tableBase: MFN(1 << UInt64(ipaBits - pageShift - 1)), poolPages: 32,
      iommuEnabled: iommuEnabled, tlbCapacity: 256)
  }

  /// `XenP2M` with known Xen bugs put back (P2MImpl's mutants).
  package static func xenP2M(withMutants mutants: Mutants) -> P2MFactory {
    { domain, ipaBits, iommuEnabled throws(XenP2MError) in
      var p2m = try XenP2M(
        ipaBits: ipaBits, vmid: domain.rawValue + 1, tableBase: MFN(1 << UInt64(ipaBits - pageShift - 1)), poolPages: 32,
        iommuEnabled: iommuEnabled, tlbCapacity: 256)
      p2m.mutants = mutants
      return p2m
    }
  }
}
