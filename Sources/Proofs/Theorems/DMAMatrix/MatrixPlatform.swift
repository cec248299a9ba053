import Claims
import Scenario
import Spec

/// The platforms a matrix claim holds for, as words: symbolic in the
/// proofs (every platform of the class at once), concrete for a
/// counterexample's platform and for the boots that check the class
/// against the spec (`MatrixPlatformTests`).
///
/// The class is what a scenario can describe and the spec's boot builds
/// (`ScenarioMachine.Declaration.boot(layout:size:)`, `XenState.createDomain`):
/// - host RAM in one or two banks (the second may be empty), above one
///   another with a hole between, inside the IPA size (Xen's IPA size is
///   the PA size, `p2m_restrict_ipa_bits()`, so RAM lies below it);
/// - the IPA size: 32, 36, 40, 42, 44 or 48 bits (`pa_range_info`);
/// - dom0: the first `dom0Pages` of host RAM, bank by bank
///   (`ScenarioMachine.Declaration.dom0Banks(size:)`), 1:1 when direct-mapped (§2.3), or a
///   coloured dom0 with that host layout whose frames come from the
///   coloured allocator (§5);
/// - Linux's swiotlb pool: 256 KiB (the largest single bounce,
///   `IO_TLB_SEGSIZE` slots, so any larger pool adds only slots a fresh
///   pool never uses) anywhere inside one of dom0's banks (a memblock
///   allocation is contiguous);
/// - the extended region where dom0 maps grants and foreign pages: a hole
///   in the host memory map inside the IPA size (`b6fe410936`, Xen 4.16:
///   with the IOMMU on, extended regions come from holes, fact sheet §2.6);
/// - the guest: direct platforms give it a host range outside dom0's RAM
///   mapped linearly from `guestBase`; coloured ones `guestPages` pages
///   of its own colours from `guestBase`;
/// - colours (coloured layout): 2^`colourBits` of them, 2 to 64, dom0's
///   and the guest's sets non-empty, disjoint bitmasks.
///
/// Not in the class: more than two banks, dom0 banks other than the first
/// RAM (Xen ≥ 4.20's `allocate_memory` picks 2 MiB-aligned largest-first
/// ranges; the spec's scenario boot takes the first), overlapping colour
/// sets, the buddy reserve of the coloured heap.
struct MatrixPlatform<W: Word> {
  let layout: MatrixCell.Layout
  var ipaBits: W
  /// Exactly two banks; the second may be empty.
  var ram: [FrameRun<W>]
  /// Where dom0's RAM ends in each bank: it fills bank 0 from its start,
  /// then bank 1.
  var dom0Ends: [W]
  /// dom0 pfn of the pool's first page.
  var poolStart: W
  var extendedRegion: FrameRun<W>
  /// The guest's host frames on a direct platform (unused when coloured).
  var guestHostFrames: FrameRun<W>
  /// The guest's GFNs.
  var guestGFNs: FrameRun<W>
  /// log2 of the number of colours, and the colour sets as bitmasks
  /// (unused on a direct platform).
  var colourBits: W
  var dom0Colours: W
  var guestColours: W

  var dom0Banks: [FrameRun<W>] { zip(ram, dom0Ends).map { FrameRun(start: $0.start, end: $1) } }
  var dom0Pages: W { dom0Banks[0].pages &+ dom0Banks[1].pages }
  var guestPages: W { guestGFNs.pages }
  var guestHost: W { guestHostFrames.start }
  var guestBase: W { guestGFNs.start }

  /// 2^(ipaBits − 12) and 2^colourBits as a choice among the class's
  /// values rather than a shift by a variable, which is far cheaper for
  /// the solver.
  var gfnLimit: W { Self.power(of: ipaBits, among: Self.ipaSizes, minus: UInt64(pageShift)) }
  var colourCount: W { Self.power(of: colourBits, among: Array(1...6), minus: 0) }
  static var ipaSizes: [UInt64] { [32, 36, 40, 42, 44, 48] }

  /// 2^(bits − minus) for `bits` one of `choices`.
  static func power(of bits: W, among choices: [UInt64], minus: UInt64) -> W {
    choose(bits, among: choices) { bits.constant(1 << ($0 - minus)) }
  }

  /// `value(bits)` for `bits` one of `choices` (the last choice otherwise;
  /// the hypotheses rule that out), as a chain of selects.
  static func choose(_ bits: W, among choices: [UInt64], _ value: (UInt64) -> W) -> W {
    choices.dropLast().reversed().reduce(value(choices.last!)) { rest, choice in W.select(bits == choice, value(choice), rest) }
  }
  var pool: FrameRun<W> { FrameRun(start: poolStart, pages: poolStart.constant(MatrixConstants.poolPages)) }

  func inRAM(_ frame: W) -> W.Condition { ram[0].contains(frame) || ram[1].contains(frame) }
  func inDom0(_ gfn: W) -> W.Condition { dom0Banks[0].contains(gfn) || dom0Banks[1].contains(gfn) }

  /// Whether the frame's colour (``llcColour(of:colourCount:)``) is in the
  /// bitmask `colours`.
  func hasColour(_ frame: W, in colours: W) -> W.Condition {
    colours.logicalShiftedRight(by: llcColour(of: frame, colourCount: colourCount)) & 1 == 1
  }

  /// The frames Xen's boot may give dom0's RAM: its own banks 1:1, or, when
  /// coloured, any RAM frame of its colours (the allocator's exact choice
  /// is pinned per counterexample, from a concrete boot of its platform).
  func mayBeDom0Frame(_ frame: W) -> W.Condition {
    switch layout {
    case .direct: inDom0(frame)
    case .coloured: inRAM(frame) && hasColour(frame, in: dom0Colours)
    }
  }

  /// The frames the guest owns: its host range, or, when coloured, RAM
  /// frames of its colours (an over-approximation, as for dom0).
  func guestOwns(_ frame: W) -> W.Condition {
    switch layout {
    case .direct: guestHostFrames.contains(frame)
    case .coloured: inRAM(frame) && hasColour(frame, in: guestColours)
    }
  }

  /// `perColour` times the number of colours in the mask, as a sum of
  /// selects (no multiplier for the solver).
  static func frames(perColour: W, colours mask: W) -> W {
    (0..<64).reduce(mask.constant(0)) { sum, bit in
      sum &+ W.select(mask >> bit & 1 == 1, perColour, mask.constant(0))
    }
  }

  /// The platform class's ranges and boot invariants.
  var hypotheses: [NamedHypothesis<W.Condition>] {
    let limit = gfnLimit
    let ipaSizes = Self.ipaSizes.map { ipaBits == $0 }.reduce(ipaBits.condition(false)) { $0 || $1 }
    func bounded(_ run: FrameRun<W>) -> W.Condition { run.start <= run.end && run.end <= limit }
    var facts: [NamedHypothesis<W.Condition>] = [
      NamedHypothesis(name: "ipa-size (32, 36, 40, 42, 44 or 48 bits)", holds: ipaSizes),
      NamedHypothesis(
        name: "ram (one or two banks, ascending with a hole between, below 2^ipa-size)",
        holds: !ram[0].isEmpty && bounded(ram[0]) && bounded(ram[1]) && (ram[1].isEmpty || ram[0].end < ram[1].start)),
      NamedHypothesis(
        name: "dom0-size (1 page up to all RAM, bank 0 first)",
        holds: !dom0Banks[0].isEmpty && dom0Banks[0].isInside(ram[0]) && dom0Banks[1].isInside(ram[1])
          && (dom0Banks[1].isEmpty || dom0Ends[0] == ram[0].end)),
      NamedHypothesis(
        name: "swiotlb-pool (256 KiB inside one dom0 bank)",
        holds: poolStart <= limit && (pool.isInside(dom0Banks[0]) || pool.isInside(dom0Banks[1]))),
      NamedHypothesis(
        name: "extended-region (a hole in host RAM, below 2^ipa-size)",
        holds: !extendedRegion.isEmpty && bounded(extendedRegion) && extendedRegion.isDisjoint(from: ram[0])
          && extendedRegion.isDisjoint(from: ram[1])),
      NamedHypothesis(
        name: "guest-gfns (1 to 2^20 pages, below 2^ipa-size)",
        holds: !guestGFNs.isEmpty && bounded(guestGFNs) && guestGFNs.pages <= 1 << 20),
    ]
    switch layout {
    case .direct:
      let host = guestHostFrames
      facts.append(
        NamedHypothesis(
          name: "guest-memory (a host range in one RAM bank, outside dom0's)",
          holds: (host.isInside(ram[0]) || host.isInside(ram[1])) && host.isDisjoint(from: dom0Banks[0])
            && host.isDisjoint(from: dom0Banks[1]) && host.pages == guestGFNs.pages))
    case .coloured:
      // The colours that exist: bits 0 to count − 1.
      let existing = Self.choose(colourBits, among: Array(1...6)) { bits in colourBits.constant(bits == 6 ? .max : (1 << (1 << bits)) - 1) }
      // Each colour has at least ⌊pages / count⌋ frames in a bank, so a
      // set of k colours holds k × Σ⌊bank / count⌋ frames at least.
      let perColour = Self.choose(colourBits, among: Array(1...6)) { bits in
        ram[0].pages >> Int(bits) &+ ram[1].pages >> Int(bits)
      }
      facts += [
        NamedHypothesis(name: "colours (2 to 64, a power of two)", holds: colourBits >= 1 && colourBits <= 6),
        NamedHypothesis(
          name: "colour-sets (non-empty, existing, disjoint)",
          holds: dom0Colours != 0 && guestColours != 0 && dom0Colours & ~existing == 0 && guestColours & ~existing == 0
            && dom0Colours & guestColours == 0),
        NamedHypothesis(
          name: "coloured-sizes (each domain fits in its colours' frames)",
          holds: dom0Pages <= Self.frames(perColour: perColour, colours: dom0Colours)
            && guestPages <= Self.frames(perColour: perColour, colours: guestColours)),
      ]
    }
    return facts
  }

  /// The same platform with every word transformed (read from a model, or
  /// made symbolic).
  func map<V: Word>(_ transform: (W) throws -> V) rethrows -> MatrixPlatform<V> {
    try named { _, word in try transform(word) }
  }

  /// ``map(_:)`` with each word's name (`ram0_start`, `ipa_bits`, …).
  func named<V: Word>(_ transform: (String, W) throws -> V) rethrows -> MatrixPlatform<V> {
    func run(_ name: String, _ run: FrameRun<W>) throws -> FrameRun<V> {
      FrameRun(start: try transform("\(name)_start", run.start), end: try transform("\(name)_end", run.end))
    }
    return MatrixPlatform<V>(
      layout: layout, ipaBits: try transform("ipa_bits", ipaBits),
      ram: [try run("ram0", ram[0]), try run("ram1", ram[1])],
      dom0Ends: [try transform("dom0_end0", dom0Ends[0]), try transform("dom0_end1", dom0Ends[1])],
      poolStart: try transform("pool_start", poolStart), extendedRegion: try run("extended", extendedRegion),
      guestHostFrames: try run("guest_host", guestHostFrames), guestGFNs: try run("guest_gfns", guestGFNs),
      colourBits: try transform("colour_bits", colourBits), dom0Colours: try transform("dom0_colours", dom0Colours),
      guestColours: try transform("guest_colours", guestColours))
  }

  /// Every word with its name.
  var words: [(name: String, word: W)] {
    var all: [(String, W)] = []
    _ = named { name, word -> W in
      all.append((name, word))
      return word
    }
    return all
  }
}

extension MatrixPlatform<UInt64> {
  /// The platform the matrix was first decided on, and the first values a
  /// counterexample tries: 64 MiB of RAM at 0x4000_0000, dom0 the first
  /// 32 MiB with its pool in the last 256 KiB, the guest the next 16 MiB
  /// (direct) or 6144 pages of colours 8–15 of 16 (coloured), at guest
  /// address 0x1000_0000; grants and foreign maps at 0x8000_0000.
  static func reference(_ layout: MatrixCell.Layout) -> Self {
    MatrixPlatform(
      layout: layout, ipaBits: 40, ram: [FrameRun(start: 0x40000, pages: 0x4000), FrameRun(start: 0, end: 0)],
      dom0Ends: [0x42000, 0], poolStart: 0x41FC0, extendedRegion: FrameRun(start: 0x80000, pages: 0x100),
      guestHostFrames: layout == .direct ? FrameRun(start: 0x42000, pages: 0x1000) : FrameRun(start: 0, end: 0),
      guestGFNs: FrameRun(start: 0x10000, pages: layout == .direct ? 0x1000 : 6144),
      colourBits: 4, dom0Colours: 0x00FF, guestColours: 0xFF00)
  }

  /// Xen's colour-list syntax for a mask: `0-7,12`.
  static func colourList(_ mask: UInt64) -> String {
    var parts: [String] = []
    var bit = 0
    while bit < 64 {
      guard mask >> UInt64(bit) & 1 == 1 else {
        bit += 1
        continue
      }
      var last = bit
      while last + 1 < 64 && mask >> UInt64(last + 1) & 1 == 1 { last += 1 }
      parts.append(last == bit ? "\(bit)" : "\(bit)-\(last)")
      bit = last + 1
    }
    return parts.joined(separator: ",")
  }

  var ramPages: UInt64 { ram[0].pages &+ ram[1].pages }

  var ramBanks: [MemoryBank] { ram.filter { $0.pages > 0 }.map { MemoryBank(start: MFN($0.start), pages: $0.pages) } }

  /// One line saying which platform this is, for reports.
  var summary: String {
    var text = "RAM " + ramBanks.map { "\(hex($0.start.address))+\(hex($0.pages << pageShift))" }.joined(separator: ", ")
    text += ", dom0 \(hex(dom0Pages << pageShift)), pool \(hex(poolStart << pageShift)), extended \(hex(extendedRegion.start << pageShift))+\(hex(extendedRegion.pages << pageShift))"
    text += ", IPA \(ipaBits) bits"
    if layout == .coloured {
      text += ", \(1 << colourBits) colours (dom0 \(Self.colourList(dom0Colours)), guest \(Self.colourList(guestColours)))"
    }
    return text
  }

  /// The scenario lines that build this platform for a cell.
  func prefix(
    policy: DMAPolicy, device: MatrixCell.DeviceClass, version: XenVersion,
    coherent: Bool = false, maskBits: Int = 64, hypercallCacheFlush: Bool = true
  ) -> String {
    let properties = "\(coherent ? "coherent" : "non-coherent") dma-mask \(maskBits)"
    let deviceLine: String
    switch device {
    case .attached: deviceLine = "device dev smmu smmu0 streams \(hex(MatrixConstants.stream)) \(properties)"
    case .undescribed: deviceLine = "device dev smmu smmu0 streams \(hex(MatrixConstants.stream)) undescribed \(properties)"
    case .untranslated: deviceLine = "device dev untranslated \(properties)"
    }
    var lines = ["xen \(version.name)", "ipa-bits \(ipaBits)"]
    lines += ramBanks.map { "ram \(hex($0.start.address)) \(ScenarioPrinter.sizeText($0.pages << pageShift))" }
    if layout == .coloured { lines.append("llc-colours \(1 << colourBits)") }
    lines += [
      "iommu on", "hypercall-cflush \(hypercallCacheFlush ? "on" : "off")", "linux \(policy.rawValue)", "smmu smmu0 v2", deviceLine,
      "swiotlb \(hex(poolStart << pageShift)) \(ScenarioPrinter.sizeText(MatrixConstants.poolPages << pageShift))",
      layout == .direct
        ? "dom0 direct-mapped memory \(ScenarioPrinter.sizeText(dom0Pages << pageShift))"
        : "dom0 coloured \(Self.colourList(dom0Colours)) memory \(ScenarioPrinter.sizeText(dom0Pages << pageShift))",
      layout == .direct
        ? "domu guest id 1 memory \(hex(guestHost << pageShift)) \(ScenarioPrinter.sizeText(guestPages << pageShift)) base \(hex(guestBase << pageShift))"
        : "domu guest id 1 coloured \(Self.colourList(guestColours)) pages \(guestPages) base \(hex(guestBase << pageShift))",
    ]
    return lines.joined(separator: "\n") + "\n"
  }

  /// The frames a concrete boot of this platform gives dom0 and the guest
  /// (GFN of each frame), by the spec's own boot: what a coloured
  /// counterexample is pinned to.
  func boot() throws -> (dom0: [UInt64: UInt64], guest: [UInt64: UInt64]) {
    let text = prefix(policy: .legacy, device: .attached, version: .v4_20)
    var execution = ScenarioExecution()
    for statement in try ScenarioParser.parse(text).statements {
      let step = try execution.execute(statement)
      guard step.succeeded else { throw MatrixError.platform("the platform did not boot: \(step.result)\n\(text)") }
    }
    func frames(_ id: DomainID) throws -> [UInt64: UInt64] {
      guard let domain = execution.xen?.domains[id] else { throw MatrixError.platform("\(id) was not created\n\(text)") }
      var gfnOfFrame: [UInt64: UInt64] = [:]
      for (gfn, entry) in domain.p2m.entries { gfnOfFrame[entry.mfn.rawValue] = gfn.rawValue }
      return gfnOfFrame
    }
    return (try frames(.dom0), try frames(MatrixConstants.guest))
  }
}
