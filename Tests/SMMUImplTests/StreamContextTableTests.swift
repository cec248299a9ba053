import Spec
import Testing

@testable import SMMUImpl

@Suite("Stream context table")
struct StreamContextTableTests {
  /// The per-stream table against a dictionary, over random sets and
  /// clears, with a copy taken midway that must not see later writes
  /// (chunks are shared until written).
  @Test("agrees with a dictionary; a copy keeps its own entries")
  func agreesWithDictionary() {
    var random = SystemRandomNumberGenerator()
    for streams in [1, 2, 255, 256, 257, 1 << 16] {
      var table = StreamContextTable(streams: streams)
      var model: [Int: (slot: Int, vmid: Int)] = [:]
      var snapshot: (StreamContextTable, [Int: (slot: Int, vmid: Int)])?
      for round in 0..<6 {
        if round == 3 { snapshot = (table, model) }
        if round % 2 == 1 {
          table.clear()
          model = [:]
        }
        for _ in 0..<20 {
          let stream = Int.random(in: 0..<streams, using: &random)
          let value = (slot: Int.random(in: 0..<128, using: &random), vmid: Int.random(in: 0..<65_536, using: &random))
          guard model[stream] == nil else { continue }
          table.set(stream, slot: value.slot, vmid: value.vmid)
          model[stream] = value
        }
        for (stream, value) in model {
          let entry = table.entry(of: StreamID(stream))
          #expect(entry.map { Int($0.slot) } == value.slot && entry.map { Int($0.vmid) } == value.vmid)
        }
        #expect((0..<min(streams, 4096)).filter { table.entry(of: StreamID($0)) != nil }.count == model.keys.filter { $0 < 4096 }.count)
        #expect(table.entry(of: StreamID(streams)) == nil, "beyond the table")
      }
      let (copy, copied) = snapshot!
      for stream in Set(model.keys).union(copied.keys) {
        #expect(copy.entry(of: StreamID(stream)).map { Int($0.slot) } == copied[stream]?.slot)
      }
    }
  }
}
