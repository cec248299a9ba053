import Spec

package enum StatementKind: Hashable, Sendable {
  // MARK: Platform
  /// `xen <version>`: which Xen behaviour to model (e.g. 4.14 predates the
  /// `04085ec1ac` grant fix).
  case xen(version: String)
  /// `ipa-bits <n>`: the stage-2 input (and output) address size.
  case ipaBits(Int)
  /// `llc-colours <n>`: LLC colouring on, with n colours; absent means off.
  case llcColours(Int)
  /// `ram <address> <size>`: a bank of host RAM.
  case ram(address: UInt64, size: UInt64)
  /// `iommu on|off`: whether Xen enables the IOMMU for dom0.
  case iommu(Bool)
  /// `hypercall-cflush on|off`: whether Xen has GNTTABOP_cache_flush.
  case hypercallCacheFlush(Bool)
  /// `linux <policy>`: how dom0 Linux picks its DMA ops.
  case linuxPolicy(DMAPolicy)
  /// `smmu <name> v2|v3 [entries <n>] [iotlb <n>]`: an SMMUv2's
  /// stream-match register groups (`SMMU_IDR0.NUMSMRG`, up to 128 on an
  /// MMU-500; the model's default 16 when absent) and the entries of the
  /// SMMU's TLB (``SMMU/iotlbEntries``).
  case smmu(name: String, version: SMMUVersion, streamMapEntries: Int? = nil, iotlbEntries: Int? = nil)
  /// `device <name> …`: a DMA master.
  case device(DeviceDeclaration)

  // MARK: Domains
  /// `dom0 direct-mapped memory <size>` or `dom0 coloured <colours> memory
  /// <size>`: dom0's RAM over the host RAM banks.
  case dom0(Dom0Memory, size: UInt64)
  /// `swiotlb <address> <size>`: where in dom0's RAM Linux's bounce pool lies.
  case swiotlbPool(address: UInt64, size: UInt64)
  /// `domu <name> id <n> …`: a guest that grants or lends pages.
  case domU(DomUDeclaration)

  // MARK: Operations
  /// `attach <device> <domain>`: assign the device's streams to the domain's context.
  case attach(device: String, domain: String)
  /// `detach <device>`.
  case detach(device: String)
  /// `grant <domain> <gfn-address> to dom0 at <address> ro|rw as <handle>`.
  case grant(GrantStatement)
  /// `ungrant <handle>`.
  case ungrant(handle: String)
  /// `foreign <domain> <gfn-address> into dom0 at <address> as <handle>`.
  case foreign(ForeignStatement)
  /// `unforeign <handle>`.
  case unforeign(handle: String)
  /// `p2m <domain> map <gfn-address> <mfn-address> <type> [size <size>] [hw-invalid]`:
  /// `pages` consecutive GFNs to consecutive MFNs (one page unless a size
  /// is given), as one `p2m_set_entry()` call.
  case p2mMap(domain: String, gfnAddress: UInt64, mfnAddress: UInt64, type: P2MType, hardwareValid: Bool, pages: UInt64 = 1)
  /// `p2m <domain> unmap <gfn-address> [size <size>]`: `pages` consecutive
  /// GFNs removed as one `p2m_set_entry()` call with `INVALID_MFN`
  /// (`guest_physmap_remove_page()`, `p2m_remove_mapping()`), so that a
  /// removal of a whole block is one chunk of its order, as in Xen.
  case p2mUnmap(domain: String, gfnAddress: UInt64, pages: UInt64 = 1)
  /// `remove-from-physmap <domain> <gfn-address>`: the domain asks Xen
  /// to take the page at a GFN out of its p2m (`XENMEM_remove_from_physmap`,
  /// common/memory.c): its own RAM page stays its own, unmapped; a foreign
  /// mapping drops its reference; a grant, an IOMMU entry or a hole is
  /// −ENOENT (``XenState/removeFromPhysmap(_:gfn:)``). What `unforeign`
  /// does for a handle, for any GFN: Linux so returns a RAM page's GFN
  /// before reusing the slot.
  case removeFromPhysmap(domain: String, gfnAddress: UInt64)
  /// `setway <domain>`: the guest cleans its caches by set/way, which Xen
  /// emulates by invalidating the domain's p2m at the root
  /// (`p2m_set_way_flush()` → `p2m_invalidate_root()`), so that each page's
  /// next access faults and is noted.
  case setWay(domain: String)
  /// `dma <device> to-device|from-device <address> <size> [expect <outcome>]`.
  case dma(DMAStatement)
}
