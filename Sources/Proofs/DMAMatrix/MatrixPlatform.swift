import Claims
import Spec

/// The concrete platform every matrix cell runs on. The frame numbers the
/// proofs leave symbolic (which buffer page, which granted frame, where
/// coloured pages lie) range over what this platform can produce, and a
/// counterexample is replayed on it.
///
/// - 64 MiB of host RAM at 0x4000_0000; dom0 gets the first 32 MiB, with
///   its swiotlb pool in the last 256 KiB of it.
/// - Direct-mapped: the guest owns the next 16 MiB (0x4200_0000), seen at
///   guest address 0x1000_0000.
/// - Coloured: 16 colours, dom0 0–7 (host layout over the first 32 MiB),
///   the guest 8–15, 6144 pages at guest address 0x1000_0000. The
///   allocator serves both from the top of RAM (§5), so some of the
///   guest's frames lie inside dom0's GFN range: the host layout lets an
///   MFN used as a GFN land on a dom0 page (seed story b2).
/// - dom0 maps grants and foreign pages in an extended region at
///   0x8000_0000, a hole in the host memory map (Xen ≥ 4.16 extended
///   regions, fact sheet §2.6).
struct MatrixPlatform {
  static let ramStart: UInt64 = 0x40000
  static let ramPages: UInt64 = 0x4000
  static let dom0Pages: UInt64 = 0x2000
  static let poolStart: UInt64 = 0x41FC0
  static let poolPages: UInt64 = 0x40
  static let guestStart: UInt64 = 0x42000
  static let guestPages: UInt64 = 0x1000
  static let guestBase: UInt64 = 0x10000
  static let colouredGuestPages: UInt64 = 6144
  static let colourCount: UInt64 = 16
  static let dom0Colours = Array(0..<8)
  static let guestColours = Array(8..<16)
  static let extendedRegion: UInt64 = 0x80000
  static let extendedPages: UInt64 = 0x100
  static let stream: UInt64 = 0x10
  static let ipaBits = 40
  /// The guest that grants and lends its pages to dom0.
  static let guest = DomainID(1)

  var dom0Range: ClosedRange<UInt64> { Self.ramStart...(Self.ramStart + Self.dom0Pages - 1) }

  /// The frames of a coloured domain as an interval and a colour set,
  /// checked to describe exactly what the allocator handed out.
  struct ColouredFrames {
    var lowest: UInt64
    var highest: UInt64
    var colours: [Int]
    /// The domain's GFN of each frame.
    var gfnOfFrame: [UInt64: UInt64]
  }

  /// Frames of dom0 and of the guest on the coloured platform, read off a
  /// concrete boot (the allocator's result, fact sheet §5).
  let colouredDom0: ColouredFrames
  let colouredGuest: ColouredFrames

  init() throws {
    var xen = try XenState(
      version: .v4_20, ipaBits: 40, ram: [MemoryBank(start: MFN(Self.ramStart), pages: Self.ramPages)],
      colouring: LLCColouring(colourCount: Int(Self.colourCount)))
    try xen.createDomain(
      .dom0, memory: .colouredHostLayout(colours: Self.dom0Colours, banks: [MemoryBank(start: MFN(Self.ramStart), pages: Self.dom0Pages)]),
      iommuEnabled: true)
    try xen.createDomain(
      DomainID(1), memory: .coloured(colours: Self.guestColours, base: GFN(Self.guestBase), pages: Self.colouredGuestPages),
      iommuEnabled: false)
    colouredDom0 = try Self.frames(of: xen.domain(.dom0).p2m, colours: Self.dom0Colours)
    colouredGuest = try Self.frames(of: xen.domain(DomainID(1)).p2m, colours: Self.guestColours)
  }

  static func frames(of p2m: ReferenceP2M, colours: [Int]) throws -> ColouredFrames {
    var gfnOfFrame: [UInt64: UInt64] = [:]
    for (gfn, entry) in p2m.entries { gfnOfFrame[entry.mfn.rawValue] = gfn.rawValue }
    guard let lowest = gfnOfFrame.keys.min(), let highest = gfnOfFrame.keys.max() else {
      throw MatrixError.platform("a coloured domain without frames")
    }
    // The symbolic constraint is "in [lowest, highest] with an allowed
    // colour"; that must be exactly the set the allocator produced.
    let expected = (lowest...highest).filter { colours.contains(Int(llcColour(of: $0, colourCount: Int(colourCount)))) }.count
    guard expected == gfnOfFrame.count else {
      throw MatrixError.platform("the allocator's frames are not an interval per colour (\(gfnOfFrame.count) of \(expected))")
    }
    return ColouredFrames(lowest: lowest, highest: highest, colours: colours, gfnOfFrame: gfnOfFrame)
  }

  /// The scenario lines that build the platform of a cell.
  static func prefix(
    policy: DMAPolicy, layout: MatrixCell.Layout, device: MatrixCell.DeviceClass, version: XenVersion,
    coherent: Bool = false, maskBits: Int = 64, hypercallCacheFlush: Bool = true
  ) -> String {
    let properties = "\(coherent ? "coherent" : "non-coherent") dma-mask \(maskBits)"
    let deviceLine: String
    switch device {
    case .attached: deviceLine = "device dev smmu smmu0 streams \(hex(stream)) \(properties)"
    case .undescribed: deviceLine = "device dev smmu smmu0 streams \(hex(stream)) undescribed \(properties)"
    case .untranslated: deviceLine = "device dev untranslated \(properties)"
    }
    var lines = [
      "xen \(version.name)", "ipa-bits \(ipaBits)", "ram \(hex(ramStart << 12)) 64M",
    ]
    if layout == .coloured { lines.append("llc-colours \(colourCount)") }
    lines += [
      "iommu on", "hypercall-cflush \(hypercallCacheFlush ? "on" : "off")", "linux \(policy.rawValue)", "smmu smmu0 v2", deviceLine,
      "swiotlb \(hex(poolStart << 12)) 256K",
      layout == .direct ? "dom0 direct-mapped memory 32M" : "dom0 coloured 0-7 memory 32M",
      layout == .direct
        ? "domu guest id 1 memory \(hex(guestStart << 12)) 16M base \(hex(guestBase << 12))"
        : "domu guest id 1 coloured 8-15 pages \(colouredGuestPages) base \(hex(guestBase << 12))",
    ]
    return lines.joined(separator: "\n") + "\n"
  }
}

enum MatrixError: Error, CustomStringConvertible {
  case platform(String)
  var description: String {
    switch self {
    case .platform(let why): "matrix platform: \(why)"
    }
  }
}
