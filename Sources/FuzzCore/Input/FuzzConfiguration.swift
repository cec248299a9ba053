import Scenario
import Spec

/// The platform options a fuzz input's two leading bytes select, after
/// swift-protobuf's FuzzTesting options prefix: the fuzzer explores
/// configurations through the same byte string as the operations, with no
/// second input channel.
///
/// Byte 0: bits 0–2 IPA size (index mod 6 into ``ipaSizes``), bit 3 LLC
/// colouring, bit 4 SMMUv3, bits 5–6 Linux policy, bit 7 IOMMU off.
/// Byte 1: bits 0–2 Xen release (index mod 6 into ``versions``; with
/// colouring, into the releases that have it), bit 3 no
/// `GNTTABOP_cache_flush`, bit 4 an MMC controller not behind the SMMU,
/// bit 5 a DSP behind the SMMU that Xen's device tree does not describe,
/// bit 6 a non-coherent GPU, bit 7 the GPU behind a second SMMU `smmu1`
/// (so that an IOTLB flush must reach both). Missing bytes read as zero,
/// so the empty input is the default platform: 40-bit IPA, direct-mapped
/// dom0, Xen 4.21, IOMMU on, every device behind the SMMU and attached.
///
/// Both bytes are full, so what the fuzzer learned to reach since is in a
/// second format (``Format/v2``): the input starts with ``v2Marker``, then
/// an extension byte — bits 0–1 the SMMUs' IOTLB entries (index into
/// ``iotlbSizes``), bit 2 masked streams (``maskedStreams``), bit 3 a
/// device of the guest's from boot (``guestDevice``), bit 4 a tight p2m
/// pool for the guest (``tightPool``), bits 5–7 reserved (ignored, zero
/// in canonical bytes) —
/// then the two bytes above and the records. The three bytes come first
/// so that one dictionary word (`"V2\x01"`) put in front of any
/// first-format input makes a second-format input with the same platform
/// and operations, records still aligned. Any other input is the first
/// format, read exactly as before, so that committed inputs and crash
/// files keep their meaning (FuzzFormatTests decodes every committed input
/// against its recorded scenario).
package struct FuzzConfiguration: Hashable, Sendable, CustomStringConvertible {
  /// The input's layout: v1 (two configuration bytes, then records) or
  /// v2 (``v2Marker``, the extension byte, the v1 bytes, then records whose
  /// opcodes may use bit 5).
  package enum Format: Hashable, Sendable {
    case v1, v2
  }
  /// "V2": a v1 input that begins so (SMMUv3, Xen 4.14, …) reads as v2;
  /// no committed input does.
  package static let v2Marker: [UInt8] = [0x56, 0x32]
  package var format = Format.v1
  package var ipaBits = 40
  package var coloured = false
  package var smmuVersion = SMMUVersion.v2
  package var policy = DMAPolicy.legacy
  package var iommu = true
  package var xen = XenVersion.latest
  package var hypercallCacheFlush = true
  package var untranslatedMMC = false
  package var undescribedDSP = false
  package var nonCoherentGPU = false
  package var gpuBehindSecondSMMU = false
  /// Entries of each SMMU's IOTLB (`smmu … iotlb <n>`); nil leaves the
  /// harness's (``ImplementationState/iotlbCapacity``). v2 only.
  package var iotlbEntries: Int?

  /// v2 byte 2, bits 0–1. One entry makes every page of every VMID share
  /// the slot (the fuzzer's two VMIDs, 1 and 2, never share a slot of a
  /// larger IOTLB for one page: the slot is `(page ^ vmid·0x9E37) mod
  /// entries` with an odd multiplier); 4 and 16 evict often.
  package static let iotlbSizes: [Int?] = [nil, 1, 4, 16]
  /// The NIC's stream is `0x10/0xf`, as a device tree's second `iommus`
  /// cell gives it, and a `xen,passthrough` device `pt` at stream 0x12
  /// lies inside that range: from Xen 4.20 (`ef3b4768b3`) the two share
  /// one stream map entry, so assigning `pt` to the domU moves the NIC's
  /// translation to the domU's context; before, the mask is not written
  /// and each has its own entry. v2 inputs with an SMMUv2 only.
  package var maskedStreams = false
  /// A `xen,passthrough` device `vf` at stream 0x40 behind smmu0, assigned
  /// to the guest as the domain is built — dom0less's
  /// `handle_passthrough_prop()` and xl's `dtdev` both call
  /// `iommu_assign_dt_device()` at construction (RELEASE-4.21.0
  /// xen/arch/arm/dom0less-build.c, tools/libs/light/libxl_create.c) — so
  /// that two VMIDs translate from the first operation: one DMA of a dom0
  /// device and one of `vf` to the same bus page share a one-entry IOTLB's
  /// slot with both VMIDs' generations still equal. Reaching that through
  /// a detach and an attach takes four coordinated operations, and each
  /// p2m flush in between moves dom0's generation on. v2 only.
  package var guestDevice = false
  /// The guest's p2m pool holds the tables its RAM takes and
  /// ``tightPoolSpare`` page more (`p2m-pool`), so that one raw update
  /// outside its RAM, or one split, runs it dry: Xen's −ENOMEM/−ENOENT
  /// paths (`p2m_next_level()`, `p2m_split_superpage()`) and what they
  /// leave behind are reached. v2 only.
  package var tightPool = false
  package static let tightPoolSpare = 1
  /// The guest's pool with ``tightPool``: the tables from below the root
  /// down to level 2, where its 2 MiB of RAM is one block (2 MiB-aligned
  /// at both ends), and with colouring a level-3 table for its 64 pages
  /// (one 2 MiB region of GFNs, scattered frames) — then the spare.
  package var tightPoolPages: Int {
    let rootLevel = (try? StageTwoGeometry(ipaBits: ipaBits))?.rootLevel ?? 1
    return 2 - rootLevel + (coloured ? 1 : 0) + Self.tightPoolSpare
  }
  /// The platform's last statement with ``guestDevice``.
  package static let guestDeviceAssignment = StatementKind.attach(device: "vf", domain: "guest")

  /// Index 0 is the default; 40 and 48 bits first as the common sizes.
  package static let ipaSizes = [40, 48, 32, 36, 42, 44]
  /// Releases around the behaviour changes the spec models: 4.15
  /// (`04085ec1ac`), 4.16 (XENFEAT_direct_mapped), 4.17 (direct-mapped
  /// domUs), 4.20 (LLC colouring).
  package static let versions = ["4.21", "4.15", "4.14", "4.16", "4.17", "4.20"].map { XenVersion(name: $0)! }
  package static let colouredVersions = ["4.21", "4.20"].map { XenVersion(name: $0)! }

  /// Byte 0's policy field: an index into `DMAPolicy.allCases`, from bit 5
  /// up to bit 6, below bit 7 (IOMMU off). Committed inputs and crash files
  /// hold bytes laid out this way, so the field cannot move.
  package static let policyShift = 5
  package static let policyReservedBits = 2
  /// The bits an index into `DMAPolicy.allCases` needs; indices past the
  /// last policy (when the count is not a power of two) wrap, so that every
  /// byte decodes. Were it to exceed ``policyReservedBits`` (a fifth
  /// policy), a policy would spill into bit 7 and read back as IOMMU off;
  /// FuzzConfigurationTests fails first.
  package static let policyBits = Int.bitWidth - (DMAPolicy.allCases.count - 1).leadingZeroBitCount

  package init() {}

  /// Reads the two configuration bytes (zero where absent).
  package init(_ byte0: UInt8, _ byte1: UInt8) {
    ipaBits = Self.ipaSizes[Int(byte0 & 7) % Self.ipaSizes.count]
    coloured = byte0 & 1 << 3 != 0
    smmuVersion = byte0 & 1 << 4 != 0 ? .v3 : .v2
    let policyIndex = Int(byte0) >> Self.policyShift & ((1 << Self.policyBits) - 1)
    policy = DMAPolicy.allCases[policyIndex % DMAPolicy.allCases.count]
    iommu = byte0 & 1 << 7 == 0
    let releases = coloured ? Self.colouredVersions : Self.versions
    xen = releases[Int(byte1 & 7) % releases.count]
    hypercallCacheFlush = byte1 & 1 << 3 == 0
    untranslatedMMC = byte1 & 1 << 4 != 0
    undescribedDSP = byte1 & 1 << 5 != 0
    nonCoherentGPU = byte1 & 1 << 6 != 0
    gpuBehindSecondSMMU = byte1 & 1 << 7 != 0
  }

  /// Reads the configuration at the start of `bytes` (zero where absent);
  /// ``headerLength`` is where its records start.
  package init(header bytes: [UInt8]) {
    func byte(_ index: Int) -> UInt8 { index < bytes.count ? bytes[index] : 0 }
    guard bytes.starts(with: Self.v2Marker) else {
      self.init(byte(0), byte(1))
      return
    }
    let at = Self.v2Marker.count
    self.init(byte(at + 1), byte(at + 2))
    format = .v2
    iotlbEntries = Self.iotlbSizes[Int(byte(at) & 3)]
    // SMMUv3 has no stream match registers: the bit is ignored there.
    maskedStreams = byte(at) & 1 << 2 != 0 && smmuVersion == .v2
    guestDevice = byte(at) & 1 << 3 != 0
    tightPool = byte(at) & 1 << 4 != 0
  }

  /// Bytes before the first record.
  package var headerLength: Int { format == .v1 ? 2 : Self.v2Marker.count + 3 }

  /// The canonical bytes for this configuration, in its ``format``.
  package var bytes: [UInt8] {
    let v1 = v1Bytes
    guard format == .v2 else { return v1 }
    let extensions = UInt8(Self.iotlbSizes.firstIndex(of: iotlbEntries) ?? 0) | (maskedStreams ? 1 << 2 : 0) | (guestDevice ? 1 << 3 : 0) | (tightPool ? 1 << 4 : 0)
    return Self.v2Marker + [extensions] + v1
  }

  /// The first format's two bytes, which v2 repeats after its marker.
  var v1Bytes: [UInt8] {
    let releases = coloured ? Self.colouredVersions : Self.versions
    var byte0 = UInt8(Self.ipaSizes.firstIndex(of: ipaBits)!)
    if coloured { byte0 |= 1 << 3 }
    if smmuVersion == .v3 { byte0 |= 1 << 4 }
    if let index = DMAPolicy.allCases.firstIndex(of: policy) { byte0 |= UInt8(index << Self.policyShift) }
    if !iommu { byte0 |= 1 << 7 }
    var byte1 = UInt8(releases.firstIndex(of: xen)!)
    if !hypercallCacheFlush { byte1 |= 1 << 3 }
    if untranslatedMMC { byte1 |= 1 << 4 }
    if undescribedDSP { byte1 |= 1 << 5 }
    if nonCoherentGPU { byte1 |= 1 << 6 }
    if gpuBehindSecondSMMU { byte1 |= 1 << 7 }
    return [byte0, byte1]
  }

  package var description: String {
    "Xen \(xen.name), \(ipaBits)-bit IPA, \(coloured ? "coloured" : "direct-mapped") dom0, SMMU\(smmuVersion.rawValue), "
      + "IOMMU \(iommu ? "on" : "off"), \(policy)" + (gpuBehindSecondSMMU ? ", GPU behind smmu1" : "")
      + (iotlbEntries.map { ", \($0)-entry IOTLB" } ?? "") + (maskedStreams ? ", NIC stream 0x10/0xf with passthrough pt at 0x12" : "")
      + (guestDevice ? ", vf assigned to the guest at boot" : "") + (tightPool ? ", the guest's p2m pool \(tightPoolPages) pages" : "")
  }

  // MARK: - The platform

  static let ramBase: UInt64 = 0x4000_0000
  static let ramSize: UInt64 = 16 << 20
  static let dom0Size: UInt64 = 2 << 20
  /// A fixed domU's RAM (colouring off), right after dom0's.
  static let guestMachineBase: UInt64 = 0x4080_0000
  static let guestSize: UInt64 = 2 << 20
  static let guestColouredPages: UInt64 = 64
  static let guestBase: UInt64 = 0x8000_0000
  static let colourCount = 16
  static let dom0Colours = Array(0..<8)
  static let guestColours = Array(8..<16)

  /// The devices, in the order DMAs and attaches index them.
  package var deviceNames: [String] {
    ["nic", "gpu"] + (undescribedDSP ? ["dsp"] : []) + (untranslatedMMC ? ["mmc"] : []) + (maskedStreams ? ["pt"] : []) + (guestDevice ? ["vf"] : [])
  }

  /// The platform and domain statements every input starts with.
  package var platform: [StatementKind] {
    var kinds: [StatementKind] = [.xen(version: xen.name), .ipaBits(ipaBits)]
    if coloured { kinds.append(.llcColours(Self.colourCount)) }
    kinds += [
      .ram(address: Self.ramBase, size: Self.ramSize), .iommu(iommu), .hypercallCacheFlush(hypercallCacheFlush),
      .linuxPolicy(policy), .smmu(name: "smmu0", version: smmuVersion, iotlbEntries: iotlbEntries),
    ]
    if gpuBehindSecondSMMU { kinds.append(.smmu(name: "smmu1", version: smmuVersion, iotlbEntries: iotlbEntries)) }
    kinds += [
      .device(DeviceDeclaration(name: "nic", placement: .smmu(name: "smmu0", streams: [0x10], described: true), streamMasks: maskedStreams ? [0xF] : [])),
      .device(DeviceDeclaration(
        name: "gpu", placement: .smmu(name: gpuBehindSecondSMMU ? "smmu1" : "smmu0", streams: [0x20], described: true),
        coherent: !nonCoherentGPU)),
    ]
    if undescribedDSP {
      kinds.append(.device(DeviceDeclaration(name: "dsp", placement: .smmu(name: "smmu0", streams: [0x30], described: false))))
    }
    if untranslatedMMC { kinds.append(.device(DeviceDeclaration(name: "mmc", placement: .untranslated))) }
    if maskedStreams {
      kinds.append(.device(DeviceDeclaration(name: "pt", placement: .smmu(name: "smmu0", streams: [0x12], described: true), passthrough: true)))
    }
    if guestDevice {
      kinds.append(.device(DeviceDeclaration(name: "vf", placement: .smmu(name: "smmu0", streams: [0x40], described: true), passthrough: true)))
    }
    if coloured {
      kinds.append(.dom0(.coloured(colours: Self.dom0Colours), size: Self.dom0Size))
      kinds.append(.domU(DomUDeclaration(
        name: "guest", id: 1, memory: .coloured(colours: Self.guestColours, pages: Self.guestColouredPages), base: Self.guestBase,
        p2mPoolPages: tightPool ? tightPoolPages : nil)))
    } else {
      kinds.append(.dom0(.directMapped, size: Self.dom0Size))
      kinds.append(.domU(DomUDeclaration(
        name: "guest", id: 1, memory: .at(address: Self.guestMachineBase, size: Self.guestSize), base: Self.guestBase,
        p2mPoolPages: tightPool ? tightPoolPages : nil)))
    }
    if guestDevice { kinds.append(Self.guestDeviceAssignment) }
    return kinds
  }

  /// The configuration whose ``platform`` is `kinds`, or nil.
  package init?(platform kinds: [StatementKind]) {
    let configuration = Self(nearest: kinds)
    guard configuration.platform == kinds else { return nil }
    self = configuration
  }

  /// The configuration whose options `kinds` state, where they state one
  /// the fuzzer has; the default otherwise. Its platform may still differ
  /// from `kinds` (a different RAM size, another device).
  package init(nearest kinds: [StatementKind]) {
    for kind in kinds {
      switch kind {
      case .xen(let name): if let version = XenVersion(name: name) { xen = version }
      case .ipaBits(let bits): if Self.ipaSizes.contains(bits) { ipaBits = bits }
      case .llcColours: coloured = true
      case .iommu(let on): iommu = on
      case .hypercallCacheFlush(let on): hypercallCacheFlush = on
      case .linuxPolicy(let chosen): policy = chosen
      case .smmu(let name, let version, _, let iotlb):
        smmuVersion = version
        if let iotlb, Self.iotlbSizes.contains(iotlb) {
          iotlbEntries = iotlb
          format = .v2
        }
        if name == "smmu1" { gpuBehindSecondSMMU = true }
      case .domU(let domain) where domain.p2mPoolPages != nil:
        tightPool = true
        format = .v2
      case .device(let device):
        switch device.name {
        case "dsp": undescribedDSP = true
        case "mmc": untranslatedMMC = true
        case "pt":
          maskedStreams = true
          format = .v2
        case "vf":
          guestDevice = true
          format = .v2
        case "nic" where !device.streamMasks.isEmpty:
          maskedStreams = true
          format = .v2
        case "gpu":
          nonCoherentGPU = !device.coherent
          if case .smmu("smmu1", _, _) = device.placement { gpuBehindSecondSMMU = true }
        default: break
        }
      default: break
      }
    }
    let releases = coloured ? Self.colouredVersions : Self.versions
    if !releases.contains(xen) { xen = releases[0] }
  }

  // MARK: - Value pools
  //
  // A note on the pools: operations name values by index into these small
  // lists, so that almost every input does something meaningful — maps
  // over dom0's RAM and its 2 MiB block, the domU's pages, free GFNs
  // outside dom0's RAM where Linux puts grants, and the edges (the last
  // and first-beyond IPA, a page outside the domU).

  /// Pages of dom0's RAM: the first pages, one inside, the swiotlb pool's
  /// first page (the last 64 pages of dom0's bank) and dom0's last page.
  var dom0Pages: [UInt64] {
    [0, 1, 2, 0x10, 0x80, 0x100, 0x1C0, 0x1FF].map { Self.ramBase + $0 << pageShift }
  }

  /// Dom0 addresses for grants and foreign maps: free GFNs above dom0's
  /// RAM (two neighbours, the ends of a 2 MiB region), a dom0 RAM page
  /// (the mapping replaces it) and, without colouring, a GFN equal to a
  /// domU MFN (where Xen puts the 1:1 grant entry).
  var hostAddresses: [UInt64] {
    [0x5000_0000, 0x5000_1000, 0x5000_2000, 0x5000_3000, 0x501F_F000, 0x5020_0000, Self.ramBase + 0x10 << pageShift, Self.guestMachineBase + 0x1000]
  }

  /// Pages of the domU (guest addresses); the last is outside its RAM.
  var guestPages: [UInt64] {
    [0, 1, 2, 3, 4, 5, 0x3F, 0x200].map { Self.guestBase + $0 << pageShift }
  }

  /// GFNs for raw p2m updates, as addresses: the pools above, and the last
  /// page of the IPA space and the first beyond it (refused, XSA-301).
  var p2mAddresses: [UInt64] {
    Array(dom0Pages.prefix(4)) + Array(hostAddresses.prefix(4)) + Array(guestPages.prefix(6))
      + [(1 << UInt64(ipaBits)) - 0x1000, 1 << UInt64(ipaBits)]
  }

  /// Frames for raw p2m updates: dom0's, the domU's, free RAM, MMIO, and
  /// the top of a 32-bit space.
  var machineAddresses: [UInt64] {
    [Self.ramBase, Self.ramBase + 0x1000, Self.guestMachineBase, Self.guestMachineBase + 0x1000, Self.ramBase + (12 << 20),
     Self.ramBase + 0x20_0000, 0x0900_0000, 0xFFFF_F000]
  }

  /// DMA buffers start in a dom0 page or a grant/foreign address.
  var bufferPages: [UInt64] { dom0Pages + hostAddresses }
  /// Offsets into the page: aligned, middle, near the end (straddles with
  /// most sizes), small.
  static let bufferOffsets: [UInt64] = [0, 0x800, 0xFF0, 0x40]
  /// Sizes, smallest common first: the spec moves DMA data byte by byte,
  /// so small buffers keep the fuzzer fast; 0x40 at offset 0xFF0 already
  /// straddles two pages, and 12K crosses a third page boundary (a fourth
  /// page, at an offset), where a per-page IOTLB or bounce bug needs more
  /// than two pages to show.
  static let bufferSizes: [UInt64] = [0x40, 0x1000, 0x10, 0x2000, 0x3000]
  /// The valid p2m types, in Xen's order.
  static let p2mTypes = P2MType.allCases.filter(\.isValid)
  /// The types of a 1 GiB raw map: not foreign, since no hypercall maps a
  /// foreign 1 GiB block and Xen keeps no references at level 1
  /// (`p2m_put_page()`: "we don't handle level 1 super-page").
  static let gigabyteTypes = p2mTypes.filter { !$0.isForeign }
}
