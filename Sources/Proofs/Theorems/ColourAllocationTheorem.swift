import Spec
import SymbolicWord

/// `colour.allocation`: the coloured allocator's pages have an allowed
/// colour and are distinct, so domains with disjoint colours never share a
/// frame, and different colours never share a cache set (fact sheet §5:
/// colour = mfn & (N−1)).
///
/// Two parts. The allocator runs concretely (the spec's `ColouredAllocator`
/// through `XenState.createDomain`) and every frame it handed out is
/// checked: distinct, of an allowed colour (exhaustive over the
/// allocation). Then, symbolically, the reason colouring isolates caches:
/// for all physical addresses, frames of different colours never index the
/// same LLC set, when the way size is N pages (`max_nr_colors = way_size >>
/// PAGE_SHIFT`, xen/common/llc-coloring.c) and lines are 64 bytes.
enum ColourAllocationTheorem {
  static func theorem(colourOf: @escaping @Sendable (SymbolicWord, UInt64) -> SymbolicWord = { frame, count in llcColour(of: frame, colourCount: Int(count)) }) -> Theorem {
    Theorem(name: "colour.allocation", summary: "coloured pages have allowed colours and are distinct; frames of different colours never share an LLC set") { session in
      var findings: [Finding] = []
      for (count, dom0Colours, guestColours) in [(16, Array(0..<8), Array(8..<16)), (8, [0, 2, 4, 6], [1, 3, 5, 7]), (64, Array(0..<16), Array(60..<64))] {
        var xen = try XenState(
          version: .v4_20, ipaBits: 40, ram: [MemoryBank(start: MFN(0x40000), pages: 0x4000)], colouring: LLCColouring(colourCount: count))
        try xen.createDomain(.dom0, memory: .colouredHostLayout(colours: dom0Colours, banks: [MemoryBank(start: MFN(0x40000), pages: 0x1000)]), iommuEnabled: true)
        try xen.createDomain(DomainID(1), memory: .coloured(colours: guestColours, base: GFN(0x10000), pages: 0x400), iommuEnabled: false)
        let allocations = [try xen.domain(.dom0).p2m, try xen.domain(DomainID(1)).p2m].map { p2m in p2m.entries.values.map(\.mfn.rawValue) }
        // Concretely: every frame distinct, each with an allowed colour.
        let all = allocations.flatMap { $0 }
        let distinct = Set(all).count == all.count
        let coloured = zip(allocations, [dom0Colours, guestColours]).allSatisfy { frames, colours in
          frames.allSatisfy { colours.contains(Int(llcColour(of: $0, colourCount: count))) }
        }
        findings.append(
          Finding(
            claim: "colour.allocation[\(count) colours].allocated", verdict: distinct && coloured ? .proved : .refuted,
            reason: distinct && coloured ? "" : "the allocator gave a frame twice or with a colour not asked for", seconds: 0))
        // Symbolically: different colours, different cache sets.
        let a = try session.word("pa_a")
        let b = try session.word("pa_b")
        let lineShift = 6
        let sets = UInt64(count) * pageSize >> UInt64(lineShift)
        func setIndex(_ pa: SymbolicWord) -> SymbolicWord { (pa >> lineShift) & (sets - 1) }
        let claim = (colourOf(a >> pageShift, UInt64(count)) != colourOf(b >> pageShift, UInt64(count))).implies(setIndex(a) != setIndex(b))
        findings.append(
          try session.decide("colour.allocation[\(count) colours].cache-sets", claim: claim, hypotheses: []) { model in
            let (va, vb) = (try model.value(of: a.term), try model.value(of: b.term))
            return ("\(hex(va)) and \(hex(vb)) differ in colour but share LLC set \(hex((va >> 6) & (sets - 1)))", nil, nil, ["pa_a": va, "pa_b": vb])
          })
      }
      return findings
    }
  }
}
