import Spec
import Testing

/// A value that advances like a p2m entry's frame, with a tag that does not.
private struct Tagged: RunValue {
  var frame: UInt64
  var tag: UInt8
  func advanced(by pages: UInt64) -> Tagged { Tagged(frame: frame &+ pages, tag: tag) }
}

@Suite("Run maps: a frame map kept as runs")
struct RunMapTests {
  /// Random sets, clears and transforms over a small key space, checked
  /// after each step against a dictionary doing the same page by page; the
  /// runs stay sorted, disjoint and maximal, so equal meanings compare equal.
  @Test("every operation means what the page-by-page dictionary does (seeded)", arguments: [1, 2, 3, 4] as [UInt64])
  func agreesWithDictionary(seed: UInt64) {
    var random = SplitMix64(seed: seed)
    var map = RunMap<Tagged>()
    var model: [UInt64: Tagged] = [:]
    for _ in 0..<200 {
      let start = random.next() % 256
      let count = 1 + random.next() % 24
      switch random.next() % 8 {
      case 0:
        map.set(start, count: count, to: nil)
        for key in start..<(start + count) { model[key] = nil }
      case 1:
        let tag = UInt8(random.next() % 2)
        map.transformValues { Tagged(frame: $0.frame, tag: tag) }
        for key in model.keys { model[key]!.tag = tag }
      default:
        // Frames often continue a neighbour's, so runs merge.
        let value = Tagged(frame: random.next() % 2 == 0 ? start : random.next() % 1024, tag: UInt8(random.next() % 2))
        map.set(start, count: count, to: value)
        for key in start..<(start + count) { model[key] = value.advanced(by: key - start) }
      }
      for key in 0..<300 as Range<UInt64> { #expect(map[key] == model[key], "seed \(seed) key \(key)") }
      #expect(map.count == UInt64(model.count))
      let runs = map.runs
      for (left, right) in zip(runs, runs.dropFirst()) {
        #expect(left.end <= right.start, "sorted and disjoint")
        #expect(!(left.end == right.start && left.value(at: right.start) == right.first), "maximal")
      }
      var rebuilt = RunMap<Tagged>()
      for key in model.keys.sorted() { rebuilt.set(key, count: 1, to: model[key]) }
      #expect(rebuilt == map, "equal meaning, equal runs")
    }
  }

  @Test("inserting disjoint runs in one merge equals setting them one by one")
  func insertDisjoint() {
    var random = SplitMix64(seed: 42)
    var map = RunMap<Tagged>()
    for key in stride(from: 0 as UInt64, to: 512, by: 3) { map.set(key, count: 1, to: Tagged(frame: key, tag: 0)) }
    var bySetting = map
    var added: [RunMap<Tagged>.Run] = []
    for key in stride(from: 1 as UInt64, to: 512, by: 3) where random.next() % 3 != 0 {
      added.append(.init(start: key, count: 1, first: Tagged(frame: key, tag: 0)))
      bySetting.set(key, count: 1, to: Tagged(frame: key, tag: 0))
    }
    map.insert(disjoint: added)
    #expect(map == bySetting)
  }

  @Test("a large bank is one run")
  func largeBankIsOneRun() {
    var map = RunMap<Tagged>()
    map.set(0x4_0000, count: 1 << 26, to: Tagged(frame: 0x4_0000, tag: 0))
    #expect(map.runs.count == 1)
    #expect(map[0x4_0000 + (1 << 25)] == Tagged(frame: 0x4_0000 + (1 << 25), tag: 0))
    map.set(0x4_0000 + 5, count: 1, to: Tagged(frame: 7, tag: 1))
    #expect(map.runs.count == 3)
    map.set(0x4_0000 + 5, count: 1, to: Tagged(frame: 0x4_0000 + 5, tag: 0))
    #expect(map.runs.count == 1, "restoring the page merges the run again")
  }
}
