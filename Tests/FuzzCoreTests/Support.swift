import Foundation
import FuzzCore
import P2MImpl
import Scenario
import Spec
import TestSupport
import Testing

/// Seeded random fuzz inputs: two configuration bytes and `records` records.
/// Random bytes of either format: every fourth input begins with the v2
/// marker (and three configuration bytes).
func randomInput(_ random: inout SplitMix64, records: Int) -> [UInt8] {
  let v2 = random.next() % 4 == 0
  let body = (0..<((v2 ? 3 : 2) + records * FuzzDecoder.recordSize)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
  return v2 ? FuzzConfiguration.v2Marker + body : body
}

/// A test-only broken implementation: Xen's p2m code behind a translation
/// cache that is invalidated when a page is mapped but not when one is
/// removed, the bug class of a missing TLB flush on unmap (§7.3). The
/// oracle must see stale translations through ``P2MUnderTest/translate(_:access:in:)``.
struct StaleOnUnmapP2M: P2MUnderTest {
  var cache: [UInt64: WalkResult] = [:]

  static let make = P2MFactory(makeCode: { StaleOnUnmapP2M() })

  mutating func translate(_ ipa: UInt64, access: Access, in tables: inout XenP2M) -> WalkResult {
    let key = ipa << 1 | (access == .write ? 1 : 0)
    if let hit = cache[key] { return hit }
    let result = tables.translate(ipa, access: access)
    if case .translated = result { cache[key] = result }
    return result
  }

  mutating func set(_ gfn: GFN, count: UInt64, to entry: P2MEntry?, in tables: inout XenP2M) throws(XenP2MError) {
    try tables.set(gfn, count: count, to: entry)
    if entry != nil { cache.removeAll() }
  }
}

/// The committed seed inputs, `corpus/fuzz/*`.
func committedCorpus() throws -> [[UInt8]] {
  let directory = repository.appendingPathComponent("corpus/fuzz")
  return try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { !$0.hasPrefix(".") }.sorted()
    .map { [UInt8](try Data(contentsOf: directory.appendingPathComponent($0))) }
}

func parse(_ text: String) throws -> Scenario { try ScenarioParser.parse(text) }
