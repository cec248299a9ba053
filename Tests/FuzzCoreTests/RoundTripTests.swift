import FuzzCore
import Foundation
import Scenario
import Spec
import Testing
import TestSupport

/// Converters both ways: bytes → scenario → bytes →
/// scenario is the identity on scenarios, and the text form round-trips.
@Suite("Round trip")
struct RoundTripTests {
  @Test("decode → encode → decode is identical (600 seeded inputs)")
  func bytesRoundTrip() throws {
    var random = SplitMix64(seed: 0xF022_0101)
    for index in 0..<600 {
      let input = randomInput(&random, records: Int(random.next() % 20))
      let scenario = FuzzDecoder.decode(input)
      let bytes = try FuzzEncoder.encode(scenario)
      #expect(FuzzDecoder.decode(bytes) == scenario, "input \(index) (seed 0xF0220101)")
      let again = try FuzzEncoder.encode(FuzzDecoder.decode(bytes))
      #expect(again == bytes, "canonical bytes are a fixed point")
    }
  }

  @Test("a decoded scenario survives printing and parsing, then encodes to the same bytes")
  func textRoundTrip() throws {
    var random = SplitMix64(seed: 0xF022_0102)
    for _ in 0..<200 {
      let scenario = FuzzDecoder.decode(randomInput(&random, records: 12))
      let parsed = try ScenarioParser.parse(ScenarioPrinter.print(scenario))
      #expect(parsed == scenario)
      let fromText = try FuzzEncoder.encode(parsed)
      #expect(fromText == (try FuzzEncoder.encode(scenario)))
    }
  }

  @Test("every committed seed scenario encodes to the committed seed bytes")
  func committedSeeds() throws {
    let directory = repository.appendingPathComponent("corpus/fuzz-seeds")
    let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".scn") }.sorted()
    #expect(names.count >= 8)
    for name in names {
      let text = try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
      let bytes = try FuzzEncoder.encode(try ScenarioParser.parse(text, file: name))
      let committed = try Data(contentsOf: repository.appendingPathComponent("corpus/fuzz/\(name.dropLast(4))"))
      #expect(bytes == [UInt8](committed), "corpus/fuzz/\(name.dropLast(4)) is out of date: dmaverify convert it again")
    }
  }

  @Test("handle names are free: a human scenario's handles encode by position among the live ones")
  func humanHandles() throws {
    var statements = FuzzConfiguration().platform.map { Statement($0) }
    statements += [
      Statement(.grant(GrantStatement(granter: "guest", gfnAddress: 0x8000_1000, hostAddress: 0x5000_0000, writable: true, handle: "netback"))),
      Statement(.grant(GrantStatement(granter: "guest", gfnAddress: 0x8000_2000, hostAddress: 0x5000_1000, writable: true, handle: "blkback"))),
      Statement(.ungrant(handle: "blkback")),
    ]
    let decoded = FuzzDecoder.decode(try FuzzEncoder.encode(Scenario(statements: statements)))
    #expect(decoded.statements.last?.kind == .ungrant(handle: "g1"))
  }

  @Test("what the decoder cannot produce is refused, naming the line", arguments: [
    ("ram 0x40000000 64M", "the platform is not one the fuzzer generates"),
    ("p2m dom0 map 0x40003000 0x40000000 ram_rw", "0x40003000 is not among the fuzzer's p2m addresses"),
    ("dma nic to-device 0x40000000 0x40 expect ok", "an expectation has no byte form"),
    ("dma nic to-device 0x40000000 0x30", "0x30 is not among the fuzzer's buffer sizes"),
  ])
  func unencodable(line: String, message: String) throws {
    var text = FuzzConfiguration().platform.map(ScenarioPrinter.line(for:))
    if line.hasPrefix("ram") { text[2] = line } else { text.append(line) }
    let scenario = try ScenarioParser.parse(text.joined(separator: "\n"))
    do {
      _ = try FuzzEncoder.encode(scenario)
      Issue.record("expected \(line) to be refused")
    } catch {
      #expect(error.description.contains(message), "\(error)")
      #expect(error.line == (line.hasPrefix("ram") ? 3 : text.count))
    }
  }

  @Test("dropping expectations encodes a DMA with an expect")
  func droppingExpectations() throws {
    let text = (FuzzConfiguration().platform.map(ScenarioPrinter.line(for:)) + ["dma nic to-device 0x40000000 0x40 expect ok"])
      .joined(separator: "\n")
    let bytes = try FuzzEncoder.encode(try ScenarioParser.parse(text), droppingExpectations: true)
    #expect(bytes == [0, 0, 8, 0, 0])
  }
}
