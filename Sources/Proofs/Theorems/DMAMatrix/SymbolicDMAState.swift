import Claims
import Foundation
import Solver
import Spec
import SymbolicWord

/// The symbolic state of one DMA cell: which buffer (page, offset, size),
/// which guest frames back it when it is a grant or foreign page, and — on
/// a coloured dom0 — where dom0's pages lie, all as Z3 terms constrained by
/// the platform class's ranges and boot invariants (``MatrixPlatform``,
/// itself symbolic: every platform of the class).
///
/// dom0's p2m is what Xen's own operations make of dom0's boot layout:
/// the cell's grant or foreign maps of the buffer's pages are run by the
/// spec's ``grantMapOperation(_:granter:gfn:local:hostGFN:writable:handle:issued:)``
/// and ``foreignMapOperation(_:caller:foreign:gfn:at:issued:)`` over a
/// ``SymbolicXenWorld`` (host entries, 1:1 IOMMU entries, maptrack), and
/// read through ``entry(_:)``. The boot layout itself (``bootEntry(_:)``:
/// 1:1, or any frames of dom0's colours) is a hypothesis checked against
/// concrete boots of random platforms (`MatrixPlatformTests`); a coloured
/// counterexample is pinned to the frames its platform's boot gives. The theorems
/// `walk.regression` and `p2m.step.*` connect this map to the descriptor
/// tables the SMMU walks; replaying each counterexample through the
/// runner, which does walk them, checks the connection on every
/// refutation.
final class SymbolicDMAState {

  let session: ProofSession
  let platform: MatrixPlatform<SymbolicWord>
  let layout: MatrixCell.Layout
  let page: MatrixCell.PageKind
  let shape: MatrixCell.Shape
  /// The Xen release the operations behave as.
  let version: XenVersion

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
  /// 2 grant unmap, 3 foreign map, 4 foreign unmap —
  /// `XENMEM_remove_from_physmap` of an earlier step's dom0 page), of which
  /// guest page (its GFN and frame), at which dom0 GFN, read-only or
  /// writable, and for an unmap which earlier step it undoes.
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
  /// dom0's GFN → MFN on a coloured layout, as the points it was read at
  /// and the frame read there: a fresh word per read, equal to an earlier
  /// read's frame when the GFNs are equal (Ackermann's reduction of an
  /// uninterpreted function, which keeps the query pure bit-vectors and
  /// far cheaper to solve than an array).
  private(set) var colouredReads: [(gfn: SymbolicWord, mfn: SymbolicWord)] = []

  /// Pages the buffer spans: 1 or 2 in the matrix; up to 16 when timing
  /// how the proofs grow (BENCHMARKS.md).
  let pageCount: Int
  var bufferAddress: SymbolicWord { (bufferPage << pageShift) | offset }

  init(
    session: ProofSession, layout: MatrixCell.Layout, page: MatrixCell.PageKind, shape: MatrixCell.Shape,
    version: XenVersion, pages: Int? = nil, history: History = .matrix,
    scope: PlatformScope = .reference
  ) throws {
    self.history = history
    pageCount = pages ?? (shape == .onePage ? 1 : 2)
    self.session = session
    platform = try Self.platform(session, layout: layout, scope: scope)
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
    for i in 0..<self.history.length {
      steps.append(
        Step(
          operation: try session.word("op\(i)"), guestGFN: try session.word("op\(i)_guest_gfn"),
          guestFrame: try session.word("op\(i)_guest_mfn"), hostGFN: try session.word("op\(i)_dom0_gfn"),
          writable: try session.word("op\(i)_writable"), unmapTarget: try session.word("op\(i)_unmaps")))
    }
    // The history before, dom0 mapping the buffer's pages as Linux asks
    // Xen to, and the history after.
    var world = SymbolicXenWorld(state: self)
    for i in 0..<self.history.before { runStep(i, in: &world) }
    for (k, gfn) in guestGFNs.enumerated() {
      let host = bufferPage &+ UInt64(k)
      switch page {
      case .grant:
        let outcome = grantMapOperation(
          &world, granter: MatrixConstants.guest, gfn: gfn, local: .dom0, hostGFN: host, writable: gfn.condition(true), handle: k)
        mapsSucceeded.append(outcome.succeeded)
        grantTreeEntries.append((host, outcome.mfn))
      case .foreign:
        mapsSucceeded.append(foreignMapOperation(&world, caller: .dom0, foreign: MatrixConstants.guest, gfn: gfn, at: host).succeeded)
      case .local:
        break
      }
    }
    for i in self.history.before..<self.history.length { runStep(i, in: &world) }
    xenWorld = world
  }

  /// The maptrack handle of history step `i`'s grant map (after the
  /// buffer's own, which take 0 and 1).
  static func handle(ofStep i: Int) -> Int { 16 + i }

  /// Runs history step `i` through the spec's operations: each possible
  /// operation is issued under the condition that the step is it.
  private func runStep(_ i: Int, in world: inout SymbolicXenWorld) {
    let step = steps[i]
    let guest = MatrixConstants.guest
    _ = grantMapOperation(
      &world, granter: guest, gfn: step.guestGFN, local: .dom0, hostGFN: step.hostGFN, writable: step.writable == 1,
      handle: Self.handle(ofStep: i), issued: step.operation == 1)
    for earlier in 0..<i {
      _ = grantUnmapOperation(
        &world, local: .dom0, handle: Self.handle(ofStep: earlier), context: step.hostGFN,
        issued: step.operation == 2 && step.unmapTarget == UInt64(earlier))
    }
    _ = foreignMapOperation(&world, caller: .dom0, foreign: guest, gfn: step.guestGFN, at: step.hostGFN, issued: step.operation == 3)
    for earlier in 0..<i {
      _ = removeFromPhysmapOperation(
        &world, .dom0, gfn: steps[earlier].hostGFN, issued: step.operation == 4 && step.unmapTarget == UInt64(earlier))
    }
  }

  /// The platform's words: the reference platform's values, or one Z3
  /// variable each for every platform of the class (shared by every state
  /// of a session, so a twin state sees the same platform).
  static func platform(_ session: ProofSession, layout: MatrixCell.Layout, scope: PlatformScope) throws -> MatrixPlatform<SymbolicWord> {
    try MatrixPlatform<UInt64>.reference(layout).named { name, value in
      switch scope {
      case .reference: session.constant(value)
      case .everyPlatform: try session.word("platform_\(name)")
      }
    }
  }

  /// dom0's p2m at `gfn` after boot, before any map: its own RAM, 1:1 on
  /// a direct-mapped dom0 (§2.3), placed by the coloured allocator on a
  /// coloured one (§5).
  func bootEntry(_ gfn: SymbolicWord) -> P2MSlot<SymbolicWord> {
    let mfn: SymbolicWord
    switch layout {
    case .direct:
      mfn = gfn
    case .coloured:
      let fresh = z3 { () throws(SolverError) in try session.word("dom0_mfn_read\(colouredReads.count)") }
      mfn = colouredReads.reversed().reduce(fresh) { later, read in .select(gfn == read.gfn, read.mfn, later) }
      colouredReads.append((gfn, mfn))
    }
    return .select(platform.inDom0(gfn), P2MSlot(.ramRW, mfn: mfn), .invalid(gfn))
  }

  /// Whether a frame is one of the guest's (what `get_page(page, rd)`
  /// checks of a granted or lent page).
  func guestOwns(_ mfn: SymbolicWord) -> SymbolicBool { platform.guestOwns(mfn) }

  /// dom0's p2m at `gfn` as the spec's stage 2 reads it: after the maps,
  /// with the type's permissions (`p2m_set_permission()`); every entry
  /// Xen writes is hardware-valid.
  func entry(_ gfn: SymbolicWord) -> P2MEntryWord<SymbolicWord> {
    let slot = xenWorld.p2mEntry(of: .dom0, at: gfn)
    return P2MEntryWord(
      mapped: slot.isValid, hardwareValid: slot.isValid, readable: slot.typeIs(\.permissions.read),
      writable: slot.typeIs(\.permissions.write), mfn: slot.mfn)
  }

  /// The constraints that make a state one a platform of the class can
  /// be in, by name: the platform's (``MatrixPlatform/hypotheses``), then
  /// the buffer's, the device's, the guest's p2m and the history's.
  func namedHypotheses() throws -> [NamedHypothesis<SymbolicBool>] {
    var named = platform.hypotheses
    func add(_ name: String, _ facts: [SymbolicBool]) {
      named.append(NamedHypothesis(name: name, holds: facts.reduce(offset.condition(true)) { $0 && $1 }))
    }
    let end = offset &+ size
    add(
      "buffer-shape (\(pageCount) page\(pageCount == 1 ? "" : "s"), any offset and size of the shape)",
      [offset < pageSize, size >= 1, size <= UInt64(pageCount) * pageSize]
        + (pageCount == 1 ? [end <= pageSize] : [end > UInt64(pageCount - 1) * pageSize, end <= UInt64(pageCount) * pageSize]))
    let bufferPages = (0..<pageCount).map { bufferPage &+ UInt64($0) }
    let extended = platform.extendedRegion
    switch page {
    case .local:
      add("buffer-place (dom0's own RAM, outside the swiotlb pool)", bufferPages.map { platform.inDom0($0) && !platform.pool.contains($0) })
    case .grant, .foreign:
      add("buffer-place (the extended region)", [bufferPage >= extended.start, bufferPage &+ UInt64(pageCount) <= extended.end])
    }
    // `xen_swiotlb_dma_supported()`: Linux refuses a mask that cannot
    // reach the end of the pool, so no DMA of such a device is attempted.
    let poolLast = (platform.pool.end << pageShift) &- 1
    add(
      "device (coherent or not; DMA mask 32-64 bits reaching the swiotlb pool; cache-flush hypercall or not)",
      [coherent <= 1, hypercallCacheFlush <= 1, maskBits >= 32, maskBits <= 64, poolLast <= dmaBitMask(bits: maskBits)])
    // The guest's p2m: the buffer's GFNs hold distinct frames of its own
    // (checked by the maps themselves, which must succeed), and it stays a
    // p2m (one frame per GFN and one GFN per frame).
    let pairs = zip(guestGFNs, guestFrames).map { ($0, $1) } + steps.map { ($0.guestGFN, $0.guestFrame) }
    var guest: [SymbolicBool] = []
    for a in pairs.indices {
      for b in pairs.indices where b > a { guest.append((pairs[a].0 == pairs[b].0).isEqual(to: pairs[a].1 == pairs[b].1)) }
    }
    // Where the boot put each frame is the boot's; the guest may have moved
    // pages since (a counterexample pins the pairs it uses).
    for (gfn, _) in pairs { guest.append(platform.guestGFNs.contains(gfn)) }
    add("guest-p2m (injective, inside the guest's GFNs)", guest)
    add("buffer-maps-succeed (the grant or foreign maps of the buffer's pages)", mapsSucceeded)
    // The history: any operation, on any guest page (a page of the buffer
    // again, or another of the guest's), at any dom0 GFN of the extended
    // region but the buffer's own (Linux maps into pages it owns, and the
    // buffer's are in use), one host page per operation.
    var history: [SymbolicBool] = []
    for (i, step) in steps.enumerated() {
      history += [
        step.operation <= 4, step.writable <= 1, step.unmapTarget < UInt64(max(i, 1)), guestOwns(step.guestFrame),
        extended.contains(step.hostGFN),
      ]
      for k in 0..<pageCount where page != .local { history.append(step.hostGFN != bufferPage &+ UInt64(k)) }
      for other in steps[..<i] { history.append(step.hostGFN != other.hostGFN) }
    }
    if !steps.isEmpty { add("history (operations 0-4 on guest pages at distinct extended-region GFNs)", history) }
    // dom0's coloured pages: each read point holds a frame of dom0's
    // colours, and distinct GFNs hold distinct frames.
    if layout == .coloured {
      var placement: [SymbolicBool] = []
      for read in colouredReads {
        placement.append(platform.inDom0(read.gfn).implies(platform.mayBeDom0Frame(read.mfn)))
      }
      for i in colouredReads.indices {
        for j in colouredReads.indices where j > i {
          placement.append((colouredReads[i].gfn != colouredReads[j].gfn).implies(colouredReads[i].mfn != colouredReads[j].mfn))
        }
      }
      add("coloured-dom0-placement (injective into RAM frames of dom0's colours)", placement)
    }
    return named
  }

  func hypotheses() throws -> [SymbolicBool] { try namedHypotheses().map(\.holds) }
}
