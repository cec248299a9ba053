import Foundation
import Scenario
import Spec
import Testing

@testable import DeviceTree

/// A seeded random-mutation fuzzer over the fixtures: the reader, the
/// extraction and the scenario bridge must either succeed or throw an error
/// whose offset lies inside the blob — never trap.
@Suite("DTB reader: fuzzing")
struct FuzzTests {
  /// One mutant: 1–8 random byte changes, half of them confined to the
  /// structure and strings blocks so that the header stays plausible and
  /// the tree walk is exercised; sometimes a word is set to a token value.
  static func mutate(_ blob: [UInt8], random: inout SplitMix64) -> [UInt8] {
    var mutant = blob
    let structureStart = Int(blob.word(at: 0x8))
    let changes = Int.random(in: 1...8, using: &random)
    for _ in 0..<changes {
      let body = Bool.random(using: &random)
      guard !mutant.isEmpty else { break }
      let range = body && structureStart < mutant.count ? structureStart..<mutant.count : 0..<mutant.count
      let index = Int.random(in: range, using: &random)
      switch Int.random(in: 0..<4, using: &random) {
      case 0: mutant[index] ^= UInt8(1 << Int.random(in: 0..<8, using: &random))
      case 1: mutant[index] = UInt8.random(in: 0...255, using: &random)
      case 2 where index & ~3 + 4 <= mutant.count:
        mutant.setWord([1, 2, 3, 4, 9, 0, 0xffff_ffff].randomElement(using: &random) ?? 4, at: index & ~3)
      default:
        if Bool.random(using: &random) { mutant.removeLast(Int.random(in: 0...min(16, mutant.count), using: &random)) }
        else { mutant[index] = 0 }
      }
    }
    return mutant
  }

  @Test("20,000 seeded mutants of the fixtures: no trap, every error offset inside the blob (time-boxed)")
  func mutants() throws {
    var random = SplitMix64(seed: 0xD7B_F022)
    let blobs = try Fixtures.boards.map(Fixtures.blob)
    let deadline = Date().addingTimeInterval(20)
    var parsed = 0
    var rejected = 0
    var run = 0
    for iteration in 0..<20_000 {
      guard Date() < deadline else { break }
      run = iteration + 1
      let original = blobs[iteration % blobs.count]
      let mutant = Self.mutate(original, random: &random)
      do {
        let tree = try FlattenedDeviceTree(bytes: mutant)
        parsed += 1
        // A tree that reads must also extract and bridge without trapping.
        if let platform = try? Platform(tree: tree) {
          // A board that bridges writes a scenario that reads back to the
          // same statements, whatever bytes its names and strings hold.
          let model = tree.root.property("model").flatMap { try? $0.string() }
          if let written = try? platform.scenario(ScenarioOptions(dom0: .coloured(colours: [0, 1]), xen: .v4_20), name: model ?? "mutant") {
            let parsed = try? ScenarioParser.parse(written.text)
            #expect(parsed?.statements.map(\.kind) == written.scenario.statements.map(\.kind), "mutant \(iteration)")
            #expect(parsed?.name == written.scenario.name, "mutant \(iteration)")
          }
          _ = platform.unsafeDevices
        }
      } catch {
        rejected += 1
        if let offset = error.offset {
          #expect(offset >= 0 && offset <= mutant.count, "mutant \(iteration): \(error)")
        }
        #expect(!error.message.isEmpty)
      }
    }
    print("DTB fuzz: \(run) mutants, \(parsed) parsed, \(rejected) rejected")
    // Both outcomes occur, so the mutator reaches past the header checks.
    #expect(parsed > 100, "only \(parsed) of \(run) mutants parsed")
    #expect(rejected > 100, "only \(rejected) of \(run) mutants were rejected")
    #expect(run >= 5_000, "only \(run) mutants ran in the time box")
  }

  @Test("random byte strings behind a valid header never trap")
  func randomBodies() {
    var random = SplitMix64(seed: 42)
    for _ in 0..<2_000 {
      let length = Int.random(in: 0x48...400, using: &random)
      var blob = (0..<length).map { _ in UInt8.random(in: 0...255, using: &random) }
      blob.setWord(FlattenedDeviceTree.magic, at: 0)
      blob.setWord(UInt32(length), at: 4)
      blob.setWord(0x38, at: 8)
      blob.setWord(UInt32(length - 16), at: 0xc)
      blob.setWord(0x28, at: 0x10)
      blob.setWord(17, at: 0x14)
      blob.setWord(16, at: 0x18)
      blob.setWord(16, at: 0x20)
      blob.setWord(UInt32(max(0, length - 16 - 0x38)), at: 0x24)
      blob.setWord(0, at: 0x28)
      blob.setWord(0, at: 0x2c)
      blob.setWord(0, at: 0x30)
      blob.setWord(0, at: 0x34)
      if let error = readErrorQuietly(blob), let offset = error.offset {
        #expect(offset <= blob.count)
      }
    }
  }

  func readErrorQuietly(_ blob: [UInt8]) -> DeviceTreeError? {
    do {
      _ = try FlattenedDeviceTree(bytes: blob)
      return nil
    } catch {
      return error
    }
  }
}
