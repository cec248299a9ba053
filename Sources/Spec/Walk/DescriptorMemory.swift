/// Memory that translation-table descriptors are loaded from, generic over
/// the word so one walk reads a concrete ``FrameStore`` or a symbolic array
/// (DESIGN.md §3: "Memory is generic too").
///
/// A walk only ever loads whole 8-byte descriptors at 8-byte-aligned
/// addresses it computed itself (table base | index × 8, Arm ARM
/// AArch64.S2Walk; KVM `walk_nested_s2_pgd()`). Instances read the aligned
/// doubleword containing `physicalAddress`, ignoring bits 2:0.
public protocol DescriptorMemory {
  associatedtype W: Word
  func loadDescriptor(at physicalAddress: W) -> W
}
