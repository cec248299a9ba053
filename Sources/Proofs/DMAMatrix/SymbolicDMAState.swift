import Claims
import Foundation
import Solver
import Spec
import SymbolicWord

/// The symbolic state of one DMA cell: which buffer (page, offset, size),
/// which guest frames back it when it is a grant or foreign page, and — on
/// a coloured dom0 — where dom0's pages lie, all as Z3 terms constrained by
/// the platform's invariants (``MatrixPlatform``).
///
/// dom0's p2m is read through ``lookup(_:)``: the p2m map of the spec
/// (`ReferenceP2M`, fact sheet §1.4), built from the layout and the
/// cell's grant or foreign mappings. The theorems `walk.regression` and
/// `p2m.regression` connect this map to the descriptor tables the SMMU
/// walks; replaying each counterexample through the runner, which does
/// walk them, checks the connection on every refutation.
final class SymbolicDMAState {
  /// Deliberately broken variants, for the tests that show the theorem
  /// can fail (each re-creates a bug pattern of the fact sheet's §8).
  enum Mutation {
    /// The 1:1 `iommu_map` grant entry is never made (`04085ec1ac`'s bug
    /// on a release that has the fix).
    case noOneToOneGrantEntry
  }

  let session: ProofSession
  let platform: MatrixPlatform
  let layout: MatrixCell.Layout
  let page: MatrixCell.PageKind
  let shape: MatrixCell.Shape
  let xen: MatrixCell.XenFix
  let mutation: Mutation?

  /// dom0 pfn of the buffer's first page, its offset and size.
  let bufferPage: SymbolicWord
  let offset: SymbolicWord
  let size: SymbolicWord
  /// The guest frames granted or lent (one per buffer page).
  let guestFrames: [SymbolicWord]
  /// The device and what Linux knows of Xen, left open: 1 if the device is
  /// DMA-coherent, its DMA mask width (32 to 64 bits), 1 if Xen has
  /// GNTTABOP_cache_flush.
  let coherent: SymbolicWord
  let maskBits: SymbolicWord
  let hypercallCacheFlush: SymbolicWord
  /// dom0's GFN → MFN on a coloured layout: an uninterpreted array,
  /// constrained at every point it is read.
  let colouredMap: Term?
  /// Every point at which the coloured map was read, for the constraints.
  private(set) var colouredPoints: [SymbolicWord] = []

  /// Pages the buffer spans: 1 or 2 in the matrix; up to 16 when timing
  /// how the proofs grow (BENCHMARKS.md).
  let pageCount: Int
  var bufferAddress: SymbolicWord { bufferPage.shiftedLeft(by: session.constant(12)) | offset }

  init(
    session: ProofSession, platform: MatrixPlatform, layout: MatrixCell.Layout, page: MatrixCell.PageKind, shape: MatrixCell.Shape,
    xen: MatrixCell.XenFix, mutation: Mutation? = nil, pages: Int? = nil
  ) throws {
    self.mutation = mutation
    pageCount = pages ?? (shape == .onePage ? 1 : 2)
    self.session = session
    self.platform = platform
    self.layout = layout
    self.page = page
    self.shape = shape
    self.xen = xen
    bufferPage = try session.word("buffer_pfn")
    offset = try session.word("offset")
    size = try session.word("size")
    guestFrames = page == .local ? [] : try (0..<pageCount).map { try session.word("guest_mfn\($0)") }
    coherent = try session.word("coherent")
    maskBits = try session.word("dma_mask_bits")
    hypercallCacheFlush = try session.word("hypercall_cflush")
    if layout == .coloured {
      let bv64 = try session.context.bitVectorSort(width: 64)
      colouredMap = try session.context.constant("dom0_p2m", sort: session.context.arraySort(domain: bv64, range: bv64))
    } else {
      colouredMap = nil
    }
  }

  /// dom0's p2m at `gfn`: whether something is mapped, and its MFN. Every
  /// mapping in the cells is writable (`ram_rw`, `grant_map_rw`,
  /// `map_foreign_rw`, `iommu_map_rw`), so permissions never fault.
  func lookup(_ gfn: SymbolicWord) throws(SolverError) -> (mapped: SymbolicBool, mfn: SymbolicWord) {
    let dom0 = platform.dom0Range
    let inDom0 = gfn >= dom0.lowerBound && gfn <= dom0.upperBound
    var mapped = inDom0
    var mfn: SymbolicWord
    switch layout {
    case .direct:
      mfn = gfn  // direct-mapped: GFN = MFN for dom0's RAM (§2.3)
    case .coloured:
      mfn = try SymbolicWord(colouredMap!.select(gfn.term))
      colouredPoints.append(gfn)
    }
    // Grant and foreign entries at the GFNs dom0 chose (§2.1, §2.4); they
    // replace what was there.
    for (k, frame) in guestFrames.enumerated() {
      let at = gfn == bufferPage &+ UInt64(k)
      mapped = SymbolicBool.select(at, at, mapped)
      mfn = SymbolicWord.select(at, frame, mfn)
    }
    // The 1:1 iommu_map entry for each grant: only a direct-mapped dom0
    // with the IOMMU on, and only after 04085ec1ac (§2.1, §8).
    if page == .grant && Self.specMakesOneToOneGrantEntries(layout: layout, xen: xen) && mutation != .noOneToOneGrantEntry {
      for frame in guestFrames {
        let at = gfn == frame
        mapped = SymbolicBool.select(at, at, mapped)
        mfn = SymbolicWord.select(at, frame, mfn)
      }
    }
    return (mapped, mfn)
  }

  /// Whether dom0 gets 1:1 IOMMU entries for its grant maps, asked of the
  /// spec itself (`XenState.needsGrantIOMMUMapping`, Arm's
  /// `gnttab_need_iommu_mapping`) on a dom0 of this layout with the IOMMU
  /// on, under the release on this side of `04085ec1ac` (4.14 / 4.20), so
  /// that a wrong predicate in the spec shows in the matrix (issue 9: the
  /// mutant re-creating `04085ec1ac` escaped a hand-written copy of it).
  static func specMakesOneToOneGrantEntries(layout: MatrixCell.Layout, xen: MatrixCell.XenFix) -> Bool {
    let key = "\(layout.rawValue)/\(xen.rawValue)"
    oneToOneLock.lock()
    defer { oneToOneLock.unlock() }
    if let known = oneToOneCache[key] { return known }
    let answer: Bool
    do {
      let ram = MemoryBank(start: MFN(MatrixPlatform.ramStart), pages: MatrixPlatform.ramPages)
      let dom0Bank = MemoryBank(start: MFN(MatrixPlatform.ramStart), pages: MatrixPlatform.dom0Pages)
      var state = try XenState(
        version: xen == .after ? .v4_20 : .v4_14, ipaBits: 40, ram: [ram],
        colouring: layout == .coloured ? LLCColouring(colourCount: Int(MatrixPlatform.colourCount)) : nil)
      try state.createDomain(
        .dom0,
        memory: layout == .coloured
          ? .colouredHostLayout(colours: MatrixPlatform.dom0Colours, banks: [dom0Bank]) : .directMapped(banks: [dom0Bank]),
        iommuEnabled: true)
      answer = state.needsGrantIOMMUMapping(.dom0)
    } catch {
      preconditionFailure("the matrix's minimal dom0 (\(key)) cannot be built: \(error)")
    }
    oneToOneCache[key] = answer
    return answer
  }

  nonisolated(unsafe) static var oneToOneCache: [String: Bool] = [:]
  static let oneToOneLock = NSLock()

  /// What Linux's grant tree holds (§3.3): exactly the cell's grant maps,
  /// buffer page k → the k-th guest frame; foreign pages are not in it.
  var grantTreeEntries: [(pfn: SymbolicWord, mfn: SymbolicWord)] {
    guard page == .grant else { return [] }
    return guestFrames.enumerated().map { (bufferPage &+ UInt64($0.offset), $0.element) }
  }

  /// ``lookup(_:)`` as the spec's stage 2 reads an entry: every mapping
  /// of the cells is writable and hardware-valid.
  func entry(_ gfn: SymbolicWord) -> P2MEntryWord<SymbolicWord> {
    let found = z3 { () throws(SolverError) in try lookup(gfn) }
    return P2MEntryWord(mapped: found.mapped, hardwareValid: found.mapped, readable: found.mapped, writable: found.mapped, mfn: found.mfn)
  }

  /// The constraints that make a state one this platform can be in.
  func hypotheses() throws -> [SymbolicBool] {
    var facts: [SymbolicBool] = [
      offset < 4096, size >= 1, size <= UInt64(pageCount) * 4096,
      coherent <= 1, hypercallCacheFlush <= 1, maskBits >= 32, maskBits <= 64,
    ]
    let end = offset &+ size
    if pageCount == 1 {
      facts.append(end <= 4096)
    } else {
      facts += [end > UInt64(pageCount - 1) * 4096, end <= UInt64(pageCount) * 4096]
    }
    // Bounds on the first page itself, so that no page number wraps.
    let extra = UInt64(pageCount - 1)
    switch page {
    case .local:
      // dom0's own RAM, outside the swiotlb pool.
      facts += [bufferPage >= platform.dom0Range.lowerBound, bufferPage < MatrixPlatform.poolStart - extra]
    case .grant, .foreign:
      facts += [bufferPage >= MatrixPlatform.extendedRegion, bufferPage < MatrixPlatform.extendedRegion + MatrixPlatform.extendedPages - extra]
    }
    for frame in guestFrames {
      switch layout {
      case .direct:
        facts += [frame >= MatrixPlatform.guestStart, frame < MatrixPlatform.guestStart + MatrixPlatform.guestPages]
      case .coloured:
        facts += framesOf(platform.colouredGuest, frame)
      }
    }
    for i in guestFrames.indices {
      for j in guestFrames.indices where j > i { facts.append(guestFrames[i] != guestFrames[j]) }
    }
    // dom0's coloured pages: each read point holds one of dom0's frames,
    // and distinct GFNs hold distinct frames.
    if let colouredMap {
      let values = try colouredPoints.map { try SymbolicWord(colouredMap.select($0.term)) }
      let dom0 = platform.dom0Range
      for (point, value) in zip(colouredPoints, values) {
        let inDom0 = point >= dom0.lowerBound && point <= dom0.upperBound
        for fact in framesOf(platform.colouredDom0, value) { facts.append(inDom0.implies(fact)) }
      }
      for i in colouredPoints.indices {
        for j in colouredPoints.indices where j > i {
          facts.append((colouredPoints[i] != colouredPoints[j]).implies(values[i] != values[j]))
        }
      }
    }
    return facts
  }

  func framesOf(_ frames: MatrixPlatform.ColouredFrames, _ frame: SymbolicWord) -> [SymbolicBool] {
    let colour = llcColour(of: frame, colourCount: Int(MatrixPlatform.colourCount))
    var allowed = frame.condition(false)
    for allowedColour in frames.colours { allowed = allowed || colour == UInt64(allowedColour) }
    return [frame >= frames.lowest, frame <= frames.highest, allowed]
  }
}
