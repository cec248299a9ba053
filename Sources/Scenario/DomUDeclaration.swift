import Spec

package struct DomUDeclaration: Hashable, Sendable {
  package enum Memory: Hashable, Sendable {
    /// Machine memory at a fixed host range, mapped from `base` up.
    case at(address: UInt64, size: UInt64)
    /// Pages from the coloured allocator, from these colours.
    case coloured(colours: [Int], pages: UInt64)
  }
  package var name: String
  package var id: UInt16
  package var memory: Memory
  /// The guest-physical address of the first page.
  package var base: UInt64
  /// Pages in the domain's p2m pool (`p2m-pool <pages>`), from which Xen
  /// takes every table below the root: `p2m_alloc_page()` on
  /// `d->arch.paging.p2m_freelist` (RELEASE-4.21.0 xen/arch/arm/mmu/p2m.c),
  /// sized by `p2m_set_allocation()` from xl's `p2m_mem_mb` or dom0less's
  /// `xen,domain-p2m-mem-mb` (in MiB there; in pages here, since a small
  /// domain's tables are a handful of pages). Only the implementation has
  /// tables: the spec's p2m is a map, so it neither needs nor reads this,
  /// and a checked scenario whose update exhausts the pool is judged by
  /// the p2m oracle (was the refusal due, is the part done Xen's prefix)
  /// and compared no further. nil: enough for the domain's RAM and a few
  /// dozen more tables.
  package var p2mPoolPages: Int?

  package init(name: String, id: UInt16, memory: Memory, base: UInt64, p2mPoolPages: Int? = nil) {
    self.name = name
    self.id = id
    self.memory = memory
    self.base = base
    self.p2mPoolPages = p2mPoolPages
  }
}
