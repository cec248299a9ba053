import Spec
import Testing

/// A random p2m: clusters of GFNs (so tables are shared and some are
/// sparse), random frames inside the PA size, every mappable type, and one
/// entry in eight hardware-invalid (Set/Way tracking, §1.2).
func randomP2M(seed: UInt64, ipaBits: Int) throws -> ReferenceP2M {
  var random = SplitMix64(seed: seed)
  var p2m = ReferenceP2M(ipaBits: ipaBits)
  let frameLimit = p2m.gfnLimit  // PA size = IPA size (§1.3)
  let mappable = P2MType.allCases.filter(\.isValid)
  for _ in 0..<(1 + random.next() % 6) {
    let clusterStart = random.next() % p2m.gfnLimit
    for _ in 0..<(1 + random.next() % 12) {
      let gfn = GFN(min(clusterStart + random.next() % 2048, p2m.gfnLimit - 1))
      let count = 1 + random.next() % 3
      guard gfn.rawValue + count <= p2m.gfnLimit else { continue }
      let mfn = MFN(random.next() % (frameLimit - count))
      try p2m.map(gfn, count: count, to: mfn, type: mappable[Int(random.next() % UInt64(mappable.count))],
                  hardwareValid: random.next() % 8 != 0)
    }
  }
  return p2m
}

/// Table frames in a region no test maps over: frames are data to the walk,
/// but distinct ones keep a failure readable.
func tableSupply(for p2m: ReferenceP2M) -> [MFN] {
  let start = p2m.gfnLimit / 2 & ~UInt64(7)
  return (0..<4096).map { MFN(start + $0) }
}

@Suite("Reference p2m materialized as tables (§1.2, §1.4, §7)")
struct ReferenceP2MTablesTests {
  /// Two fixed seeds for each IPA size, so every geometry is exercised.
  static let cases: [(seed: UInt64, ipaBits: Int)] = StageTwoGeometry.supportedIPABits.flatMap { bits in
    [(0x5eed ^ UInt64(bits), bits), (0xDEAD_BEEF &* UInt64(bits), bits)]
  }

  @Test("every mapped GFN walks to its MFN with the type's permissions; holes fault (seeded)", arguments: cases)
  func walkAgreesWithLookup(seed: UInt64, ipaBits: Int) throws {
    let p2m = try randomP2M(seed: seed, ipaBits: ipaBits)
    let geometry = try StageTwoGeometry(ipaBits: p2m.ipaBits)
    let (memory, root) = try p2m.materialize(tableFrames: tableSupply(for: p2m))
    var random = SplitMix64(seed: ~seed)
    #expect(!p2m.entries.isEmpty, "seed \(seed)")
    for (gfn, entry) in p2m.entries {
      let offset = random.next() & (pageSize - 1)
      for access in Access.allCases {
        let result = stageTwoWalk(memory: memory, geometry: geometry, rootAddress: root.address,
                                  inputAddress: gfn.address | offset, access: access).result
        let expected: WalkResult
        if !entry.hardwareValid {
          expected = .fault(StageTwoFault(kind: .translation, level: 3))
        } else if !entry.permissions.allows(access) {
          expected = .fault(StageTwoFault(kind: .permission, level: 3))
        } else {
          expected = .translated(address: entry.mfn.address | offset, level: 3, permissions: entry.permissions, type: entry.type)
        }
        #expect(result == expected, "seed \(seed) \(gfn) \(entry) \(access)")
      }
    }
    var holes = 0
    while holes < 200 {
      let gfn = GFN(random.next() % p2m.gfnLimit)
      guard p2m.lookup(gfn) == nil else { continue }
      holes += 1
      let result = stageTwoWalk(memory: memory, geometry: geometry, rootAddress: root.address,
                                inputAddress: gfn.address, access: .read).result
      guard case .fault(let fault) = result else {
        Issue.record("seed \(seed): unmapped \(gfn) gave \(result)")
        continue
      }
      #expect(fault.kind == .translation && fault.level >= geometry.rootLevel, "seed \(seed) \(gfn)")
    }
    let beyond = stageTwoWalk(memory: memory, geometry: geometry, rootAddress: root.address,
                              inputAddress: GFN(p2m.gfnLimit).address, access: .read).result
    #expect(beyond == .fault(StageTwoFault(kind: .translation, level: 0)))
  }

  @Test("each L3 leaf decodes back to its entry, and the image is deterministic (seeded)", arguments: cases)
  func leavesDecode(seed: UInt64, ipaBits: Int) throws {
    let p2m = try randomP2M(seed: seed, ipaBits: ipaBits)
    let (memory, root) = try p2m.materialize(tableFrames: tableSupply(for: p2m))
    let again = try p2m.materialize(tableFrames: tableSupply(for: p2m))
    #expect(again.memory == memory && again.root == root)
    let geometry = try StageTwoGeometry(ipaBits: p2m.ipaBits)
    for (gfn, entry) in p2m.entries {
      var table = root.address
      for level in geometry.rootLevel..<3 {
        let shift = UInt64(12 + 9 * (3 - level))
        let index = level == geometry.rootLevel ? gfn.address >> shift : (gfn.address >> shift) & 511
        table = XenDescriptor.outputBase(memory.loadDescriptor(at: table + index * 8))
      }
      let leaf = memory.loadDescriptor(at: table + (gfn.rawValue & 511) * 8)
      #expect(try XenDescriptor.decodeLeaf(leaf, level: 3) == entry, "seed \(seed) \(gfn)")
    }
  }

  @Test("tables use only the frames they need: root, then one per new table")
  func frameCount() throws {
    var p2m = ReferenceP2M(ipaBits: 40)
    // Two GFNs in one L3 table, a third in another L2 table under the other root page.
    try p2m.map(GFN(0x10), count: 2, to: MFN(0x5000), type: .ramRW)
    try p2m.map(GFN(0x800_0000), to: MFN(0x6000), type: .grantMapRO)
    let supply = (0x100..<0x200).map(MFN.init)
    let (memory, root) = try p2m.materialize(tableFrames: supply)
    #expect(root == MFN(0x100))
    #expect(memory.frames == (0x100...0x105).map(MFN.init))
  }

  @Test("bad supplies are refused")
  func badSupplies() throws {
    var p2m = ReferenceP2M(ipaBits: 40)
    try p2m.map(GFN(0x10), to: MFN(0x5000), type: .ramRW)
    #expect(throws: StageTwoError.tableFramesExhausted(needed: 4)) {
      try p2m.materialize(tableFrames: (0x100..<0x103).map(MFN.init))
    }
    #expect(throws: StageTwoError.rootFramesNotConcatenable([MFN(0x101), MFN(0x102)])) {
      try p2m.materialize(tableFrames: (0x101..<0x110).map(MFN.init))
    }
    #expect(throws: StageTwoError.duplicateTableFrame(MFN(0x100))) {
      try p2m.materialize(tableFrames: [MFN(0x100), MFN(0x101), MFN(0x100)])
    }
    #expect(throws: StageTwoError.frameOutOfRange(MFN(1 << 28))) {
      try p2m.materialize(tableFrames: [MFN(0x100), MFN(0x101), MFN(1 << 28)])
    }
  }
  /// The scenario runner walks the lazy image; it must be the stored one.
  @Test("the lazy table image reads what materialize stores, with the frame count predicted (seeded)", arguments: cases)
  func lazyImageEqualsMaterialized(seed: UInt64, ipaBits: Int) throws {
    var p2m = try randomP2M(seed: seed, ipaBits: ipaBits)
    // A long run crossing several last-level tables, as a bank is.
    try p2m.map(GFN(0x200), count: 3 * 512 + 17, to: MFN(0x1000), type: .ramRW)
    let (memory, root) = try p2m.materialize(tableFrames: tableSupply(for: p2m))
    let image = try p2m.tableImage(tableFrames: tableSupply(for: p2m))
    #expect(image.root == root)
    // Exactly the frames taken (root tables may stay unwritten, so the
    // count is checked against the supply rather than the image).
    let needed = Int(try p2m.tableFrameCount())
    #expect((try? p2m.materialize(tableFrames: tableSupply(for: p2m).prefix(needed))) != nil, "seed \(seed)")
    #expect(throws: StageTwoError.tableFramesExhausted(needed: needed)) {
      try p2m.materialize(tableFrames: tableSupply(for: p2m).prefix(needed - 1))
    }
    for frame in memory.frames {
      for index in 0..<UInt64(FrameStore.entriesPerTable) {
        let address = frame.address + index * 8
        #expect(image.loadDescriptor(at: address) == memory.loadDescriptor(at: address), "seed \(seed) \(hex(address))")
      }
    }
    var random = SplitMix64(seed: seed)
    for _ in 0..<200 {
      let address = (random.next() % p2m.gfnLimit) << 12 | (random.next() & 0xFF8)
      #expect(image.loadDescriptor(at: address) == memory.loadDescriptor(at: address))
    }
  }

  @Test("the lazy image refuses what materialize refuses, with the same error")
  func lazyImageRefusesAlike() throws {
    var p2m = ReferenceP2M(ipaBits: 40)
    try p2m.map(GFN(0x10), to: MFN(0x5000), type: .ramRW)
    try p2m.map(GFN(0x400), count: 4, to: MFN((1 << 36) - 2), type: .ramRW)
    let supplies: [[MFN]] = [
      (0x100..<0x103).map(MFN.init), (0x101..<0x110).map(MFN.init), [MFN(0x100), MFN(0x101), MFN(0x100)],
      [MFN(0x100), MFN(0x101), MFN(1 << 28)], (0x100..<0x110).map(MFN.init),
    ]
    for supply in supplies {
      let stored = Result { () throws(StageTwoError) in try p2m.materialize(tableFrames: supply) }
      let lazy = Result { () throws(StageTwoError) in try p2m.tableImage(tableFrames: supply) }
      guard case .failure(let expected) = stored else {
        Issue.record("materialize accepted \(supply)")
        continue
      }
      guard case .failure(let error) = lazy else {
        Issue.record("the image accepted \(supply)")
        continue
      }
      #expect(error == expected)
    }
  }
}
