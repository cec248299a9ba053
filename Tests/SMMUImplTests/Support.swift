import P2MImpl
import SMMUImpl
import Spec
import Testing

/// The spec's platform and the implementation built from one description,
/// each domain's p2m held twice: as the spec's ``ReferenceP2M`` and as the
/// ``XenP2M`` the implementation's SMMUs walk. Every operation goes to
/// both; ``disagreement(stream:on:address:access:)`` compares a
/// transaction against two oracles.
struct World {
  var spec: SMMUPlatform
  let impl: XenSMMUPlatform
  var references: [DomainID: ReferenceP2M] = [:]
  let ipaBits: Int

  /// Table regions for domain k sit at the middle of the PA space plus
  /// k·4096 frames (2^27 frames for 40 bits), above the frames tests map,
  /// so a wrong address names a distinct frame.
  static func tableBase(_ domain: DomainID, ipaBits: Int) -> MFN {
    MFN((1 << UInt64(ipaBits - 13)) + UInt64(domain.rawValue) * 4096)
  }

  init(smmus: [SMMU], devices: [Device], domains: [DomainID] = [.dom0], ipaBits: Int = 40,
       iotlbCapacity: Int = 256, poolPages: Int = 64) throws {
    spec = try SMMUPlatform(smmus: smmus, devices: devices)
    impl = try XenSMMUPlatform(smmus: smmus, devices: devices, iotlbCapacity: iotlbCapacity)
    // Compared with the spec, which has no IOTLB: run the SMMUv3 driver
    // with the fix smmu.coherence[v3,detach] asks for (SMMUCoherenceTheoremTests
    // and SMMUPlatformTests show it without).
    impl.invalidatesReleasedS2VMIDs = true
    self.ipaBits = ipaBits
    for domain in domains {
      let p2m = try XenP2M(ipaBits: ipaBits, vmid: domain.rawValue + 1, tableBase: Self.tableBase(domain, ipaBits: ipaBits), poolPages: poolPages)
      try impl.addDomain(domain, p2m: p2m)
      references[domain] = ReferenceP2M(ipaBits: ipaBits)
    }
  }

  /// Attaches in both; they must agree on success or on the error.
  mutating func attach(_ device: String, to domain: DomainID, _ note: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) {
    var specError: SMMUError?
    do throws(SMMUError) { try spec.attach(device, to: domain) } catch { specError = error }
    var implError: XenSMMUError?
    do throws(XenSMMUError) { try impl.attach(device, to: domain) } catch { implError = error }
    #expect(implError == specError.map(XenSMMUError.smmu), "\(note): attach \(device) to \(domain)", sourceLocation: sourceLocation)
  }

  mutating func detach(_ device: String, _ note: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) {
    var specError: SMMUError?
    do throws(SMMUError) { try spec.detach(device) } catch { specError = error }
    var implError: XenSMMUError?
    do throws(XenSMMUError) { try impl.detach(device) } catch { implError = error }
    #expect(implError == specError.map(XenSMMUError.smmu), "\(note): detach \(device)", sourceLocation: sourceLocation)
  }

  /// `p2m_set_entry()` on the implementation's p2m (its IOTLB flushes
  /// reaching the SMMUs) and the same change on the spec's map.
  mutating func setEntry(_ domain: DomainID, _ gfn: GFN, count: UInt64, mfn: MFN?, type: P2MType) throws {
    try impl.updateP2M(of: domain) { (p2m: inout XenP2M) throws(XenP2MError) in
      try p2m.setEntry(gfn, count: count, mfn: mfn, type: type)
    }
    if let mfn {
      try references[domain]!.map(gfn, count: count, to: mfn, type: type)
    } else {
      try references[domain]!.unmap(gfn, count: count)
    }
  }

  /// What the two oracles and the implementation say about a transaction;
  /// nil when all agree, else a description of the difference.
  ///
  /// - Semantic oracle: the spec platform's stream outcome, stage 2 read
  ///   off the ``ReferenceP2M`` (no levels there, so fault levels are not
  ///   compared, as ``referenceStageTwoTranslator(p2ms:)`` says).
  /// - Exact oracle: the same stream outcome, stage 2 by the spec's
  ///   architectural walk over the implementation's tables, uncached.
  func disagreement(stream: StreamID, on smmuName: String, address: UInt64, access: Access) throws -> String? {
    let smmu = try impl.smmuIndex(named: smmuName)
    let got = try impl.translate(stream: stream, on: smmu, address: address, access: access)
    let specStream = try #require(spec.smmus[smmuName]).resolve(stream: stream)
    let semantic = SMMUTranslation(
      expectedFor: address, stream: specStream, access: access, translate: referenceStageTwoTranslator(p2ms: references))
    let exact = SMMUTranslation(expectedFor: address, stream: specStream, access: access) { domain, ipa, access in
      impl.walk(domain: domain, address: ipa, access: access)
    }
    if got != exact { return "stream \(hex(UInt64(stream)))@\(smmuName) \(access): got \(got), the walk says \(exact)" }
    if Levelless(got) != Levelless(semantic) {
      return "stream \(hex(UInt64(stream)))@\(smmuName) \(access): got \(got), the spec says \(semantic)"
    }
    return nil
  }
}

/// A translation with fault levels dropped, for comparison with the spec's
/// level-free p2m.
struct Levelless: Hashable {
  let stream: StreamOutcome
  let pa: UInt64?
  let faultKind: StageTwoFault.Kind?

  init(_ translation: SMMUTranslation) {
    stream = translation.stream
    switch translation.stageTwo {
    case .translated(let pa): (self.pa, faultKind) = (pa, nil)
    case .fault(let fault): (pa, faultKind) = (nil, fault.kind)
    case nil: (pa, faultKind) = (nil, nil)
    }
  }
}

/// One SMMUv2 with dom0 and a single described device on streams 0x10 and
/// 0x11, plus an undescribed master on 0x20 and an MMC not behind any SMMU:
/// the fact sheet's §6.4 table in one platform.
func smallV2World(iotlbCapacity: Int = 256) throws -> World {
  try World(
    smmus: [.v2(name: "smmu0")],
    devices: [
      Device(name: "eth", attachment: .behindSMMU(smmu: "smmu0", streamIDs: [0x10, 0x11], described: true)),
      Device(name: "gpu", attachment: .behindSMMU(smmu: "smmu0", streamIDs: [0x20], described: false)),
      Device(name: "mmc", attachment: .notBehindSMMU),
    ],
    domains: [.dom0, DomainID(1)], iotlbCapacity: iotlbCapacity)
}

/// The SMMUv3 counterpart of ``smallV2World(iotlbCapacity:)``.
func smallV3World() throws -> World {
  try World(
    smmus: [.v3(name: "smmu3", streamIDBits: 8)],
    devices: [
      Device(name: "nvme", attachment: .behindSMMU(smmu: "smmu3", streamIDs: [0x40], described: true)),
      Device(name: "dma", attachment: .behindSMMU(smmu: "smmu3", streamIDs: [0x41], described: false)),
    ],
    domains: [.dom0, DomainID(1)])
}
