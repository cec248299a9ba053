import Spec
import SymbolicWord

/// Xen as the matrix proofs see it, for the spec's own grant and foreign
/// map operations (``XenMappingWorld``): dom0's p2m is its boot layout
/// (``SymbolicDMAState/bootEntry(_:)``) with every write the operations
/// made layered on top, newest first; the guest's p2m maps each of the
/// state's guest GFNs to its frame; dom0's maptrack is a list whose
/// entries are live under conditions.
struct SymbolicXenWorld: XenMappingWorld {
  unowned let state: SymbolicDMAState
  var writes: [(when: SymbolicBool, gfn: SymbolicWord, slot: P2MSlot<SymbolicWord>)] = []
  var dom0Maptrack: [GrantMappingWord<SymbolicWord>] = []

  init(state: SymbolicDMAState) { self.state = state }

  var version: XenVersion { state.version }

  func domainExists(_ domain: DomainID) -> Bool { domain == .dom0 || domain == MatrixConstants.guest }
  func isDirectMapped(_ domain: DomainID) -> Bool { domain == .dom0 && state.layout == .direct }
  /// dom0 has the IOMMU on (every cell); the guest's devices are not in
  /// the matrix.
  func isIOMMUEnabled(_ domain: DomainID) -> Bool { domain == .dom0 }

  func p2mEntry(of domain: DomainID, at gfn: SymbolicWord) -> P2MSlot<SymbolicWord> {
    guard domain == .dom0 else {
      var slot = P2MSlot<SymbolicWord>.invalid(gfn)
      let pages = zip(state.guestGFNs, state.guestFrames).map { ($0, $1) } + state.steps.map { ($0.guestGFN, $0.guestFrame) }
      for (guestGFN, frame) in pages.reversed() {
        slot = .select(gfn == guestGFN, P2MSlot(.ramRW, mfn: frame), slot)
      }
      return slot
    }
    var slot = state.bootEntry(gfn)
    for write in writes { slot = .select(write.when && gfn == write.gfn, write.slot, slot) }
    return slot
  }

  /// The refusal rule of `p2m_set_entry` at the platform's IPA size, asked
  /// of the spec's reference p2m (no domain here is dying).
  func p2mRefusesUpdate(of domain: DomainID, at gfn: SymbolicWord) -> SymbolicBool {
    ReferenceP2M.beyondRoot(gfn, gfnLimit: state.platform.gfnLimit)
  }

  mutating func writeP2M(of domain: DomainID, at gfn: SymbolicWord, _ slot: P2MSlot<SymbolicWord>, when condition: SymbolicBool) {
    precondition(domain == .dom0, "the matrix changes only dom0's p2m")
    if condition.knownValue == false { return }
    writes.append((condition, gfn, slot))
  }

  func owns(_ domain: DomainID, _ mfn: SymbolicWord) -> SymbolicBool {
    domain == MatrixConstants.guest ? state.guestOwns(mfn) : mfn.condition(false)
  }

  func maptrack(of domain: DomainID) -> [GrantMappingWord<SymbolicWord>] { domain == .dom0 ? dom0Maptrack : [] }

  mutating func addMapping(to domain: DomainID, _ mapping: GrantMappingWord<SymbolicWord>, when condition: SymbolicBool) {
    precondition(domain == .dom0, "the matrix maps grants into dom0 only")
    var mapping = mapping
    mapping.live = condition
    dom0Maptrack.append(mapping)
  }

  mutating func releaseMapping(of domain: DomainID, handle: Int, when condition: SymbolicBool) {
    for index in dom0Maptrack.indices where dom0Maptrack[index].handle == handle {
      dom0Maptrack[index].live = dom0Maptrack[index].live && !condition
    }
  }
}
