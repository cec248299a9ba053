extension MemoryBank {
  /// dom0's banks: the first `pages` pages of host RAM, bank by bank in
  /// ascending address order (the order ``HostMemory`` keeps), or nil when
  /// RAM holds fewer pages.
  ///
  /// One definition for the scenario runner, which boots dom0 there, and
  /// for whoever must say where dom0's RAM is without booting (the board
  /// counterexample's relocation): a device tree may list its memory nodes
  /// in any order, and the two must agree on which bank dom0 starts in.
  /// [derived] Xen's `allocate_memory_11` (xen/arch/arm/domain_build.c)
  /// takes a direct-mapped dom0's memory where the allocator finds it; the
  /// model fixes one place, the lowest RAM, which is all its claims need.
  package static func dom0Banks(pages: UInt64, in ram: [MemoryBank]) -> [MemoryBank]? {
    var remaining = pages
    var banks: [MemoryBank] = []
    for bank in ram.sorted(by: { $0.start < $1.start }) where remaining > 0 {
      let taken = Swift.min(bank.pages, remaining)
      banks.append(MemoryBank(start: bank.start, pages: taken))
      remaining -= taken
    }
    return remaining == 0 ? banks : nil
  }
}
