import Spec

/// A bounded, seeded, in-process mutational search over fuzz inputs: what
/// libFuzzer does without its coverage feedback, so that tests can show a
/// seeded bug is found from the committed corpus with no fuzzing
/// toolchain.
///
/// Mutations keep to the input's structure (two configuration bytes, then
/// three-byte records): change a byte, insert, delete or duplicate a
/// record, splice in records of another input, or flip a configuration
/// bit; one to four at a time.
package struct MutationSearch {
  let checker: ScenarioChecker
  var random: SplitMix64

  package init(checker: ScenarioChecker, seed: UInt64) {
    self.checker = checker
    random = SplitMix64(seed: seed)
  }

  package struct Finding: Sendable {
    package var input: [UInt8]
    package var result: CheckResult
    /// Inputs checked up to and including this one.
    package var runs: Int
  }

  /// Checks the corpus, then mutants of it, until a property fails (one
  /// that `wanted` accepts, when given: a test looking for one seeded bug
  /// goes on past failures it is not about) or `maximumRuns` inputs have
  /// been checked.
  package mutating func run(corpus: [[UInt8]], maximumRuns: Int, wanted: (FuzzFailure) -> Bool = { _ in true }) -> Finding? {
    var runs = 0
    for input in corpus where runs < maximumRuns {
      runs += 1
      let result = checker.check(bytes: input)
      if let failure = result.failure, wanted(failure) { return Finding(input: input, result: result, runs: runs) }
    }
    let seeds = corpus.isEmpty ? [[UInt8]()] : corpus
    while runs < maximumRuns {
      var input = seeds[Int(random.next() % UInt64(seeds.count))]
      for _ in 0...(random.next() % 4) { mutate(&input, seeds: seeds) }
      runs += 1
      let result = checker.check(bytes: input)
      if let failure = result.failure, wanted(failure) { return Finding(input: input, result: result, runs: runs) }
    }
    return nil
  }

  mutating func mutate(_ input: inout [UInt8], seeds: [[UInt8]]) {
    while input.count < 2 { input.append(0) }
    let records = (input.count - 2) / FuzzDecoder.recordSize
    func recordStart(_ index: Int) -> Int { 2 + index * FuzzDecoder.recordSize }
    func randomRecord() -> [UInt8] { (0..<FuzzDecoder.recordSize).map { _ in UInt8(truncatingIfNeeded: random.next()) } }
    switch random.next() % 6 {
    case 0 where input.count > 2:
      input[2 + Int(random.next() % UInt64(input.count - 2))] = UInt8(truncatingIfNeeded: random.next())
    case 1:
      let at = recordStart(Int(random.next() % UInt64(records + 1)))
      input.insert(contentsOf: randomRecord(), at: min(at, input.count))
    case 2 where records > 0:
      let at = recordStart(Int(random.next() % UInt64(records)))
      input.removeSubrange(at..<min(at + FuzzDecoder.recordSize, input.count))
    case 3 where records > 0:
      let at = recordStart(Int(random.next() % UInt64(records)))
      let record = Array(input[at..<min(at + FuzzDecoder.recordSize, input.count)])
      input.insert(contentsOf: record, at: recordStart(Int(random.next() % UInt64(records + 1))))
    case 4:
      let other = seeds[Int(random.next() % UInt64(seeds.count))]
      guard other.count > 2 else { return }
      let otherRecords = (other.count - 2) / FuzzDecoder.recordSize
      guard otherRecords > 0 else { return }
      let start = Int(random.next() % UInt64(otherRecords))
      let length = 1 + Int(random.next() % UInt64(min(4, otherRecords - start)))
      let slice = other[recordStart(start)..<min(recordStart(start + length), other.count)]
      input.insert(contentsOf: slice, at: min(recordStart(Int(random.next() % UInt64(records + 1))), input.count))
    default:
      input[Int(random.next() % 2)] ^= UInt8(1) << UInt8(random.next() % 8)
    }
  }
}
