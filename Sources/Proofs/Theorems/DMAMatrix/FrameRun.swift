import Claims
import Spec

/// Frames `[start, end)`. Bounds rather than a size, so that membership
/// is two comparisons and no addition for the solver.
struct FrameRun<W: Word> {
  var start: W
  var end: W
  init(start: W, end: W) {
    self.start = start
    self.end = end
  }
  init(start: W, pages: W) { self.init(start: start, end: start &+ pages) }
  var pages: W { end &- start }
  var isEmpty: W.Condition { end <= start }
  func contains(_ frame: W) -> W.Condition { frame >= start && frame < end }
  /// No frame of `self` is one of `other`'s (either may be empty).
  func isDisjoint(from other: FrameRun<W>) -> W.Condition {
    isEmpty || other.isEmpty || end <= other.start || other.end <= start
  }
  /// Every frame of `self` is one of `other`'s.
  func isInside(_ other: FrameRun<W>) -> W.Condition { start >= other.start && start <= end && end <= other.end }
}
