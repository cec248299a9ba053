extension ReferenceP2M {
  /// The page tables Xen would hold for this p2m: every entry as a 4K L3
  /// leaf (`mfn_to_p2m_entry()`, ``XenDescriptor/leaf(for:level:)``) under
  /// table descriptors (`page_to_p2m_table()`), with the root tables and
  /// intermediate tables taken in order from `tableFrames`. Entries are
  /// placed in ascending GFN order, so the same p2m and supply always give
  /// the same image.
  ///
  /// This lets the spec's SMMU translate by walking the context's p2m
  /// architecturally (DESIGN.md §2) rather than by map lookup. No
  /// superpages are made: Xen's choice of block sizes is the optimized
  /// implementation's business, not the reference's.
  ///
  /// The first ``StageTwoGeometry/concatenatedRootTables`` frames of the
  /// supply are the root and must be consecutive and naturally aligned (Xen
  /// allocates them with `alloc_domheap_pages(d, P2M_ROOT_ORDER)`).
  ///
  /// - Throws: ``StageTwoError/tableFramesExhausted(needed:)`` when the
  ///   supply runs out, ``StageTwoError/duplicateTableFrame(_:)``,
  ///   ``StageTwoError/rootFramesNotConcatenable(_:)``, or
  ///   ``StageTwoError/frameOutOfRange(_:)`` for a table frame outside the
  ///   PA size or an entry's frame beyond the 36-bit base field. An entry's
  ///   frame above the PA size but within the field is encoded as given:
  ///   walking it is an address-size fault, as on hardware.
  public func materialize(tableFrames: some Sequence<MFN>) throws(StageTwoError) -> (memory: FrameStore, root: MFN) {
    let geometry = try StageTwoGeometry(ipaBits: ipaBits)
    var supply = tableFrames.makeIterator()
    var taken = Set<MFN>()

    func takeFrame() throws(StageTwoError) -> MFN {
      guard let frame = supply.next() else { throw .tableFramesExhausted(needed: taken.count + 1) }
      guard frame.address >> UInt64(ipaBits) == 0, frame.rawValue >> 36 == 0 else { throw .frameOutOfRange(frame) }
      guard taken.insert(frame).inserted else { throw .duplicateTableFrame(frame) }
      return frame
    }

    var roots: [MFN] = []
    for _ in 0..<geometry.concatenatedRootTables { roots.append(try takeFrame()) }
    let root = roots[0]
    let consecutive = roots.enumerated().allSatisfy { $1 == root.advanced(by: UInt64($0)) }
    guard consecutive, root.rawValue % UInt64(roots.count) == 0 else { throw .rootFramesNotConcatenable(roots) }

    // Entries grouped by the L3 table that holds them (GFN bits above 9),
    // tables in ascending order and entries ascending within each: the
    // same order as placing every entry in ascending GFN order, since all
    // the entries of one L3 table need the same tables above it. Each L3
    // table is stored once, whole.
    var byTable: [UInt64: [(gfn: GFN, entry: P2MEntry)]] = [:]
    for (gfn, entry) in entries { byTable[gfn.rawValue >> 9, default: []].append((gfn, entry)) }
    var memory = FrameStore()
    for tableIndex in byTable.keys.sorted() {
      let ipa = tableIndex << 21
      var table = root.address
      for level in geometry.rootLevel..<3 {
        let address = table | ipa.extract(high: geometry.indexHighBit(level: level), low: StageTwoGeometry.indexShift(level: level)) << 3
        var descriptor = memory.loadDescriptor(at: address)
        if descriptor == 0 {
          descriptor = try XenDescriptor.table(next: takeFrame())
          try memory.write(descriptor, at: address)
        }
        table = XenDescriptor.outputBase(descriptor)
      }
      // A fresh table: every L3 table frame serves one group. Only a
      // frame beyond the base field fails to encode; the first such GFN
      // is then reported, as in ascending order.
      let group = byTable[tableIndex]!
      var leaves = [UInt64](repeating: 0, count: FrameStore.entriesPerTable)
      for (gfn, entry) in group {
        guard let leaf = try? XenDescriptor.leaf(for: entry, level: 3) else {
          for (_, entry) in group.sorted(by: { $0.gfn < $1.gfn }) { _ = try XenDescriptor.leaf(for: entry, level: 3) }
          preconditionFailure("an encoding failed once but not in order")
        }
        leaves[Int(gfn.rawValue & 511)] = leaf
      }
      memory.tables[MFN(table >> UInt64(pageShift))] = leaves
    }
    return (memory, root)
  }
}
