import P2MImpl
import Spec
import Testing

/// Seeded random sequences of map, unmap and replace, applied to the
/// optimized p2m and to the spec; after every step each touched GFN (and
/// random others) must look up the same through `p2m_get_entry()`, the
/// architectural walk, the TLB, and the spec's map.
@Suite("Differential: XenP2M against ReferenceP2M (seeded)")
struct DifferentialTests {
  /// How a run picks frames and types.
  enum Layout: String, CaseIterable, CustomStringConvertible {
    /// Direct-mapped dom0: MFN = GFN, RAM (§2.3); blocks wherever aligned.
    case identity
    /// LLC-coloured dom0: contiguous GFNs, scattered MFNs (§5), so most
    /// chunks degrade to 4K; some MFNs are block-aligned by chance.
    case coloured
    /// Foreign and grant pages, 4K each, over RAM (§2.1, §2.4).
    case foreign
    var description: String { rawValue }
  }

  static let cases: [(seed: UInt64, ipaBits: Int, layout: Layout)] = [40, 48].flatMap { bits in
    Layout.allCases.flatMap { layout in
      [UInt64(0x5EED_0001), 0xC0FF_EE00_0042].map { ($0 ^ UInt64(bits) ^ UInt64(layout.rawValue.count), bits, layout) }
    }
  }

  @Test("every step agrees with the spec through tables, walk and TLB", arguments: cases)
  func randomSequence(seed: UInt64, ipaBits: Int, layout: Layout) throws {
    var random = SplitMix64(seed: seed)
    var p2m = try makeP2M(ipaBits: ipaBits, poolPages: 600)
    var spec = ReferenceP2M(ipaBits: ipaBits)
    let limit = spec.gfnLimit
    // A 4 GiB window starting 1 GiB-aligned, so 1G, 2M and 4K chunks all occur.
    let window = (random.next() % (limit >> 18 - 4)) << 18
    var touched: [GFN] = []
    var failures = 0
    let ramTypes: [P2MType] = [.ramRW, .ramRO, .mmioDirectDev, .iommuMapRW]
    let foreignTypes: [P2MType] = [.mapForeignRW, .mapForeignRO, .grantMapRW, .grantMapRO, .iommuMapRO]

    func pick<T>(_ items: [T]) -> T { items[Int(random.next() % UInt64(items.count))] }

    for step in 0..<120 {
      let note = "seed \(hex(seed)) \(ipaBits)-bit \(layout) step \(step)"
      let shape = random.next() % 16
      var gfn: UInt64
      var count: UInt64
      switch shape {
      case 0: (gfn, count) = (window + (random.next() % 4) << 18, 1 << 18)  // 1 GiB aligned
      case 1...4: (gfn, count) = (window + (random.next() % 2048) << 9, 512)  // 2 MiB aligned
      case 5: (gfn, count) = (window + (random.next() % 2048) << 9, 513)  // unaligned by one page
      case 6: (gfn, count) = (limit - 1 - random.next() % 4, 1 + random.next() % 8)  // may straddle the end
      default: (gfn, count) = (window + random.next() % (1 << 20), 1 + random.next() % 4)
      }
      if gfn + count > window + (4 << 18), shape != 6 { gfn = window + (gfn - window) % ((4 << 18) - count) }
      let removing = random.next() % 4 == 0
      let mfn: MFN
      let type: P2MType
      switch layout {
      case .identity:
        // Near the end of a 48-bit space the MFN would overflow the base field.
        (mfn, type) = (MFN(shape == 6 ? gfn % (limit / 2) : gfn), pick(ramTypes))
      case .coloured:
        let scattered = random.next() % (limit - count)
        // Scattered 4K frames, except that a 1 GiB request gets an aligned
        // run (otherwise it needs 512 L3 tables) and one in three is 2 MiB aligned.
        mfn = MFN(shape == 0 ? scattered & ~(UInt64(1) << 18 - 1) : random.next() % 3 == 0 ? scattered & ~UInt64(511) : scattered)
        type = pick(ramTypes)
      case .foreign:
        if shape != 6 { count = shape < 5 ? 1 : 1 + random.next() % 3 }
        mfn = MFN(random.next() % (limit - count))
        type = pick(foreignTypes + [.ramRW])
      }
      var succeeded = true
      let request = removing ? "unmap \(GFN(gfn))+\(count)" : "map \(GFN(gfn))+\(count) → \(mfn) \(type)"
      do throws(XenP2MError) {
        if removing { try p2m.unmap(GFN(gfn), count: count) } else { try p2m.map(GFN(gfn), count: count, to: mfn, type: type) }
      } catch {
        // Xen stops at the failing chunk with the chunks before it applied.
        let done = error.completedPages
        switch error {
        case .gfnOutOfRange, .tableAllocationFailed, .splitAllocationFailed: break
        default: Issue.record("\(note): \(request) failed with \(error)")
        }
        if case .gfnOutOfRange = error {
          #expect(throws: P2MError.self, "\(note): the spec refuses \(request) too") {
            removing ? try spec.unmap(GFN(gfn), count: count) : try spec.map(GFN(gfn), count: count, to: mfn, type: type)
          }
        }
        if done > 0 {
          if removing { try spec.unmap(GFN(gfn), count: done) } else { try spec.map(GFN(gfn), count: done, to: mfn, type: type) }
        }
        failures += 1
        succeeded = false
      }
      if succeeded {
        if removing { try spec.unmap(GFN(gfn), count: count) } else { try spec.map(GFN(gfn), count: count, to: mfn, type: type) }
      }
      for probe in [gfn, gfn + count / 2, gfn + count - 1, gfn + count, max(gfn, 1) - 1] where probe < limit {
        touched.append(GFN(probe))
      }
      for page in touched { expectAgrees(&p2m, spec, gfn: page, "\(note) after \(request)") }
      for _ in 0..<8 {
        expectAgrees(&p2m, spec, gfn: GFN(window + random.next() % (4 << 18)), "\(note) random probe after \(request)")
      }
      #expect(p2m.maxMappedGFN == spec.maxMappedGFN, "\(note)")
      #expect(p2m.lowestMappedGFN == spec.lowestMappedGFN, "\(note)")
      if step % 20 == 19 { expectNoViolations(p2m, note) }
    }
    expectNoViolations(p2m, "seed \(hex(seed)) end")
    #expect(!spec.entries.isEmpty, "seed \(hex(seed)): the run mapped something")
    #expect(failures < 40, "seed \(hex(seed)): most requests succeed (\(failures) failed)")
  }
}
