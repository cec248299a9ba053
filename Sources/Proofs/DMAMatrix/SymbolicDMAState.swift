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
/// dom0's p2m is what Xen's own operations make of dom0's boot layout:
/// the cell's grant or foreign maps of the buffer's pages are run by the
/// spec's ``grantMapOperation(_:granter:gfn:local:hostGFN:writable:handle:issued:)``
/// and ``foreignMapOperation(_:caller:foreign:gfn:at:issued:)`` over a
/// ``SymbolicXenWorld`` (host entries, 1:1 IOMMU entries, maptrack), and
/// read through ``entry(_:)``. The boot layout itself (``bootEntry(_:)``:
/// 1:1, or the coloured allocator's placement) is a hypothesis checked
/// against concrete boots (``MatrixPlatform``). The theorems
/// `walk.regression` and `p2m.step.*` connect this map to the descriptor
/// tables the SMMU walks; replaying each counterexample through the
/// runner, which does walk them, checks the connection on every
/// refutation.
final class SymbolicDMAState {

  let session: ProofSession
  let platform: MatrixPlatform
  let layout: MatrixCell.Layout
  let page: MatrixCell.PageKind
  let shape: MatrixCell.Shape
  /// The Xen release the operations behave as.
  let version: XenVersion
  let xenMutants: XenMutants

  /// dom0 pfn of the buffer's first page, its offset and size.
  let bufferPage: SymbolicWord
  let offset: SymbolicWord
  let size: SymbolicWord
  /// The guest frames granted or lent (one per buffer page), and the
  /// guest GFNs that hold them.
  let guestFrames: [SymbolicWord]
  let guestGFNs: [SymbolicWord]
  /// How many symbolic Xen operations come before and after the buffer's
  /// own maps.
  struct History: Sendable {
    var before: Int
    var after: Int
    var length: Int { before + after }
    /// Two operations before the buffer is mapped and one after.
    static let matrix = History(before: 2, after: 1)
    static let none = History(before: 0, after: 0)
  }

  /// One symbolic operation of the history: which (0 none, 1 grant map,
  /// 2 grant unmap, 3 foreign map), of which guest page (its GFN and
  /// frame), at which dom0 GFN, read-only or writable, and for an unmap
  /// which earlier map of the history.
  struct Step {
    var operation: SymbolicWord
    var guestGFN: SymbolicWord
    var guestFrame: SymbolicWord
    var hostGFN: SymbolicWord
    var writable: SymbolicWord
    var unmapTarget: SymbolicWord
  }

  let history: History
  private(set) var steps: [Step] = []

  /// Xen after the history and the cell's maps of the buffer pages, and
  /// whether each buffer map succeeded (a hypothesis: the DMA runs on a
  /// buffer dom0 could map).
  private(set) var xenWorld: SymbolicXenWorld!
  private(set) var mapsSucceeded: [SymbolicBool] = []
  /// What Linux's grant tree holds (§3.3): `set_foreign_p2m_mapping()`
  /// records each successful grant map, host pfn → the `dev_bus_addr`
  /// frame Xen returned; foreign maps are not in it.
  private(set) var grantTreeEntries: [(pfn: SymbolicWord, mfn: SymbolicWord)] = []
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
    version: XenVersion, xenMutants: XenMutants = [], pages: Int? = nil, history: History = .matrix
  ) throws {
    self.history = history
    self.xenMutants = xenMutants
    pageCount = pages ?? (shape == .onePage ? 1 : 2)
    self.session = session
    self.platform = platform
    self.layout = layout
    self.page = page
    self.shape = shape
    self.version = version
    bufferPage = try session.word("buffer_pfn")
    offset = try session.word("offset")
    size = try session.word("size")
    guestFrames = page == .local ? [] : try (0..<pageCount).map { try session.word("guest_mfn\($0)") }
    guestGFNs = page == .local ? [] : try (0..<pageCount).map { try session.word("guest_gfn\($0)") }
    coherent = try session.word("coherent")
    maskBits = try session.word("dma_mask_bits")
    hypercallCacheFlush = try session.word("hypercall_cflush")
    if layout == .coloured {
      let bv64 = try session.context.bitVectorSort(width: 64)
      colouredMap = try session.context.constant("dom0_p2m", sort: session.context.arraySort(domain: bv64, range: bv64))
    } else {
      colouredMap = nil
    }
    for i in 0..<history.length {
      steps.append(
        Step(
          operation: try session.word("op\(i)"), guestGFN: try session.word("op\(i)_guest_gfn"),
          guestFrame: try session.word("op\(i)_guest_mfn"), hostGFN: try session.word("op\(i)_dom0_gfn"),
          writable: try session.word("op\(i)_writable"), unmapTarget: try session.word("op\(i)_unmaps")))
    }
    // The history before, dom0 mapping the buffer's pages as Linux asks
    // Xen to, and the history after.
    var world = SymbolicXenWorld(state: self)
    for i in 0..<history.before { runStep(i, in: &world) }
    for (k, gfn) in guestGFNs.enumerated() {
      let host = bufferPage &+ UInt64(k)
      switch page {
      case .grant:
        let outcome = grantMapOperation(
          &world, granter: MatrixPlatform.guest, gfn: gfn, local: .dom0, hostGFN: host, writable: gfn.condition(true), handle: k)
        mapsSucceeded.append(outcome.succeeded)
        grantTreeEntries.append((host, outcome.mfn))
      case .foreign:
        mapsSucceeded.append(foreignMapOperation(&world, caller: .dom0, foreign: MatrixPlatform.guest, gfn: gfn, at: host).succeeded)
      case .local:
        break
      }
    }
    for i in history.before..<history.length { runStep(i, in: &world) }
    xenWorld = world
  }

  /// The maptrack handle of history step `i`'s grant map (after the
  /// buffer's own, which take 0 and 1).
  static func handle(ofStep i: Int) -> Int { 16 + i }

  /// Runs history step `i` through the spec's operations: each possible
  /// operation is issued under the condition that the step is it.
  private func runStep(_ i: Int, in world: inout SymbolicXenWorld) {
    let step = steps[i]
    let guest = MatrixPlatform.guest
    _ = grantMapOperation(
      &world, granter: guest, gfn: step.guestGFN, local: .dom0, hostGFN: step.hostGFN, writable: step.writable == 1,
      handle: Self.handle(ofStep: i), issued: step.operation == 1)
    for earlier in 0..<i {
      _ = grantUnmapOperation(
        &world, local: .dom0, handle: Self.handle(ofStep: earlier), context: step.hostGFN,
        issued: step.operation == 2 && step.unmapTarget == UInt64(earlier))
    }
    _ = foreignMapOperation(&world, caller: .dom0, foreign: guest, gfn: step.guestGFN, at: step.hostGFN, issued: step.operation == 3)
  }

  /// dom0's p2m at `gfn` after boot, before any map: its own RAM, 1:1 on
  /// a direct-mapped dom0 (§2.3), placed by the coloured allocator on a
  /// coloured one (§5).
  func bootEntry(_ gfn: SymbolicWord) -> P2MSlot<SymbolicWord> {
    let dom0 = platform.dom0Range
    let inDom0 = gfn >= dom0.lowerBound && gfn <= dom0.upperBound
    let mfn: SymbolicWord
    switch layout {
    case .direct:
      mfn = gfn
    case .coloured:
      mfn = z3 { () throws(SolverError) in try SymbolicWord(colouredMap!.select(gfn.term)) }
      colouredPoints.append(gfn)
    }
    return .select(inDom0, P2MSlot(.ramRW, mfn: mfn), .invalid(gfn))
  }

  /// Whether a frame is one of the guest's (what `get_page(page, rd)`
  /// checks of a granted or lent page).
  func guestOwns(_ mfn: SymbolicWord) -> SymbolicBool {
    switch layout {
    case .direct:
      return mfn >= MatrixPlatform.guestStart && mfn < MatrixPlatform.guestStart + MatrixPlatform.guestPages
    case .coloured:
      return framesOf(platform.colouredGuest, mfn).reduce(mfn.condition(true)) { $0 && $1 }
    }
  }

  /// dom0's p2m at `gfn` as the spec's stage 2 reads it: after the maps,
  /// with the type's permissions (`p2m_set_permission()`); every entry
  /// Xen writes is hardware-valid.
  func entry(_ gfn: SymbolicWord) -> P2MEntryWord<SymbolicWord> {
    let slot = xenWorld.p2mEntry(of: .dom0, at: gfn)
    return P2MEntryWord(
      mapped: slot.isValid, hardwareValid: slot.isValid, readable: slot.typeIs(\.permissions.read),
      writable: slot.typeIs(\.permissions.write), mfn: slot.mfn)
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
    // The guest's p2m: the buffer's GFNs hold distinct frames of its own
    // (checked by the maps themselves, which must succeed).
    for i in guestFrames.indices {
      for j in guestFrames.indices where j > i {
        facts += [guestFrames[i] != guestFrames[j], guestGFNs[i] != guestGFNs[j]]
      }
    }
    facts += mapsSucceeded
    // The history: any operation, on any guest page (a page of the buffer
    // again, or another of the guest's), at any dom0 GFN of the extended
    // region but the buffer's own (Linux maps into pages it owns, and the
    // buffer's are in use); the guest's p2m stays a p2m (one frame per
    // GFN and one GFN per frame).
    let pairs = zip(guestGFNs, guestFrames).map { ($0, $1) } + steps.map { ($0.guestGFN, $0.guestFrame) }
    for (i, step) in steps.enumerated() {
      facts += [
        step.operation <= 3, step.writable <= 1, step.unmapTarget < UInt64(max(i, 1)), guestOwns(step.guestFrame),
        step.hostGFN >= MatrixPlatform.extendedRegion, step.hostGFN < MatrixPlatform.extendedRegion + MatrixPlatform.extendedPages,
      ]
      for k in 0..<pageCount where page != .local { facts.append(step.hostGFN != bufferPage &+ UInt64(k)) }
      // Linux maps into pages it owns and does not use: one host page per
      // operation.
      for other in steps[..<i] { facts.append(step.hostGFN != other.hostGFN) }
    }
    for a in pairs.indices {
      for b in pairs.indices where b > a { facts.append((pairs[a].0 == pairs[b].0).isEqual(to: pairs[a].1 == pairs[b].1)) }
    }
    // On the direct-mapped platform the guest's memory is one bank at a
    // fixed guest address: its p2m is that linear map. (The coloured
    // guest's is the allocator's; a counterexample pins the pairs it uses.)
    switch layout {
    case .direct:
      for (gfn, frame) in pairs { facts.append(gfn == frame &- MatrixPlatform.guestStart &+ MatrixPlatform.guestBase) }
    case .coloured:
      for (gfn, _) in pairs {
        facts += [gfn >= MatrixPlatform.guestBase, gfn < MatrixPlatform.guestBase + MatrixPlatform.colouredGuestPages]
      }
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
