import P2MImpl
import SMMUImpl
import Spec
import SymbolicWord

/// `smmu.regression`: Xen's flush discipline keeps the SMMU's IOTLB
/// coherent, and a coherent IOTLB changes no translation.
///
/// Two domains share one SMMUv2 (dom0 through stream 1, VMID 1; a guest
/// through stream 2, VMID 2) and map the same GFNs to different frames;
/// dom0 is also behind a second SMMUv2 `t` (stream 3), whose IOTLB the
/// flush must reach too.
/// Every page is translated once from each context, filling the IOTLB;
/// then both p2ms change through `p2m_set_entry` (remap, permission
/// downgrade, removal), each change followed by the whole-VMID IOTLB
/// flush Xen issues (`__p2m_set_entry` → `iommu_iotlb_flush`, fact sheet
/// §1.5, §6.1). The claim, for every IPA, each context and each access:
/// translating through the IOTLB (the generic lookup the concrete SMMU
/// runs, `translateThroughIOTLB`) equals the architectural walk of the
/// domain's current tables. Without the flush (Xen before `9ed527dc95`)
/// it is refuted: a stale entry still points at the old frame.
enum SMMURefinementTheorem {
  static func theorem() -> Theorem {
    Theorem(name: "smmu.regression", summary: "regression (fixed warm-up and p2m changes, only the IPA symbolic): with Xen's IOTLB flushes after p2m changes, translating through the IOTLB equals the walk for every IPA") { session in
      let platform = try warmedAndChanged()
      let second = try platform.smmuIndex(named: "t")
      // dom0's VMID on the second SMMU, read off its IOTLB (any VMID will
      // do when the flush emptied it).
      let secondVMID = UInt64(try platform.iotlb(of: second).entries.first?.vmid ?? 1)
      var findings: [Finding] = []
      let contexts: [(String, DomainID, UInt64, StreamID)] = [
        ("s", DomainID.dom0, 1, 1), ("s", DomainID(1), 2, 2), ("t", DomainID.dom0, secondVMID, 3),
      ]
      for (smmuName, domain, vmid, stream) in contexts {
        let smmu = try platform.smmuIndex(named: smmuName)
        let label = smmuName == "s" ? "\(domain)" : "\(smmuName):\(domain)"
        for access in Access.allCases {
          let entries = try platform.iotlb(of: smmu).entries.map { vmid, page, entry in
            IOTLBEntryWords(
              vmid: session.constant(UInt64(vmid)), page: session.constant(page), outputPage: session.constant(entry.outputPage),
              read: SymbolicBool(entry.read, in: session.context), write: SymbolicBool(entry.write, in: session.context),
              level: session.constant(UInt64(entry.level)))
          }
          guard let p2m = platform.p2m(of: domain) else { throw MatrixError.platform("no p2m for \(domain)") }
          let ipa = try session.word("ipa")
          let walk = ContextOutcome(stageTwoWalk(
            memory: try CompressedDescriptorMemory(p2m.memory.liveTables(), zero: session.constant(0)), geometry: p2m.geometry,
            rootAddress: session.constant(p2m.rootAddress), inputAddress: ipa, access: access))
          let cached = translateThroughIOTLB(candidates: entries, vmid: session.constant(vmid), ipa: ipa, access: access) { walk }
          findings.append(
            try session.decide("smmu.regression[\(label),\(access)]", claim: cached.isEqual(to: walk), hypotheses: []) { model in
              let bad = try model.value(of: ipa.term)
              // Replay on the concrete SMMU: its answer differs from the walk.
              let translated = try platform.translate(stream: stream, on: smmu, address: bad, access: access)
              let walked = platform.walk(domain: domain, address: bad, access: access)
              let reproduced = translated.stageTwo != walked
              return ("ipa \(hex(bad)): the SMMU gives \(translated.stageTwo.map { "\($0)" } ?? "no translation"), the walk \(walked)", nil, reproduced, ["ipa": bad])
            })
        }
      }
      return findings
    }
  }

  /// The platform after warming the IOTLB and changing both p2ms.
  static func warmedAndChanged() throws -> XenSMMUPlatform {
    let platform = try XenSMMUPlatform(
      smmus: [.v2(name: "s"), .v2(name: "t")],
      devices: [
        Device(name: "a", attachment: .behindSMMU(smmu: "s", streamIDs: [1], described: true)),
        Device(name: "b", attachment: .behindSMMU(smmu: "s", streamIDs: [2], described: true)),
        // A second SMMU in front of dom0 (a seeded bug's flush that reaches
        // only the first SMMU escaped a one-SMMU platform).
        Device(name: "c", attachment: .behindSMMU(smmu: "t", streamIDs: [3], described: true)),
      ])
    for domain in [DomainID.dom0, DomainID(1)] {
      try platform.addDomain(domain, p2m: try XenP2M(ipaBits: 32, vmid: domain.rawValue + 1, tableBase: MFN(0x8_0000 + UInt64(domain.rawValue) * 0x1000), poolPages: 4))
    }
    try platform.attach("a", to: .dom0)
    try platform.attach("b", to: DomainID(1))
    try platform.attach("c", to: .dom0)
    try platform.updateP2M(of: .dom0) { p2m throws(XenP2MError) in try p2m.setEntry(GFN(0x200), count: 4, mfn: MFN(0x1000), type: .ramRW) }
    try platform.updateP2M(of: DomainID(1)) { p2m throws(XenP2MError) in try p2m.setEntry(GFN(0x200), count: 4, mfn: MFN(0x2000), type: .ramRW) }
    for (name, streams) in [("s", [StreamID(1), 2]), ("t", [StreamID(3)])] {
      let smmu = try platform.smmuIndex(named: name)
      for page: UInt64 in 0x200..<0x204 {
        for stream in streams {
          for access in Access.allCases { _ = try platform.translate(stream: stream, on: smmu, address: page << pageShift, access: access) }
        }
      }
    }
    // The changes, each flushed (or not, under the mutant) as Xen does.
    try platform.updateP2M(of: .dom0) { p2m throws(XenP2MError) in try p2m.setEntry(GFN(0x201), count: 1, mfn: MFN(0x5555), type: .ramRW) }
    try platform.updateP2M(of: .dom0) { p2m throws(XenP2MError) in try p2m.setEntry(GFN(0x203), count: 1, mfn: nil, type: .invalid) }
    try platform.updateP2M(of: DomainID(1)) { p2m throws(XenP2MError) in try p2m.setEntry(GFN(0x202), count: 1, mfn: MFN(0x2002), type: .ramRO) }
    return platform
  }
}
