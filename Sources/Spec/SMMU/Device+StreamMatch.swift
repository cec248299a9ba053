extension Device {
  /// SMR.MASK is 15 bits (`SMR_MASK_MASK` 0x7fff, smmu.c); Xen keeps only
  /// those bits of a device tree's mask (`arm_smmu_dt_xlate_generic()`).
  public static let streamMatchMaskLimit: StreamID = 0x7FFF

  /// The mask the device tree gives the stream at `position` of the
  /// device's attachment (0 when none).
  public func streamMatchMask(at position: Int) -> StreamID {
    streamMatchMasks.indices.contains(position) ? streamMatchMasks[position] : 0
  }

  /// Each stream with its device-tree mask, as Xen's fwspec holds it
  /// (`fwid = id | mask << SMR_MASK_SHIFT`, `arm_smmu_dt_xlate_generic()`);
  /// empty for a device not behind an SMMU.
  public var streamMatchRequests: [StreamMatchRegister] {
    guard case .behindSMMU(_, let streams, _) = attachment else { return [] }
    return streams.indices.map { StreamMatchRegister(id: streams[$0], mask: streamMatchMask(at: $0)) }
  }
}
