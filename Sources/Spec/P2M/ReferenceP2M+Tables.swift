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
    var supply = TableFrameSupply(frames: tableFrames.makeIterator(), ipaBits: ipaBits)
    let root = try supply.roots(geometry)

    // Entries grouped by the L3 table that holds them (GFN bits above 9),
    // tables in ascending order and entries ascending within each: the
    // same order as placing every entry in ascending GFN order, since all
    // the entries of one L3 table need the same tables above it. Each L3
    // table is stored once, whole.
    var byTable: [UInt64: [(gfn: GFN, entry: P2MEntry)]] = [:]
    for (gfn, entry) in mappings.elements { byTable[gfn >> 9, default: []].append((GFN(gfn), entry)) }
    var memory = FrameStore()
    for tableIndex in byTable.keys.sorted() {
      let ipa = tableIndex << 21
      var table = root.address
      for level in geometry.rootLevel..<3 {
        let address = table | ipa.extract(high: geometry.indexHighBit(level: level), low: StageTwoGeometry.indexShift(level: level)) << 3
        var descriptor = memory.loadDescriptor(at: address)
        if descriptor == 0 {
          descriptor = try XenDescriptor.table(next: supply.take())
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

extension ReferenceP2M {
  /// How many table frames ``materialize(tableFrames:)`` takes: the
  /// concatenated root tables, and one table for each distinct index range
  /// of every level below the root that holds an entry. Computed from the
  /// runs, so a large p2m needs no table image to size its supply.
  public func tableFrameCount() throws(StageTwoError) -> UInt64 {
    let geometry = try StageTwoGeometry(ipaBits: ipaBits)
    var count = UInt64(geometry.concatenatedRootTables)
    // A table at level L + 1 covers the GFNs that share bits above
    // 9 × (3 − L); runs are ascending, so each level's distinct tables are
    // counted by remembering the last one.
    for level in geometry.rootLevel..<3 {
      let shift = UInt64(9 * (3 - level))
      var last: UInt64?
      for run in mappings.runs {
        let first = run.start >> shift
        let final = (run.end - 1) >> shift
        let fresh = last.map { $0 >= first ? final - $0 : final - first + 1 } ?? final - first + 1
        count += fresh
        last = final
      }
    }
    return count
  }

  /// The image ``materialize(tableFrames:)`` builds, with the same frames
  /// and the same descriptors, but whose last-level tables are read from
  /// this p2m's runs when the walk loads them instead of being stored:
  /// memory follows the number of tables above the last level (one per
  /// GiB mapped) and time the number of last-level tables, not of pages.
  /// The same refusals as ``materialize(tableFrames:)``, in the same order.
  public func tableImage(tableFrames: some Sequence<MFN>) throws(StageTwoError) -> P2MTableImage {
    let geometry = try StageTwoGeometry(ipaBits: ipaBits)
    var supply = TableFrameSupply(frames: tableFrames.makeIterator(), ipaBits: ipaBits)
    let root = try supply.roots(geometry)

    // The first entry whose frame does not fit a leaf, in ascending GFN
    // order: materialize reports it when it reaches that entry's table.
    var unencodable: (gfn: UInt64, entry: P2MEntry)?
    let fieldLimit = UInt64(1) << 36
    for run in mappings.runs {
      let mfn = run.first.mfn.rawValue
      let offset: UInt64? = mfn >= fieldLimit ? 0 : (fieldLimit - mfn < run.count ? fieldLimit - mfn : nil)
      if let offset {
        unencodable = (run.start + offset, run.value(at: run.start + offset))
        break
      }
    }

    var memory = FrameStore()
    var leafTables: [MFN: UInt64] = [:]
    var previous: UInt64?
    for run in mappings.runs {
      for tableIndex in (run.start >> 9)...((run.end - 1) >> 9) where previous.map({ tableIndex > $0 }) ?? true {
        previous = tableIndex
        let ipa = tableIndex << 21
        var table = root.address
        for level in geometry.rootLevel..<3 {
          let address = table | ipa.extract(high: geometry.indexHighBit(level: level), low: StageTwoGeometry.indexShift(level: level)) << 3
          var descriptor = memory.loadDescriptor(at: address)
          if descriptor == 0 {
            descriptor = try XenDescriptor.table(next: supply.take())
            try memory.write(descriptor, at: address)
          }
          table = XenDescriptor.outputBase(descriptor)
        }
        if let unencodable, unencodable.gfn >> 9 == tableIndex {
          _ = try XenDescriptor.leaf(for: unencodable.entry, level: 3)
          preconditionFailure("a frame beyond the base field encoded")
        }
        leafTables[MFN(table >> UInt64(pageShift))] = tableIndex
      }
    }
    return P2MTableImage(upper: memory, leafTables: leafTables, mappings: mappings, root: root)
  }
}

/// A p2m's descriptor tables as ``ReferenceP2M/tableImage(tableFrames:)``
/// lays them out: the tables above the last level stored, each last-level
/// table computed from the p2m's runs when a descriptor of it is loaded.
/// Reads exactly what the ``FrameStore`` of
/// ``ReferenceP2M/materialize(tableFrames:)`` holds (`ReferenceP2MTablesTests`).
public struct P2MTableImage: DescriptorMemory, Sendable {
  public typealias W = UInt64
  let upper: FrameStore
  /// Each last-level table's frame and the GFNs it covers (GFN >> 9).
  let leafTables: [MFN: UInt64]
  let mappings: RunMap<P2MEntry>
  /// The first root table.
  public let root: MFN

  public func loadDescriptor(at physicalAddress: UInt64) -> UInt64 {
    guard let tableIndex = leafTables[MFN(physicalAddress >> UInt64(pageShift))] else {
      return upper.loadDescriptor(at: physicalAddress)
    }
    let gfn = tableIndex << 9 | (physicalAddress & (pageSize - 1)) >> 3
    guard let entry = mappings[gfn] else { return 0 }
    // Every frame of the image was checked to fit when it was built.
    return XenDescriptor.leaf(frameAddress: entry.mfn.address, type: entry.type, level: 3, hardwareValid: entry.hardwareValid)
  }
}

/// The table frames an image of the p2m takes, in supply order, with the
/// checks both ``ReferenceP2M/materialize(tableFrames:)`` and
/// ``ReferenceP2M/tableImage(tableFrames:)`` make: each frame inside the PA
/// size and the 36-bit base field, none twice, the roots consecutive and
/// naturally aligned.
private struct TableFrameSupply<Frames: IteratorProtocol> where Frames.Element == MFN {
  var frames: Frames
  let ipaBits: Int
  var taken = Set<MFN>()

  init(frames: Frames, ipaBits: Int) {
    self.frames = frames
    self.ipaBits = ipaBits
  }

  mutating func take() throws(StageTwoError) -> MFN {
    guard let frame = frames.next() else { throw .tableFramesExhausted(needed: taken.count + 1) }
    guard frame.address >> UInt64(ipaBits) == 0, frame.rawValue >> 36 == 0 else { throw .frameOutOfRange(frame) }
    guard taken.insert(frame).inserted else { throw .duplicateTableFrame(frame) }
    return frame
  }

  /// The concatenated root tables, taken first; the first of them.
  mutating func roots(_ geometry: StageTwoGeometry) throws(StageTwoError) -> MFN {
    var roots: [MFN] = []
    for _ in 0..<geometry.concatenatedRootTables { roots.append(try take()) }
    let root = roots[0]
    let consecutive = roots.enumerated().allSatisfy { $1 == root.advanced(by: UInt64($0)) }
    guard consecutive, root.rawValue % UInt64(roots.count) == 0 else { throw .rootFramesNotConcatenable(roots) }
    return root
  }
}
