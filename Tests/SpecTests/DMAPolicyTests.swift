import Testing

@testable import Spec

@Suite("DMA policies (DESIGN.md §1, fact sheet §3.5, §4)")
struct DMAPolicyTests {
  static let coloured = MemoryLayout.coloured(colours: [1, 2])

  @Test("stable scenario names")
  func names() {
    #expect(DMAPolicy.allCases.map(\.rawValue) == ["legacy", "merged-flags", "global-flag", "per-device"])
    #expect(DMAPolicy(rawValue: "per-device") == .perDevice)
  }

  @Test("§4 Xen ≥ 4.16 sets direct_mapped iff dom0 is direct-mapped, else not_direct_mapped; the RFC flag iff the IOMMU is on")
  func advertisedFeatures() {
    #expect(XenFeatures(dom0Layout: .directMapped, iommuEnabled: true) == XenFeatures(directMapped: true, dom0IOMMU: true))
    #expect(XenFeatures(dom0Layout: Self.coloured, iommuEnabled: false) == XenFeatures(notDirectMapped: true))
  }

  @Test("§4 xen_swiotlb_detect: direct_mapped → 1; else neither flag and initial domain → 1; else 0")
  func swiotlbDetect() {
    #expect(DMAPolicy.xenSwiotlbDetect(features: XenFeatures(directMapped: true), isInitialDomain: false))
    #expect(DMAPolicy.xenSwiotlbDetect(features: XenFeatures(), isInitialDomain: true))
    #expect(!DMAPolicy.xenSwiotlbDetect(features: XenFeatures(), isInitialDomain: false))
    #expect(!DMAPolicy.xenSwiotlbDetect(features: XenFeatures(notDirectMapped: true), isInitialDomain: true))
  }

  @Test("each policy's choice for dom0, hand-derived from DESIGN.md §1")
  func decisions() throws {
    var platform = try threeMasterPlatform(.v2)
    try platform.assignDescribedDevicesToDom0()
    let attached = try platform.device(named: "eth")
    let outside = try platform.device(named: "mmc")
    let undescribed = try platform.device(named: "gpu")
    let direct = XenFeatures(dom0Layout: .directMapped, iommuEnabled: true)
    let colouredIOMMU = XenFeatures(dom0Layout: Self.coloured, iommuEnabled: true)
    let colouredNoIOMMU = XenFeatures(dom0Layout: Self.coloured, iommuEnabled: false)
    let oldXen = XenFeatures()
    let rows: [(DMAPolicy, XenFeatures, Device, DMAPath)] = [
      (.legacy, colouredIOMMU, attached, .swiotlbXen),
      (.legacy, direct, outside, .swiotlbXen),
      (.mergedFlags, direct, attached, .swiotlbXen),
      (.mergedFlags, colouredIOMMU, outside, .dmaDirect),
      (.mergedFlags, oldXen, attached, .swiotlbXen),
      (.globalFlag, direct, outside, .dmaDirect),
      (.globalFlag, colouredNoIOMMU, attached, .swiotlbXen),
      (.globalFlag, oldXen, attached, .swiotlbXen),
      (.perDevice, direct, attached, .dmaDirect),
      (.perDevice, colouredIOMMU, outside, .swiotlbXen),
      (.perDevice, colouredIOMMU, undescribed, .swiotlbXen),
    ]
    for (policy, features, device, path) in rows {
      #expect(try policy.path(for: device, features: features, platform: platform) == path, "\(policy) \(features) \(device.name)")
    }
  }

  @Test("a domain that is not the initial domain never gets swiotlb-xen without direct_mapped")
  func notInitial() throws {
    let platform = try threeMasterPlatform(.v3)
    let device = try platform.device(named: "mmc")
    for policy in DMAPolicy.allCases {
      #expect(try policy.path(for: device, features: XenFeatures(), platform: platform, isInitialDomain: false) == .dmaDirect)
    }
  }
}
