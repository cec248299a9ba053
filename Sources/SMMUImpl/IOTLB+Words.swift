import Spec

/// The concrete IOTLB as the generic maintenance's world: its fill and
/// invalidations are ``iotlbFill(_:vmid:ipa:outputAddress:read:write:level:)``
/// and ``iotlbInvalidate(_:vmid:)`` run on `UInt64` words.
extension IOTLB: IOTLBWords {
  package typealias W = UInt64

  package mutating func when(_ condition: Bool, _ body: (inout IOTLB) -> Void) {
    if condition { body(&self) }
  }

  package var vmidLimitWord: UInt64 { UInt64(generations.count) }

  package func slotIndex(vmid: UInt64, page: UInt64) -> UInt64 {
    iotlbSlotIndex(vmid: vmid, page: page, mask: UInt64(mask))
  }

  package func slotWords(at index: UInt64) -> IOTLBSlot<UInt64> { words(Int(truncatingIfNeeded: index)) }

  package mutating func storeSlot(at index: UInt64, _ words: IOTLBSlot<UInt64>) {
    let slot = Int(truncatingIfNeeded: index)
    keys[slot] = words.key
    values[slot] = words.value
    // Generations are 32-bit; the generic fill only copies one.
    stamps[slot] = UInt32(truncatingIfNeeded: words.stamp)
  }

  package func generationWord(of vmid: UInt64) -> UInt64 { UInt64(generations[Int(truncatingIfNeeded: vmid)]) }

  package mutating func storeGeneration(_ generation: UInt64, of vmid: UInt64) {
    generations[Int(truncatingIfNeeded: vmid)] = UInt32(truncatingIfNeeded: generation)
  }

  package mutating func clearSlots(taggedWith vmid: UInt64) {
    for slot in keys.indices where keys[slot] != Self.emptyKey && keys[slot] >> 48 == vmid {
      keys[slot] = Self.emptyKey
    }
  }
}
