import Claims
import Spec

/// Frames as runs of one colour with the colour's stride, for a compact
/// "one of these frames" condition.
struct ColourRuns {
  var runs: [(first: UInt64, last: UInt64)] = []
  init(_ frames: some Sequence<UInt64>, colourCount: UInt64) {
    var byColour: [UInt64: [UInt64]] = [:]
    for frame in frames { byColour[frame & (colourCount - 1), default: []].append(frame) }
    for colour in byColour.keys.sorted() {
      let sorted = byColour[colour]!.sorted()
      var first = sorted[0]
      var last = first
      for frame in sorted.dropFirst() {
        if frame == last + colourCount {
          last = frame
        } else {
          runs.append((first, last))
          first = frame
          last = frame
        }
      }
      runs.append((first, last))
    }
  }
}
