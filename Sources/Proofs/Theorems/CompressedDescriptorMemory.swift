import Spec
import SymbolicWord

/// Descriptor memory for proofs, built from a concrete ``FrameStore`` and
/// encoded as a decision over ranges instead of one Z3 `store` per entry.
///
/// A table page of a 2 MiB region laid out in 4K pages holds 512 leaves
/// that differ only by their output address, one page apart; an array of
/// 512 stores makes every symbolic load a 512-way case split. Here each
/// page is cut into runs of entries `first + i · step`, and a load is an
/// `ite` over the page and the run: the same memory, a formula a few
/// hundred times smaller. The encoding is checked against every entry of
/// the store when it is built, so it cannot say anything the store does
/// not.
struct CompressedDescriptorMemory: DescriptorMemory {
  struct Run {
    var firstIndex: UInt64
    var lastIndex: UInt64
    var firstDescriptor: UInt64
    var step: UInt64
  }

  let store: FrameStore
  let pages: [(frame: MFN, runs: [Run])]
  let zero: SymbolicWord

  init(_ store: FrameStore, zero: SymbolicWord) throws {
    self.store = store
    self.zero = zero
    var pages: [(frame: MFN, runs: [Run])] = []
    for frame in store.frames {
      let table = store.readTable(frame)
      var runs: [Run] = []
      var index = 0
      while index < table.count {
        let start = index
        let step = index + 1 < table.count ? table[index + 1] &- table[index] : 0
        while index + 1 < table.count && table[index + 1] &- table[index] == step { index += 1 }
        if !(table[start] == 0 && step == 0) {
          runs.append(Run(firstIndex: UInt64(start), lastIndex: UInt64(index), firstDescriptor: table[start], step: step))
        }
        index += 1
      }
      pages.append((frame, runs))
    }
    self.pages = pages
    try check()
  }

  func load(frame: MFN, index: UInt64) -> UInt64 {
    for page in pages where page.frame == frame {
      for run in page.runs where (run.firstIndex...run.lastIndex).contains(index) {
        return run.firstDescriptor &+ (index - run.firstIndex) &* run.step
      }
    }
    return 0
  }

  /// Every entry of every page reads back as the store holds it.
  func check() throws {
    for frame in store.frames {
      for (index, descriptor) in store.readTable(frame).enumerated() where load(frame: frame, index: UInt64(index)) != descriptor {
        throw MatrixError.platform("compressed memory disagrees at \(frame)[\(index)]")
      }
    }
  }

  func loadDescriptor(at physicalAddress: SymbolicWord) -> SymbolicWord {
    if let address = physicalAddress.knownValue {
      return zero.constant(store.loadDescriptor(at: address))
    }
    let frame = physicalAddress >> pageShift
    let index = (physicalAddress >> 3) & 0x1FF
    var value = zero
    for page in pages {
      var inPage = zero
      for run in page.runs {
        let inRun = index >= run.firstIndex && index <= run.lastIndex
        let entry = zero.constant(run.firstDescriptor) &+ ((index &- run.firstIndex) &* run.step)
        inPage = SymbolicWord.select(inRun, entry, inPage)
      }
      value = SymbolicWord.select(frame == page.frame.rawValue, inPage, value)
    }
    return value
  }
}
