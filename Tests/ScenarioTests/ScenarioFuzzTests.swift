import Foundation
import Scenario
import Spec
import Testing
import TestSupport

/// A seeded, time-boxed mutation run over the scenario parser and runner,
/// from the committed stories and seeds: every mutant must read as a
/// scenario and run, or be refused with a ``ScenarioError`` that names a
/// line of the file — never trap (a trap ends the test process, so the
/// mutant being tried is kept in a file to reproduce it; a mutant that
/// traps becomes a test of its own in ScenarioParserTests or
/// ScenarioRunnerTests, with the fix).
@Suite("Scenario parser and runner: fuzzing")
struct ScenarioFuzzTests {

  static func seeds() throws -> [[UInt8]] {
    var seeds: [[UInt8]] = []
    for directory in ["corpus/scenarios", "corpus/fuzz-seeds", "corpus/regressions"] {
      let url = repository.appendingPathComponent(directory)
      guard let names = try? FileManager.default.contentsOfDirectory(atPath: url.path) else { continue }
      for name in names.sorted() where name.hasSuffix(".scn") {
        seeds.append([UInt8](try Data(contentsOf: url.appendingPathComponent(name))))
      }
    }
    return seeds
  }

  /// Numbers that sit on the edges the parser and runner must check.
  static let edgeValues = [
    "0", "1", "0x0", "0xfff", "0x1000", "0xffffffffffffffff", "0xfffffffffffff000", "18446744073709551616",
    "9223372036854775808", "-1", "4K", "2M", "1G", "16E", "0x", "1e3", "nan", "64", "65", "48", "0-15", "15-0", "0,0", "99-100",
  ]
  /// Bytes that make text odd: NUL, CR, a stray continuation byte, an
  /// escape, a quote, a comment sign.
  static let oddBytes: [[UInt8]] = [[0], [0x0d], [0x80], [0xc3], [0x1b], [0x22], [0x23], [0x0a], [0x20], [0xef, 0xbb, 0xbf]]

  static func mutate(_ seed: [UInt8], donor: [UInt8], random: inout SplitMix64) -> [UInt8] {
    var lines = seed.split(separator: 0x0a, omittingEmptySubsequences: false).map(Array.init)
    let donorLines = donor.split(separator: 0x0a, omittingEmptySubsequences: false).map(Array.init)
    for _ in 0..<Int.random(in: 1...4, using: &random) {
      guard !lines.isEmpty else { lines = [[]]; continue }
      let index = Int.random(in: 0..<lines.count, using: &random)
      switch Int.random(in: 0..<8, using: &random) {
      case 0: lines.remove(at: index)
      case 1: lines.insert(lines[index], at: index)
      case 2: lines.swapAt(index, Int.random(in: 0..<lines.count, using: &random))
      case 3: lines.insert(donorLines.randomElement(using: &random) ?? [], at: index)
      case 4, 5:
        // A word replaced by an edge value or another line's word.
        var words = lines[index].split(separator: 0x20, omittingEmptySubsequences: false).map(Array.init)
        guard !words.isEmpty else { continue }
        let word = Int.random(in: 0..<words.count, using: &random)
        if Bool.random(using: &random) {
          words[word] = Array((edgeValues.randomElement(using: &random) ?? "0").utf8)
        } else {
          let other = (donorLines.randomElement(using: &random) ?? []).split(separator: 0x20).map(Array.init)
          words[word] = other.randomElement(using: &random) ?? []
        }
        lines[index] = Array(words.joined(separator: [0x20]))
      case 6:
        let position = Int.random(in: 0...lines[index].count, using: &random)
        lines[index].insert(contentsOf: oddBytes.randomElement(using: &random) ?? [0], at: position)
      default:
        guard !lines[index].isEmpty else { continue }
        let position = Int.random(in: 0..<lines[index].count, using: &random)
        if Bool.random(using: &random) { lines[index][position] ^= UInt8(1 << Int.random(in: 0..<8, using: &random)) }
        else { lines[index].removeSubrange(position..<min(lines[index].count, position + Int.random(in: 1...8, using: &random))) }
      }
    }
    return Array(lines.joined(separator: [0x0a]))
  }

  /// Memory the runner would have to build: the run is skipped (parsing
  /// still checked) above 1 GiB, which bounds the time of one mutant.
  static func memory(_ scenario: Scenario) -> UInt64 {
    var total: UInt64 = 0
    func add(_ size: UInt64) { total = total.addingReportingOverflow(size).overflow ? .max : total + size }
    for statement in scenario.statements {
      switch statement.kind {
      case .ram(_, let size), .dom0(_, let size), .swiotlbPool(_, let size): add(size)
      case .domU(let domain):
        switch domain.memory {
        case .at(_, let size): add(size)
        case .coloured(_, let pages): add(pages.multipliedReportingOverflow(by: 4096).overflow ? .max : pages * 4096)
        }
      default: continue
      }
    }
    return total
  }

  @Test("seeded mutants of the stories: a scenario and a report, or a ScenarioError naming a line of the file (time-boxed)")
  func mutants() throws {
    let seeds = try Self.seeds()
    #expect(seeds.count >= 10)
    var random = SplitMix64(seed: 0x5C3_F022)
    let current = FileManager.default.temporaryDirectory.appendingPathComponent("dmaverify-scenario-fuzz-current.scn")
    let deadline = Date().addingTimeInterval(15)
    var ran = 0, refused = 0, rejected = 0, skipped = 0, tried = 0
    var slowest = 0.0
    while Date() < deadline && tried < 50_000 {
      let seed = seeds[tried % seeds.count]
      let mutant = Self.mutate(seed, donor: seeds.randomElement(using: &random) ?? seed, random: &random)
      tried += 1
      // Kept until the next one: if this traps, the file reproduces it.
      try? Data(mutant).write(to: current)
      let lineCount = mutant.split(separator: 0x0a, omittingEmptySubsequences: false).count
      do {
        let scenario = try ScenarioParser.parse(try ScenarioParser.text(mutant, file: "m.scn"), file: "m.scn")
        guard Self.memory(scenario) <= 1 << 30 else {
          skipped += 1
          continue
        }
        let start = Date()
        let report = try ScenarioRunner.run(scenario, file: "m.scn")
        slowest = max(slowest, Date().timeIntervalSince(start))
        ran += 1
        if !report.refusedSteps.isEmpty { refused += 1 }
        #expect(report.steps.count <= scenario.statements.count)
      } catch {
        rejected += 1
        #expect(!error.message.isEmpty)
        if let location = error.location {
          #expect(location.line >= 1 && location.line <= lineCount, "mutant \(tried): \(error)")
        }
      }
    }
    try? FileManager.default.removeItem(at: current)
    print("scenario fuzz: \(tried) mutants, \(ran) ran (\(refused) with a refused step), \(rejected) rejected, \(skipped) over 1 GiB parsed only; slowest run \(String(format: "%.2f", slowest)) s")
    // Both outcomes occur, so mutants get past the parser into the runner.
    #expect(ran > 100, "only \(ran) of \(tried) mutants ran")
    #expect(rejected > 100, "only \(rejected) of \(tried) mutants were rejected")
  }
}
