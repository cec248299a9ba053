import SMMUImpl
import Spec
import Testing

@testable import Proofs

/// `smmu.fast-path` (Sources/Proofs/Theorems/SMMUFastPathTheorem.swift) is proved
/// as the fast path stands, and each bug put back in the fast path's probe
/// alone is refuted with a slot that replays on a concrete IOTLB: the fast
/// path answers differently from the full path there.
@Suite("smmu.fast-path: the IOTLB probe equals the decode and generic lookup")
struct SMMUFastPathTheoremTests {
  func run(_ theorem: Theorem, seeding bugs: [SeededBug] = []) throws -> [Finding] {
    try CatalogueTheoremTests().run(theorem, seeding: bugs)
  }

  @Test("proved for read, write and fill, each within the catalogue's budget")
  func proved() throws {
    let findings = try run(SMMUFastPathTheorem.theorem())
    #expect(findings.map(\.claim) == ["smmu.fast-path[read]", "smmu.fast-path[write]", "smmu.fast-path[fill]"])
    #expect(findings.allSatisfy { $0.verdict == .proved }, "\(findings)")
    #expect(findings.allSatisfy { $0.seconds < 10 }, "\(findings.map(\.seconds))")
  }

  /// A probe that compares only the page bits of the key lets another
  /// VMID's live entry answer: the model's slot is tagged with a VMID
  /// other than the one probed, and replays.
  @Test("refuted: a probe that ignores the VMID; the slot replays on a concrete IOTLB")
  func ignoresVMID() throws {
    let findings = try run(SMMUFastPathTheorem.theorem(), seeding: [.fastPathIgnoresVMID])
    let probes = findings.filter { $0.claim != "smmu.fast-path[fill]" }
    #expect(probes.count == 2 && probes.allSatisfy { $0.verdict == .refuted }, "\(findings)")
    #expect(probes.allSatisfy { $0.replayed == true }, "\(probes)")
    #expect(probes.allSatisfy { finding in
      guard let key = finding.values["key"], let vmid = finding.values["vmid"] else { return false }
      return key >> 48 != vmid
    }, "\(probes)")
    #expect(findings.last?.verdict == .proved, "fill is not the probe")
  }

  /// A probe that keeps IPA bits 20:0 (a level-2 block's offset) instead
  /// of the 4K offset of the cached page answers a wrong address for a hit
  /// whose IPA has bits 20:12 the cached page lacks; a fault carries no
  /// address, so the model's hit translates.
  @Test("refuted: a probe that takes the block offset at the wrong level; the slot replays")
  func blockOffset() throws {
    let findings = try run(SMMUFastPathTheorem.theorem(), seeding: [.fastPathBlockOffset])
    let probes = findings.filter { $0.claim != "smmu.fast-path[fill]" }
    #expect(probes.count == 2 && probes.allSatisfy { $0.verdict == .refuted }, "\(findings)")
    #expect(probes.allSatisfy { $0.replayed == true }, "\(probes)")
    #expect(probes.allSatisfy { finding in
      guard let ipa = finding.values["ipa"], let value = finding.values["value"] else { return false }
      return ipa & bitMask(high: 20, low: 12) & ~value != 0
    }, "\(probes)")
  }

  /// The replay itself: a slot of another VMID answers the mutant's fast
  /// path and not the full path, on the concrete one-slot IOTLB.
  @Test("replay: the concrete IOTLB's fast and full paths on one slot")
  func replay() {
    let filled = IOTLBSlot<UInt64>.fill(vmid: 2, ipa: 0x5000, outputAddress: 0x9000, read: true, write: true, level: 3, generation: 0)
    let values = ["key": filled.key, "value": filled.value, "stamp": 0, "vmid": 1, "ipa": 0x5123, "generation(vmid)": 0, "generation(key)": 0]
    let sound = SMMUFastPathTheorem.replay(values, access: .read)
    #expect(sound.fast == nil && sound.full == nil)
    let broken = SeededBug.fastPathIgnoresVMID.inject { SMMUFastPathTheorem.replay(values, access: .read) }
    #expect(broken.fast?.machineAddress == 0x9123, "\(String(describing: broken.fast))")
    #expect(broken.full == nil)
  }
}
