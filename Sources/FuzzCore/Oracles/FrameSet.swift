import Spec

/// A set of frame numbers (GFNs) kept as runs, so that the GFNs a raw
/// 1 GiB update wrote cost one run instead of 262 144 members, for the
/// oracles' bookkeeping of what raw statements touched.
package struct FrameSet: Hashable, Sendable {
  /// A member's mark: every key of a run carries the same one.
  struct Member: RunValue {
    func advanced(by pages: UInt64) -> Member { self }
  }
  var members = RunMap<Member>()

  package init() {}

  /// Adds `count` frames from `start`.
  package mutating func insert(_ start: UInt64, count: UInt64 = 1) {
    guard count > 0 else { return }
    members.set(start, count: count, to: Member())
  }

  package func contains(_ frame: UInt64) -> Bool { members[frame] != nil }

  /// The parts of `range` not in the set, in ascending order.
  package func missing(from range: Range<UInt64>) -> [Range<UInt64>] {
    var gaps: [Range<UInt64>] = []
    var next = range.lowerBound
    for run in members.runs[members.firstRun(endingAfter: next)...] {
      guard run.start < range.upperBound else { break }
      if run.start > next { gaps.append(next..<run.start) }
      next = Swift.max(next, run.end)
      if next >= range.upperBound { break }
    }
    if next < range.upperBound { gaps.append(next..<range.upperBound) }
    return gaps
  }
}

extension FrameSet: ExpressibleByArrayLiteral {
  package init(arrayLiteral frames: UInt64...) {
    for frame in frames { insert(frame) }
  }
}
