/// The stream table of an SMMUv3, reduced to the STEs Xen has written.
public struct SMMUv3StreamTable: Hashable, Sendable {
  /// Entries written on attach; every other stream's STE is ABORT.
  public var entries: [StreamID: StreamTableEntry]
  /// S2VMIDs in use, by domain (`arm_smmu_domain_finalise_s2()`).
  public var vmids: [DomainID: Int]
  /// Width of the VMID bitmap (`smmu->vmid_bits`, 8 or 16).
  public var vmidBits: Int

  /// The state after probe with `disable_bypass`: all STEs ABORT.
  public init(vmidBits: Int = 16) {
    entries = [:]
    vmids = [:]
    self.vmidBits = vmidBits
  }

  /// The STE for `stream`: ABORT unless an attach wrote another
  /// (`arm_smmu_init_bypass_stes()` writes ABORT to all, §6.2).
  public func entry(for stream: StreamID) -> StreamTableEntry {
    entries[stream] ?? .abort
  }
}
