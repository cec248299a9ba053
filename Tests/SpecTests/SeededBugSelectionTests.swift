import Spec
import Testing

/// The names a mutant build is told its seeded bugs by
/// (`DMAVERIFY_SEEDED_BUGS`, `scripts/mutation-score`,
/// `scripts/fuzz-detect`): every bug is reachable by its name, and a name
/// that is not a bug is refused with the list, never ignored.
@Suite("Seeded bugs: selection by name")
struct SeededBugSelectionTests {
  @Test("every bug's name selects it, alone and all together")
  func names() throws {
    for bug in SeededBug.allCases {
      #expect(try SeededBugs.parse(bug.rawValue).get().bugs == [bug])
    }
    let all = SeededBug.allCases.map(\.rawValue).joined(separator: ", ")
    #expect(try SeededBugs.parse(all).get().bugs == SeededBug.allCases)
    #expect(try SeededBugs.parse("").get().bugs.isEmpty)
    #expect(Set(SeededBug.allCases.map(\.rawValue)).count == SeededBug.allCases.count)
    #expect(SeededBug.allCases.count <= 64, "one bit per bug")
  }

  @Test("an unknown or empty name is refused, naming it and the bugs there are")
  func refused() {
    guard case .failure(let error) = SeededBugs.parse("iotlb-never-flushed,no-such-bug") else {
      Issue.record("accepted an unknown name")
      return
    }
    #expect(error.description.hasPrefix("unknown seeded bug 'no-such-bug'; expected names separated by commas, from: grant-no-one-to-one-entry, "))
    guard case .failure(let empty) = SeededBugs.parse("iotlb-never-flushed,,free-before-iotlb-flush") else {
      Issue.record("accepted an empty name")
      return
    }
    #expect(empty.description.hasPrefix("an empty name"))
  }

  @Test("inject seeds exactly the bugs given, for its body only, and nests")
  func inject() {
    #expect(!SeededBug.iotlbNeverFlushed.isActive)
    SeededBug.iotlbNeverFlushed.inject {
      #expect(SeededBug.iotlbNeverFlushed.isActive)
      #expect(!SeededBug.freeBeforeIOTLBFlush.isActive)
      SeededBug.inject([]) { #expect(!SeededBug.iotlbNeverFlushed.isActive) }
    }
    #expect(!SeededBug.iotlbNeverFlushed.isActive)
  }
}
