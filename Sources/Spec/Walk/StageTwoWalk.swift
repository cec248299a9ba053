/// The architectural stage-2 translation of `inputAddress` (an IPA) for a
/// `access`, over the descriptors in `memory`: VMSAv8-64, 4K granule, the
/// start level and concatenated root tables of `geometry` (fact sheet §1.3,
/// §7.1, §7.2).
///
/// Written once over ``Word``: it runs on `UInt64` with a ``FrameStore``
/// and on the symbolic word with a Z3 array. Every decision on a word goes
/// through ``branch(_:then:else:)``; the levels are Swift integers, so the
/// walk unrolls into at most four lookups.
///
/// The order of checks is KVM's `walk_nested_s2_pgd()`
/// (arch/arm64/kvm/nested.c), the C rendering of the Arm ARM's
/// AArch64.S2Walk:
/// 1. IPA at or above 2^ipaBits: translation fault at level 0. The fact
///    sheet marks this level [uncertain]; level 0 is what the Arm ARM's
///    `AArch64.S2Translate()` pseudocode sets (`AArch64.IPAIsOutOfRange` →
///    `fault.level = 0`), which we follow.
/// 2. The root address (VTTBR_EL2.BADDR) is masked to bits 47 down to the
///    root tables' alignment, as KVM does (so a whole VTTBR, VMID included,
///    may be passed); bits above the PA size give an address-size fault at
///    the start level (`check_output_size(wi, base_addr)`).
/// 3. Each lookup: valid bit 0 clear, or `0b01` at L3 (reserved) →
///    translation fault at that level; a table descriptor (L0–L2, `0b11`)
///    whose next-table address has bits above the PA size → address-size
///    fault at that level, else descend.
/// 4. A block (`0b01`) at L0 → translation fault at L0 (blocks start at L1).
/// 5. The leaf's output address above the PA size → address-size fault;
///    AF = 0 → access-flag fault (Xen leaves VTCR_EL2.HA clear, so no
///    hardware AF update), which takes precedence over
/// 6. S2AP: a read needs bit 6, a write bit 7 → permission fault (Arm ARM
///    AArch64.S2CheckPermissions, after the walk). XN is reported, not
///    checked: a DMA access is never an instruction fetch.
/// 7. Otherwise the output address is ``leafOutputAddress(descriptor:inputAddress:level:)``.
///
/// The PA size is the IPA size: Xen sets `p2m_ipa_bits` from PARange and the
/// IOMMU's limit (§1.3). At 48 bits no address-size fault can arise (KVM's
/// `check_output_size` likewise skips 48), and descriptor bits 51:48 are
/// ignored, as in the output address.
///
/// `@inlinable` so that callers in other modules (`P2MImpl`'s `XenP2M.walk`,
/// `SMMUImpl` on an IOTLB miss) get it specialised for `UInt64` and their
/// own memory, with every `branch` a plain `if`: unspecialised, each word
/// operation goes through the ``Word`` witness table and each `branch`
/// through closures (BENCHMARKS.md "Lookups": about 2 µs a walk). The
/// proofs instantiate the same code with Z3 words.
@inlinable
public func stageTwoWalk<M: DescriptorMemory>(
  memory: M, geometry: StageTwoGeometry, rootAddress: M.W, inputAddress: M.W, access: Access
) -> WalkOutcome<M.W> {
  typealias Outcome = WalkOutcome<M.W>
  let ipa = inputAddress
  let outputBits = geometry.ipaBits

  func aboveOutputSize(_ address: M.W) -> M.W.Condition {
    outputBits >= 48 ? ipa.condition(false) : (address & bitMask(high: 47, low: outputBits)) != 0
  }

  func fault(_ kind: StageTwoFault.Kind, at level: Int) -> Outcome {
    .fault(kind, level: level, like: ipa)
  }

  func leaf(_ descriptor: M.W, level: Int) -> Outcome {
    if level < 1 { return fault(.translation, at: level) }
    return branch(aboveOutputSize(descriptor)) {
      fault(.addressSize, at: level)
    } else: {
      branch(!XenDescriptor.accessFlag(descriptor)) {
        fault(.accessFlag, at: level)
      } else: {
        let allowed = access == .read ? XenDescriptor.read(descriptor) : XenDescriptor.write(descriptor)
        return branch(!allowed) {
          fault(.permission, at: level)
        } else: {
          .translated(
            outputAddress: leafOutputAddress(descriptor: descriptor, inputAddress: ipa, level: level),
            leaf: descriptor, level: level)
        }
      }
    }
  }

  func lookup(level: Int, table: M.W) -> Outcome {
    let onePageRoot = SeededBug.walkConcatenatedRootOnePage.isActive && level == geometry.rootLevel
    let high = onePageRoot ? StageTwoGeometry.indexShift(level: level) + 8 : geometry.indexHighBit(level: level)
    let index = ipa.extract(high: high, low: StageTwoGeometry.indexShift(level: level))
    let descriptor = memory.loadDescriptor(at: table | (index << 3))
    let invalid = level == 3
      ? !XenDescriptor.isValid(descriptor) || !XenDescriptor.tableBit(descriptor)
      : !XenDescriptor.isValid(descriptor)
    return branch(invalid) {
      fault(.translation, at: level)
    } else: {
      guard level < 3 else { return leaf(descriptor, level: level) }
      return branch(XenDescriptor.tableBit(descriptor)) {
        branch(aboveOutputSize(descriptor)) {
          fault(.addressSize, at: level)
        } else: {
          lookup(level: level + 1, table: XenDescriptor.outputBase(descriptor))
        }
      } else: {
        leaf(descriptor, level: level)
      }
    }
  }

  let start = geometry.rootLevel
  let rootIndexBits = geometry.indexHighBit(level: start) - StageTwoGeometry.indexShift(level: start) + 1
  let base = rootAddress & bitMask(high: 47, low: 3 + rootIndexBits)
  return branch((ipa >> outputBits) != 0) {
    fault(.translation, at: 0)
  } else: {
    branch(aboveOutputSize(base)) {
      fault(.addressSize, at: start)
    } else: {
      lookup(level: start, table: base)
    }
  }
}
