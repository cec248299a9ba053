/// A value a ``RunMap`` stores for a run of consecutive keys: the value of
/// the run's first key, from which every later key's value follows.
///
/// A p2m entry advances its MFN with the GFN (a direct-mapped bank is one
/// run, however large); an owner stays the same over a range of frames.
public protocol RunValue: Hashable, Sendable {
  /// The value `pages` keys further on in the same run.
  func advanced(by pages: UInt64) -> Self
}

/// A partial map from 64-bit keys (frame numbers) to values, stored as
/// maximal runs of consecutive keys whose values follow one another
/// (``RunValue/advanced(by:)``).
///
/// Its meaning is the map key → value; the runs are only how it is kept, so
/// that a 64 GiB bank costs one run instead of sixteen million entries.
/// Runs are always maximal (two adjacent runs never continue one another),
/// so two maps with the same meaning have the same runs and the
/// synthesized equality is equality of meaning. `RunMapTests` checks every
/// operation against a dictionary.
public struct RunMap<Value: RunValue>: Hashable, Sendable {
  /// `count` keys from `start`; key `start + i` has `first.advanced(by: i)`.
  public struct Run: Hashable, Sendable {
    public var start: UInt64
    public var count: UInt64
    public var first: Value
    public init(start: UInt64, count: UInt64, first: Value) {
      self.start = start
      self.count = count
      self.first = first
    }
    /// One past the last key (keys are frame numbers, far below 2^64).
    public var end: UInt64 { start &+ count }
    public func value(at key: UInt64) -> Value { first.advanced(by: key &- start) }
  }

  /// The runs in ascending key order, disjoint and maximal.
  public private(set) var runs: [Run] = []

  public init() {}

  /// Whether no key is mapped.
  public var isEmpty: Bool { runs.isEmpty }

  /// How many keys are mapped.
  public var count: UInt64 { runs.reduce(0) { $0 &+ $1.count } }

  /// The index of the first run that ends after `key`.
  package func firstRun(endingAfter key: UInt64) -> Int {
    var low = 0
    var high = runs.count
    while low < high {
      let middle = (low + high) / 2
      if runs[middle].end > key { high = middle } else { low = middle + 1 }
    }
    return low
  }

  /// The value at `key`, if it is mapped.
  public subscript(key: UInt64) -> Value? {
    let index = firstRun(endingAfter: key)
    guard index < runs.count, runs[index].start <= key else { return nil }
    return runs[index].value(at: key)
  }

  /// Maps `count` keys from `start` to `first`, `first.advanced(by: 1)`, …,
  /// or unmaps them when `first` is nil, replacing whatever was there.
  /// - Precondition: `start + count` does not pass 2^64.
  public mutating func set(_ start: UInt64, count: UInt64, to first: Value?) {
    guard count > 0 else { return }
    // Past every run: what building memory in ascending order does.
    if let first, runs.last.map({ $0.end <= start }) ?? true {
      if let last = runs.last, last.end == start, last.value(at: start) == first {
        runs[runs.count - 1].count += count
      } else {
        runs.append(Run(start: start, count: count, first: first))
      }
      return
    }
    let end = start + count
    let lower = firstRun(endingAfter: start)
    var upper = lower
    var pieces: [Run] = []
    if lower < runs.count, runs[lower].start < start {
      pieces.append(Run(start: runs[lower].start, count: start - runs[lower].start, first: runs[lower].first))
    }
    if let first { pieces.append(Run(start: start, count: count, first: first)) }
    while upper < runs.count, runs[upper].start < end { upper += 1 }
    if upper > lower, runs[upper - 1].end > end {
      let last = runs[upper - 1]
      pieces.append(Run(start: end, count: last.end - end, first: last.value(at: end)))
    }
    runs.replaceSubrange(lower..<upper, with: pieces)
    coalesce(from: max(lower - 1, 0), through: lower + pieces.count)
  }

  /// Adds runs, ascending and disjoint, over keys that are not mapped: one
  /// merge of two sorted lists, where setting them one by one would shift
  /// the array once per run.
  /// - Precondition: no key of `added` is mapped.
  public mutating func insert(disjoint added: [Run]) {
    var merged: [Run] = []
    merged.reserveCapacity(runs.count + added.count)
    var (i, j) = (0, 0)
    while i < runs.count || j < added.count {
      let run: Run
      if j == added.count || (i < runs.count && runs[i].start < added[j].start) {
        run = runs[i]
        i += 1
      } else {
        run = added[j]
        j += 1
      }
      if let left = merged.last {
        precondition(left.end <= run.start, "inserted runs overlap mapped keys")
        if left.end == run.start, left.value(at: run.start) == run.first {
          merged[merged.count - 1].count += run.count
          continue
        }
      }
      merged.append(run)
    }
    runs = merged
  }

  /// Replaces every value by `transform` of it. The transform must commute
  /// with ``RunValue/advanced(by:)`` (it may not touch what advances), so
  /// that it can be applied a run at a time.
  public mutating func transformValues(_ transform: (Value) -> Value) {
    var merged: [Run] = []
    merged.reserveCapacity(runs.count)
    for var run in runs {
      run.first = transform(run.first)
      if let left = merged.last, left.end == run.start, left.value(at: run.start) == run.first {
        merged[merged.count - 1].count += run.count
      } else {
        merged.append(run)
      }
    }
    runs = merged
  }

  /// Every mapping, ascending by key: one element per key, so only for
  /// maps known to be small.
  public var elements: some Sequence<(key: UInt64, value: Value)> {
    runs.lazy.flatMap { run in (0..<run.count).lazy.map { (key: run.start &+ $0, value: run.first.advanced(by: $0)) } }
  }

  /// Merges adjacent runs that continue one another among the runs at
  /// indices `from...through` (clamped), keeping the runs maximal.
  private mutating func coalesce(from: Int, through: Int) {
    var index = max(from, 0)
    var last = min(through, runs.count - 1)
    while index < last {
      let left = runs[index]
      let right = runs[index + 1]
      if left.end == right.start && left.value(at: right.start) == right.first {
        runs[index].count += right.count
        runs.remove(at: index + 1)
        last -= 1
      } else {
        index += 1
      }
    }
  }
}
