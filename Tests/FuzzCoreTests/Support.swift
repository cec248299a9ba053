import FuzzCore
import P2MImpl
import Spec
import Testing

/// The repository, for the committed corpus.
let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

import Foundation

/// Seeded random fuzz inputs: two configuration bytes and `records` records.
func randomInput(_ random: inout SplitMix64, records: Int) -> [UInt8] {
  (0..<(2 + records * FuzzDecoder.recordSize)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
}

/// A test-only broken implementation: `XenP2M` behind a translation cache
/// that is invalidated when a page is mapped but not when one is removed,
/// the bug class of a missing TLB flush on unmap (§7.3). The oracle must
/// see stale translations through ``P2MUnderTest/translate(_:access:)``.
struct StaleOnUnmapP2M: P2MUnderTest {
  var base: XenP2M
  var cache: [UInt64: WalkResult] = [:]

  static func make(_ domain: DomainID, ipaBits: Int, iommuEnabled: Bool) throws(XenP2MError) -> any P2MUnderTest {
    let base = try ImplementationState.xenP2M(domain, ipaBits: ipaBits, iommuEnabled: iommuEnabled) as! XenP2M
    return StaleOnUnmapP2M(base: base)
  }

  func lookup(_ gfn: GFN) -> P2MEntry? { base.lookup(gfn) }
  func walk(_ ipa: UInt64, access: Access) -> WalkResult { base.walk(ipa, access: access) }

  mutating func translate(_ ipa: UInt64, access: Access) -> WalkResult {
    let key = ipa << 1 | (access == .write ? 1 : 0)
    if let hit = cache[key] { return hit }
    let result = base.translate(ipa, access: access)
    if case .translated = result { cache[key] = result }
    return result
  }

  mutating func set(_ gfn: GFN, count: UInt64, to entry: P2MEntry?) throws(XenP2MError) {
    try base.set(gfn, count: count, to: entry)
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
