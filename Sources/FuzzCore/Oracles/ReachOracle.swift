import Scenario
import Spec

/// Cross-domain reach: after every step that changes a p2m, the grant
/// state or an attachment, every frame a domain's devices can reach
/// through its p2m is one the domain has a right to.
///
/// The rule is ``deviceReachCovered(_:at:maps:ownsRAM:ownedByAnother:)``,
/// which `dma.reach` proves for every entry after any short history of
/// Xen's operations; here it is asked of every entry of every domain with
/// a device attached, after every step. A grant unmap that leaves the 1:1
/// entry writable, or a `mapkind()` that counts the map being removed,
/// leaves a device able to write a domU page after the domU took it back
/// — which no DMA property sees, since those ask whether dom0's own
/// buffer arrives.
///
/// The converse, for grants (property `granted-write`): while a domain
/// holds a writable grant map of a frame, the 1:1 entry Xen keeps for its
/// devices, where it keeps one, is writable — `map_grant_ref()` maps it
/// readable and writable at the frame's first writable map (`cnt.wr == 1`;
/// RELEASE-4.21.0 xen/common/grant_table.c, the per-MFN counts of
/// `9781b51efd`, before them `mapkind()`), so a device can fill the buffer
/// dom0 was granted for writing. A read-only map first and a writable one
/// after must upgrade it; an entry left read-only faults every device
/// write, which the DMA matrix's liveness sees only when a DMA happens to
/// hit that frame.
///
/// Judged on the spec's state, which ``P2MDifferentialOracle`` keeps the
/// implementation's tables equal to. Raw `p2m` statements write what they
/// are told, so the GFNs they wrote are exempt; untranslated devices reach
/// everything by design (the DMA matrix's subject) and are not judged here.
package struct ReachOracle: StepOracle {
  /// GFNs raw `p2m` statements wrote, per domain.
  var rawlyWritten: [DomainID: FrameSet] = [:]

  package init() {}


  package mutating func check(_ step: StepContext, report: StepReport) -> FuzzFailure? {
    let effects = report.effects
    for write in effects.p2mWrites where write.raw {
      rawlyWritten[write.domain, default: []].insert(write.gfn.rawValue, count: write.pages)
    }
    // RAM entries change only when a domain is built or a device attached
    // (raw statements aside, exempt): a coloured dom0 has one run per
    // page, which every later step need not walk.
    let checkingRAM: Bool
    if effects.createdDomain != nil || effects.assignment.map({ $0.domain != nil }) == true {
      checkingRAM = true
    } else if !effects.p2mWrites.isEmpty || effects.assignment != nil {
      checkingRAM = false
    } else {
      return nil
    }
    if effects.grantMapped != nil || effects.grantUnmapped != nil, let detail = Self.readOnlyGrantedFrame(in: step.spec, exempt: rawlyWritten) {
      return FuzzFailure(oracle: .reach, property: "granted-write", stepIndex: step.index, statement: step.statement, detail: detail)
    }
    guard let violation = Self.violations(in: step.spec, exempt: rawlyWritten, checkingRAM: checkingRAM).first else { return nil }
    return FuzzFailure(
      oracle: .reach, property: violation.writable ? "write" : "read", stepIndex: step.index, statement: step.statement,
      detail: violation.description)
  }

  package func finish(lastIndex: Int, spec: ScenarioExecution, implementation: ImplementationState) -> FuzzFailure? { nil }

  /// A frame some domain holds a live writable grant map of whose 1:1
  /// entry is read-only (GFNs written raw aside), described; nil if none.
  static func readOnlyGrantedFrame(in spec: ScenarioExecution, exempt: [DomainID: FrameSet]) -> String? {
    guard let xen = spec.xen else { return nil }
    for (domain, state) in xen.domains.sorted(by: { $0.key < $1.key }) {
      for frame in xen.deviceRights(of: domain).writablyGrantedFrames.sorted(by: { $0.rawValue < $1.rawValue })
      where !(exempt[domain]?.contains(frame.rawValue) ?? false) {
        guard let entry = state.p2m.lookup(GFN(frame.rawValue)), entry.type == .iommuMapRO else { continue }
        return "\(domain) holds a writable grant map of \(frame), but its 1:1 entry \(GFN(frame.rawValue)) → \(entry.mfn) is \(entry.type): "
          + "its devices cannot write the granted buffer (map_grant_ref() maps it writable at the first writable map)"
      }
    }
    return nil
  }

  /// An entry a domain's devices can use without a right to.
  package struct Violation: Hashable, Sendable, CustomStringConvertible {
    package var domain: DomainID
    package var gfn: GFN
    package var entry: P2MEntry
    package var writable: Bool
    package var reason: String
    package var description: String {
      "\(domain) \(gfn) → \(entry.mfn) \(entry.type): its devices can \(writable ? "write" : "read") \(entry.mfn), \(reason)"
    }
  }

  /// The entries of every domain with a device attached that no right
  /// covers, GFNs in `exempt` aside. RAM runs (only when `checkingRAM`)
  /// are judged by their first and last page (a run is one bank or one
  /// update).
  package static func violations(in spec: ScenarioExecution, exempt: [DomainID: FrameSet] = [:], checkingRAM: Bool = true) -> [Violation] {
    guard let xen = spec.xen else { return [] }
    var violations: [Violation] = []
    for domain in Set(spec.deviceAssignments.values).sorted(by: { $0.rawValue < $1.rawValue }) {
      guard let state = xen.domains[domain] else { continue }
      let rights = xen.deviceRights(of: domain)
      let skipped = exempt[domain] ?? []
      for run in state.p2m.mappings.runs {
        let type = run.first.type
        let pages: [UInt64]
        switch type {
        case .ramRW, .ramRO:
          guard checkingRAM else { continue }
          pages = (run.count == 1 ? [run.start] : [run.start, run.end - 1]).filter { !skipped.contains($0) }
        case .grantMapRW, .grantMapRO, .iommuMapRW, .iommuMapRO, .mapForeignRW, .mapForeignRO:
          // Every page not written raw (a raw 1 GiB grant-type map is one
          // run the set skips whole).
          pages = skipped.missing(from: run.start..<run.end).flatMap { Array($0) }
        default: continue
        }
        for gfn in pages {
          let entry = run.value(at: gfn)
          guard !rights.covers(entry, at: GFN(gfn)) else { continue }
          let owner = xen.host.owner(of: entry.mfn)
          let writable = type.permissions.write
          let reason: String
          switch type {
          case .ramRW, .ramRO: reason = "which is not its RAM (owner: \(owner.map(\.description) ?? "not RAM"))"
          case .grantMapRW, .grantMapRO: reason = "with no live \(writable ? "writable " : "")grant map of it at this GFN"
          case .iommuMapRW, .iommuMapRO: reason = "with no live \(writable ? "writable " : "")grant map of it (a 1:1 entry that outlived its grants)"
          default: reason = "a foreign entry whose frame no other domain owns (\(owner.map(\.description) ?? "not RAM"))"
          }
          violations.append(Violation(domain: domain, gfn: GFN(gfn), entry: entry, writable: writable, reason: reason))
        }
      }
    }
    return violations
  }
}
