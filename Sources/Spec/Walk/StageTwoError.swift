/// Why a stage-2 geometry, descriptor or table image could not be built.
///
/// These are refusals of bad input to the spec's constructors; faults that
/// the hardware reports during a walk are ``StageTwoFault`` values instead.
public enum StageTwoError: Error, Hashable, Sendable, CustomStringConvertible {
  /// Not one of the sizes of Xen's `pa_range_info[]` that a 4K-granule p2m
  /// can use (fact sheet §1.3).
  case unsupportedIPASize(Int)
  /// VMID 0 is `INVALID_VMID` in Xen (`p2m_alloc_vmid()`, fact sheet §1.3).
  case reservedVMID
  /// The root tables' address is not aligned to their concatenated size or
  /// does not fit in the PA size.
  case badRootAddress(UInt64, ipaBits: Int)
  /// Levels of a 4K-granule stage-2 walk are 0 to 3; a leaf is at 1 to 3.
  case levelOutOfRange(Int)
  /// The frame does not fit in the descriptor's 36-bit base field (47:12).
  case frameOutOfRange(MFN)
  /// A block's output frame must be aligned to the block size.
  case misalignedBlock(MFN, level: Int)
  /// Software bits 58:55 hold a value that is not a `p2m_type_t` (12–15).
  case unknownSoftwareType(UInt64)
  /// The descriptor is a table descriptor, not a leaf, at this level.
  case notALeaf(UInt64, level: Int)
  /// Descriptors are 8 bytes, 8-byte aligned.
  case misalignedDescriptorAddress(UInt64)
  /// A table has 512 entries.
  case tableIndexOutOfRange(Int)
  /// Table frames ran out while materializing a p2m.
  case tableFramesExhausted(needed: Int)
  /// The supplied root frames are not consecutive and naturally aligned, as
  /// Xen's `alloc_domheap_pages(d, P2M_ROOT_ORDER)` makes them.
  case rootFramesNotConcatenable([MFN])
  /// A frame was supplied twice for page tables.
  case duplicateTableFrame(MFN)

  public var description: String {
    switch self {
    case .unsupportedIPASize(let bits): "\(bits)-bit IPA is not a supported stage-2 size (32, 36, 40, 42, 44, 48)"
    case .reservedVMID: "VMID 0 is reserved (INVALID_VMID)"
    case .badRootAddress(let address, let bits): "root address \(hex(address)) is misaligned or outside a \(bits)-bit PA"
    case .levelOutOfRange(let level): "level \(level) is outside the stage-2 walk"
    case .frameOutOfRange(let mfn): "\(mfn) does not fit in a descriptor's base field"
    case .misalignedBlock(let mfn, let level): "\(mfn) is not aligned for a level-\(level) block"
    case .unknownSoftwareType(let raw): "software type \(raw) is not a p2m_type_t"
    case .notALeaf(let descriptor, let level): "\(hex(descriptor)) is a table descriptor at level \(level)"
    case .misalignedDescriptorAddress(let address): "descriptor address \(hex(address)) is not 8-byte aligned"
    case .tableIndexOutOfRange(let index): "table index \(index) is outside 0..<512"
    case .tableFramesExhausted(let needed): "table frame supply ran out (\(needed) needed so far)"
    case .rootFramesNotConcatenable(let frames): "root frames \(frames) are not consecutive and aligned"
    case .duplicateTableFrame(let mfn): "\(mfn) was supplied twice as a table frame"
    }
  }
}
