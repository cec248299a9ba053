import Claims
import Spec
import Testing

@testable import Proofs

/// The platform class of the matrix claims against the spec's own boots:
/// for random platforms of the class, the hypotheses hold (the generator
/// stays in the class), the spec boots them, and what the boot builds is
/// what the hypotheses say a boot builds.
@Suite("Matrix platform class")
struct MatrixPlatformTests {
  /// A random platform of the class: RAM in one or two banks below the IPA
  /// size, dom0 the first part of RAM with the pool in one of its banks, an
  /// extended region in a hole, the guest outside dom0 (direct) or with
  /// its own colours (coloured). Sizes stay small so that the boots are
  /// quick; places range over the whole address space.
  static func randomPlatform(_ layout: MatrixCell.Layout, _ random: inout SplitMix64) -> MatrixPlatform<UInt64> {
    let ipaBits = UInt64([32, 36, 40, 42, 44, 48].randomElement(using: &random)!)
    let limit: UInt64 = 1 << (ipaBits - 12)
    let twoBanks = Bool.random(using: &random)
    let pages0 = UInt64.random(in: 0x1000...0x3000, using: &random)
    let pages1 = twoBanks ? UInt64.random(in: 0x100...0x2000, using: &random) : 0
    // Bank 0, a hole of at least one page, bank 1, and room for an
    // extended region below the limit.
    let start0 = UInt64.random(in: 0...(limit / 2 - pages0 - 1), using: &random)
    let start1 = twoBanks ? UInt64.random(in: (start0 + pages0 + 1)...(limit - pages1 - 1), using: &random) : 0
    let ram = [FrameRun(start: start0, pages: pages0), FrameRun(start: start1, pages: pages1)]
    var platform = MatrixPlatform<UInt64>.reference(layout)
    platform.ipaBits = ipaBits
    platform.ram = ram
    var guestPages: UInt64
    var dom0Pages: UInt64
    switch layout {
    case .direct:
      guestPages = UInt64.random(in: 0x10...0x200, using: &random)
      // dom0 leaves room for the guest at the end of the last bank.
      dom0Pages = UInt64.random(in: 0x80...(pages0 + pages1 - guestPages), using: &random)
      let last = twoBanks ? ram[1] : ram[0]
      let dom0InLast = twoBanks ? dom0Pages - min(dom0Pages, pages0) : dom0Pages
      let host: UInt64
      if twoBanks && dom0Pages < pages0 && pages0 - dom0Pages >= guestPages && Bool.random(using: &random) {
        host = UInt64.random(in: (start0 + dom0Pages)...(start0 + pages0 - guestPages), using: &random)
      } else {
        host = UInt64.random(in: (last.start + dom0InLast)...(last.end - guestPages), using: &random)
      }
      platform.guestHostFrames = FrameRun(start: host, pages: guestPages)
    case .coloured:
      platform.colourBits = UInt64.random(in: 1...6, using: &random)
      let count = UInt64(1) << platform.colourBits
      let colours = Array(0..<count).shuffled(using: &random)
      let dom0Count = Int.random(in: 1..<Int(count), using: &random)
      let guestCount = Int.random(in: 1...(Int(count) - dom0Count), using: &random)
      let dom0 = colours[..<dom0Count].reduce(UInt64(0)) { $0 | 1 << $1 }
      let guest = colours[dom0Count..<(dom0Count + guestCount)].reduce(UInt64(0)) { $0 | 1 << $1 }
      platform.dom0Colours = dom0
      platform.guestColours = guest
      let perColour = (pages0 >> platform.colourBits) + (pages1 >> platform.colourBits)
      let dom0Room = UInt64(dom0.nonzeroBitCount) * perColour
      dom0Pages = UInt64.random(in: min(0x80, dom0Room)...dom0Room, using: &random)
      guestPages = UInt64.random(in: 1...(UInt64(guest.nonzeroBitCount) * perColour), using: &random)
    }
    let inFirst = min(dom0Pages, pages0)
    platform.dom0Ends = [start0 + inFirst, start1 + (dom0Pages - inFirst)]
    // The pool in a dom0 bank with room for it.
    let dom0Banks = platform.dom0Banks.filter { $0.pages >= MatrixConstants.poolPages }
    let bank = dom0Banks.randomElement(using: &random)!
    platform.poolStart = UInt64.random(in: bank.start...(bank.end - MatrixConstants.poolPages), using: &random)
    // The extended region: above the highest bank, or in the hole between.
    let top = (twoBanks ? ram[1] : ram[0]).end
    if twoBanks && Bool.random(using: &random) {
      let hole = FrameRun(start: ram[0].end, end: ram[1].start)
      let pages = UInt64.random(in: 1...min(hole.pages, 0x1000), using: &random)
      platform.extendedRegion = FrameRun(start: UInt64.random(in: hole.start...(hole.end - pages), using: &random), pages: pages)
    } else {
      let pages = UInt64.random(in: 1...min(limit - top, 0x1000), using: &random)
      platform.extendedRegion = FrameRun(start: UInt64.random(in: top...(limit - pages), using: &random), pages: pages)
    }
    platform.guestGFNs = FrameRun(start: UInt64.random(in: 0...(limit - guestPages), using: &random), pages: guestPages)
    return platform
  }

  static let seeds = Array(1...25)

  @Test("random platforms of the class boot as the hypotheses say", arguments: MatrixCell.Layout.allCases, seeds)
  func boots(_ layout: MatrixCell.Layout, seed: Int) throws {
    var random = SplitMix64(seed: UInt64(seed))
    let platform = Self.randomPlatform(layout, &random)
    for hypothesis in platform.hypotheses {
      #expect(hypothesis.holds, "\(hypothesis.name) fails on \(platform.summary)")
    }
    let (dom0, guest) = try platform.boot()
    // dom0: exactly its banks' GFNs (count and membership), each on a frame
    // the boot invariant allows, 1:1 when direct-mapped, distinct frames.
    #expect(UInt64(dom0.count) == platform.dom0Pages, "\(platform.summary)")
    for (frame, gfn) in dom0 {
      #expect(platform.inDom0(gfn), "dom0 GFN \(hex(gfn)) outside its banks on \(platform.summary)")
      #expect(platform.mayBeDom0Frame(frame), "dom0 frame \(hex(frame)) not allowed on \(platform.summary)")
      if layout == .direct { #expect(frame == gfn) }
    }
    // The guest: exactly `guestPages` frames it owns at GFNs of its range,
    // linear over its host range when direct.
    #expect(UInt64(guest.count) == platform.guestPages, "\(platform.summary)")
    for (frame, gfn) in guest {
      #expect(platform.guestOwns(frame), "guest frame \(hex(frame)) not allowed on \(platform.summary)")
      #expect(platform.guestGFNs.contains(gfn))
      #expect(!platform.mayBeDom0Frame(frame))
      if layout == .direct { #expect(gfn == frame - platform.guestHost + platform.guestBase) }
    }
    // The pool is dom0 RAM, the extended region is not RAM.
    for page in platform.pool.start..<platform.pool.end { #expect(platform.inDom0(page)) }
    #expect(!platform.inRAM(platform.extendedRegion.start) && !platform.inRAM(platform.extendedRegion.end - 1))
  }

  @Test("a coloured boot's frames are the runs a counterexample is pinned to")
  func colourRuns() throws {
    var random = SplitMix64(seed: 7)
    let platform = Self.randomPlatform(.coloured, &random)
    let (dom0, guest) = try platform.boot()
    let count = UInt64(1) << platform.colourBits
    for frames in [Array(dom0.keys), Array(guest.keys)] {
      let runs = ColourRuns(frames, colourCount: count)
      let members = runs.runs.reduce(0) { $0 + Int(($1.last - $1.first) / count) + 1 }
      #expect(members == frames.count)
    }
  }

  @Test("the reference platform is in the class and boots")
  func reference() throws {
    for layout in MatrixCell.Layout.allCases {
      let platform = MatrixPlatform<UInt64>.reference(layout)
      #expect(platform.hypotheses.allSatisfy { $0.holds })
      let (dom0, guest) = try platform.boot()
      #expect(UInt64(dom0.count) == platform.dom0Pages && UInt64(guest.count) == platform.guestPages)
    }
  }

  @Test("colour lists print in Xen's syntax")
  func colourList() {
    #expect(MatrixPlatform<UInt64>.colourList(0x00FF) == "0-7")
    #expect(MatrixPlatform<UInt64>.colourList(0b1011_0001) == "0,4-5,7")
    #expect(MatrixPlatform<UInt64>.colourList(1 << 63) == "63")
  }
}
