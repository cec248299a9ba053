import Testing

@testable import Spec

@Suite("Linux grant rbtree (fact sheet §3.2, §3.3)")
struct GrantTreeTests {
  @Test("§3.3 set_foreign_p2m_mapping records host_addr>>12 → dev_bus_addr>>12")
  func insert() throws {
    var tree = GrantTree()
    try tree.setForeignP2MMapping(hostAddress: 0x2_0000_0000, devBusAddress: 0xC_1234_5000)
    #expect(tree.entries == [0x20_0000: MFN(0xC1_2345)])
    #expect(tree.mfn(of: 0x20_0000) == MFN(0xC1_2345))
    #expect(tree.mfn(of: 0x20_0001) == nil)
  }

  @Test("§3.2 pfn_to_bfn: the tree's MFN for a grant-mapped pfn, the pfn itself otherwise")
  func pfnToBfn() throws {
    var tree = GrantTree()
    #expect(tree.pfnToBfn(UInt64(0x80123)) == 0x80123, "an empty tree is the identity")
    try tree.setForeignP2MMapping(hostAddress: 0x2_0000_0000, devBusAddress: 0xC_1234_5000)
    try tree.setForeignP2MMapping(hostAddress: 0x2_0000_1000, devBusAddress: 0x9_0000_0000)
    #expect(tree.pfnToBfn(UInt64(0x20_0000)) == 0xC1_2345)
    #expect(tree.pfnToBfn(UInt64(0x20_0001)) == 0x90_0000)
    #expect(tree.pfnToBfn(UInt64(0x20_0002)) == 0x20_0002)
  }

  @Test("§3.3 clear_foreign_p2m_mapping erases the entry; clearing a missing pfn changes nothing")
  func clear() throws {
    var tree = GrantTree()
    try tree.setForeignP2MMapping(hostAddress: 0x2_0000_0000, devBusAddress: 0xC_1234_5000)
    tree.clearForeignP2MMapping(hostAddress: 0x3_0000_0000)
    #expect(tree.entries.count == 1)
    tree.clearForeignP2MMapping(hostAddress: 0x2_0000_0000)
    #expect(tree.entries.isEmpty)
    #expect(tree.pfnToBfn(UInt64(0x20_0000)) == 0x20_0000)
  }

  @Test("36bf1dfb8b26 (XSA-361): inserting a pfn twice is an error reported to the caller")
  func duplicate() throws {
    var tree = GrantTree()
    try tree.setForeignP2MMapping(hostAddress: 0x2_0000_0000, devBusAddress: 0xC_1234_5000)
    #expect(throws: GrantTreeError.alreadyMapped(pfn: 0x20_0000, existing: MFN(0xC1_2345))) {
      try tree.setForeignP2MMapping(hostAddress: 0x2_0000_0abc, devBusAddress: 0x1000)
    }
    #expect(tree.mfn(of: 0x20_0000) == MFN(0xC1_2345), "the first mapping survives")
  }

  @Test("property: pfn_to_bfn equals a dictionary lookup with the identity default (seed 0x6A27)")
  func randomTrees() throws {
    var random = SplitMix64(seed: 0x6A27)
    for _ in 0..<100 {
      var tree = GrantTree()
      var model: [UInt64: UInt64] = [:]
      for _ in 0..<(random.next() % 8) {
        let pfn = random.next() % 64
        let mfn = random.next() % (1 << 36)
        if model[pfn] == nil {
          try tree.setForeignP2MMapping(hostAddress: pfn << 12 | random.next() % 4096, devBusAddress: mfn << 12)
          model[pfn] = mfn
        }
      }
      for pfn in UInt64(0)..<64 { #expect(tree.pfnToBfn(pfn) == model[pfn] ?? pfn) }
    }
  }
}
