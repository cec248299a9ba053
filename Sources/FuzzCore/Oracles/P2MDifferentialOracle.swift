import P2MImpl
import Scenario
import Spec

/// The differential oracle for the p2m: the spec's p2m (``ReferenceP2M``, as the
/// scenario runner's Xen state holds it) against the implementation
/// (`XenP2M`), after every step.
///
/// Each hypercall-level statement changes a few GFNs of the spec's p2m
/// (a grant: its dom0 GFN and, for a direct-mapped dom0 with an IOMMU, the
/// 1:1 GFN = MFN entry, §2.1; a foreign map: its dom0 GFN, §2.4; a raw
/// update: its GFN). Those changes are applied to the implementation with
/// `p2m_set_entry()`, as Xen's hypercalls apply them; a domain's RAM is
/// mapped at creation in maximal runs, so a direct-mapped bank becomes
/// blocks that later updates split. Then, for every touched GFN and its
/// neighbour in the same leaf table, both sides must agree on the lookup, the walk (read and
/// write) and the TLB path (read and write); GFNs probed in earlier steps
/// are looked up through the TLB again, which catches a translation cached
/// before the change and never invalidated. Each update's effects must come
/// in Xen's order: nothing released before the IOTLB flush it owed
/// (property `flush-order`, `P2MEvent.releaseBeforeIOTLBFlush(in:)`). The
/// references on foreign pages must be what Xen's accounting makes of the
/// spec's changes (property `page-references`,
/// ``ImplementationState/foreignReferences``: the harness takes one per
/// page a foreign map writes, as `xenmem_add_to_physmap_one()` does, the
/// p2m's own code drops them): a page's count rises at each foreign map of
/// it and falls when an entry mapping it foreign is replaced by one of
/// another frame or removed (``checkReferences(_:counted:implementation:)``).
/// That count is the page's live foreign mappings except where Xen
/// itself may leak, which the oracle keeps apart (``possiblyLeaked``). A raw update the spec refuses
/// beyond the root tables must be refused too (XSA-301,
/// ``forwardRefused(_:_:count:to:step:report:)``). At the end every spec entry
/// is looked up in the implementation (except in the fuzzer's lean mode).
///
/// A note on cost: nothing here materializes whole tables; each step
/// costs a few walks, so the oracle keeps up with libFuzzer.
package struct P2MDifferentialOracle: StepOracle {
  /// Touched (domain, GFN) of the running statement, with the spec's entry
  /// before it ran. Of a raw update of more than ``sampledAbove`` pages,
  /// only samples: the first page of each 2 MiB region, the last page, and
  /// every page that was foreign (whose reference the update drops).
  var touched: [(domain: DomainID, gfn: GFN, before: P2MEntry?)] = []
  /// The running statement's raw update of several pages, as one range.
  var touchedRange: (domain: DomainID, gfn: GFN, count: UInt64)?
  static let sampledAbove: UInt64 = 512
  /// References per frame as Xen's accounting makes them of the spec's
  /// changes (absent is zero).
  var expectedReferences: [UInt64: Int] = [:]
  /// Frames whose count the oracle no longer compares, because Xen may
  /// hold a reference with no live foreign mapping behind it:
  /// `__p2m_set_entry()` (RELEASE-4.21.0 xen/arch/arm/mmu/p2m.c) calls
  /// `p2m_free_entry()` only when the replaced descriptor's MFN differs
  /// from the new one's, so a foreign leaf replaced by a grant (or a raw
  /// entry) of the same frame at the same level keeps its reference, and a
  /// foreign map written again over the same frame takes a second one;
  /// replaced as part of a table or block of another frame, it is put. The
  /// spec's page-level map cannot tell the two apart, so such a frame is
  /// set aside here, not failed: the leak, where it happens, is Xen's.
  package private(set) var possiblyLeaked: Set<UInt64> = []
  /// Frames a raw map wrote foreign without references (more than 2 MiB:
  /// ``ImplementationState/takesReferences(writing:pages:)``), which no
  /// hypercall does — the fuzzer never makes such a map — so Xen's count
  /// for them means nothing; a scenario may still write one, and its
  /// frames are not compared.
  package private(set) var uncountedForeign = FrameSet()
  /// Recently probed GFNs per domain (bounded), re-probed through the TLB.
  var recent: [DomainID: [GFN]] = [:]
  /// Domains whose p2m set/way emulation invalidated: their tables keep
  /// hardware-invalid entries on the paths to pages not touched since, so
  /// each page an update maps is touched as the guest would touch it
  /// (`ImplementationState.touch(_:of:)`).
  var setWayDomains: Set<DomainID> = []
  static let recentLimit = 4
  /// Table pages beyond what a domain's RAM needs: the fuzzer's raw
  /// updates, grants and foreign maps reach a few dozen 2 MiB regions.
  static let spareTablePages = 32
  /// Why comparison stopped (a sized pool ran dry, judged), or nil.
  package private(set) var stopped: String?
  /// Whether ``finish(lastIndex:spec:implementation:)`` compares every
  /// entry of the spec (a safety net for changes the touched-GFN
  /// bookkeeping would miss; off in the fuzzer's lean mode for speed).
  let checksEveryEntryAtEnd: Bool

  package init(checksEveryEntryAtEnd: Bool = true) {
    self.checksEveryEntryAtEnd = checksEveryEntryAtEnd
  }


  /// The touched (domain, GFN, entry before) of `effects`' p2m writes, and
  /// a raw write of several pages as one range: every page, or of a
  /// range above ``sampledAbove`` pages, the samples.
  mutating func noteTouched(_ effects: StepEffects) {
    touched.removeAll(keepingCapacity: true)
    touchedRange = nil
    for write in effects.p2mWrites {
      if write.pages > 1 { touchedRange = (write.domain, write.gfn, write.pages) }
      guard write.pages > Self.sampledAbove else {
        for page in 0..<write.pages { touched.append((write.domain, write.gfn.advanced(by: page), write.before(write.gfn.advanced(by: page)))) }
        continue
      }
      let end = write.gfn.rawValue + write.pages
      var samples = Set(stride(from: write.gfn.rawValue, to: end, by: Int(FuzzDecoder.blockPages)))
      samples.insert(end - 1)
      for run in write.before where run.first.type.isForeign { samples.formUnion(run.start..<run.end) }
      for page in samples.sorted() { touched.append((write.domain, GFN(page), write.before(GFN(page)))) }
    }
  }

  package mutating func check(_ step: StepContext, report: StepReport) -> FuzzFailure? {
    guard let xen = step.spec.xen else { return nil }
    func failure(_ property: String, _ detail: String) -> FuzzFailure {
      FuzzFailure(oracle: .specVersusImplementation, property: property, stepIndex: step.index, statement: step.statement, detail: detail)
    }
    let effects = report.effects
    if let created = effects.createdDomain {
      return create(created.id, poolPages: created.p2mPoolPages, spec: step.spec, implementation: step.implementation).map { failure("update-refused", $0) }
    }
    if let refused = effects.refusedRawUpdate,
      let detail = forwardRefused(refused.domain, refused.gfn, count: refused.pages, to: refused.entry, step: step, report: report)
    {
      return failure("refusal", detail)
    }
    if let id = effects.setWay {
      guard let spec = xen.domains[id]?.p2m, step.implementation.hasDomain(id) else { return nil }
      if report.succeeded { setWayDomains.insert(id) }
      return setWay(id, spec: spec, refused: !report.succeeded, implementation: step.implementation).map { failure("setway", $0) }
    }
    noteTouched(effects)
    /// A raw write that succeeded: written even where unchanged; of
    /// several pages, one `p2m_set_entry()` of them all (nil: a removal),
    /// so that the implementation makes and removes blocks where it can.
    let rawAttempt = effects.p2mWrites.first(where: \.raw)
    let rawWrite = report.succeeded ? rawAttempt : nil
    let raw = rawWrite != nil
    let range: P2MEntry?? = rawWrite.flatMap { $0.pages > 1 ? .some($0.rawEntry) : nil }
    if touched.isEmpty { return nil }

    // Apply the spec's changes, as p2m_set_entry() calls.
    if let range, let first = touchedRange {
      let count = first.count
      let splits = range == nil ? Self.splitsAllowed(removing: first.gfn, count: count, of: first.domain, in: step.implementation) : nil
      let free = step.implementation.platform?.p2m(of: first.domain)?.memory.freeCount
      do throws(XenP2MError) {
        if let early = try step.implementation.set(first.gfn, count: count, to: range, of: first.domain) {
          return failure("flush-order", Self.releasedEarly("\(first.domain) \(first.gfn)+\(count)", early))
        }
      } catch {
        switch judgeExhaustion(error, first.domain, first.gfn, count: count, to: range, step: step) {
        case .failure(let property, let detail): return failure(property, detail)
        case .stopped: return nil
        case .notExhaustion: break
        }
        let made = range.map { "mapped them from \($0.description)" } ?? "removed them"
        return failure("update-refused", "\(first.domain) \(first.gfn)+\(count): the spec \(made); the implementation refused: \(error)")
      }
      if let splits, let free, let after = step.implementation.platform?.p2m(of: first.domain)?.memory.freeCount, free - after > splits {
        return failure(
          "table-pages",
          "\(first.domain) \(first.gfn)+\(count): removing a 2 MiB-aligned range took \(free - after) table page\(free - after == 1 ? "" : "s") from the pool; "
            + "Xen removes it in chunks of 2 MiB or more (the order of gfn | count, 3fafdc28eb), which split only a 1 GiB block it partly covers (\(splits) here)")
      }
    }
    for (domain, gfn, before) in touched where range == nil {
      let after = xen.domains[domain]?.p2m.lookup(gfn)
      guard raw || after != before else { continue }
      do throws(XenP2MError) {
        if let early = try step.implementation.set(gfn, count: 1, to: after, of: domain) {
          return failure("flush-order", Self.releasedEarly("\(domain) \(gfn)", early))
        }
      } catch {
        switch judgeExhaustion(error, domain, gfn, count: 1, to: after, step: step) {
        case .failure(let property, let detail): return failure(property, detail)
        case .stopped: return nil
        case .notExhaustion: break
        }
        return failure("update-refused", "\(domain) \(gfn): the spec made it \(after.map(\.description) ?? "unmapped"); the implementation refused: \(error)")
      }
    }

    // A raw map refused part-way wrote (and took references for) the pages
    // before the refused one: what it would take counts, done or not.
    if let rawAttempt, let entry = rawAttempt.rawEntry, entry.type.isForeign, !ImplementationState.takesReferences(writing: entry.type, pages: rawAttempt.pages) {
      uncountedForeign.insert(entry.mfn.rawValue, count: rawAttempt.pages)
    }
    if let detail = checkReferences(xen, counted: Self.takesReferences(effects, raw: rawAttempt), raw: raw, implementation: step.implementation) {
      return failure("page-references", detail)
    }

    for domain in setWayDomains where touched.contains(where: { $0.domain == domain }) {
      guard let spec = xen.domains[domain]?.p2m else { continue }
      let pages = touched.lazy.filter { $0.domain == domain && spec.lookup($0.gfn)?.hardwareValid == true }.map(\.gfn)
      if let stuck = step.implementation.touch(pages, of: domain) { return failure("setway", Self.notBack(domain, stuck)) }
    }

    // Compare at the touched GFNs (walking too), a neighbour each, and
    // recent probes. Of a range's pages, the first and the last are
    // compared so, and every 64th by lookup: a block is made or refused as
    // a whole, and comparing all 512 pages of a 2 MiB map halved the fuzz
    // loop's speed. (Replay and minimization compare every entry at the
    // end, ``finish(lastIndex:spec:implementation:)``.)
    for (position, (domain, gfn, _)) in touched.enumerated() {
      guard let spec = xen.domains[domain]?.p2m else { continue }
      let edge = touched.count <= 2 || position == 0 || position == touched.count - 1
      guard edge || position % 64 == 0 else { continue }
      // The neighbour in the same leaf table: a split or a removal that
      // damages siblings shows there.
      for probe in edge ? [gfn, GFN(gfn.rawValue ^ 1)] : [gfn] where probe.rawValue < spec.gfnLimit {
        if let detail = compare(domain, probe, spec: spec, implementation: step.implementation, walk: probe == gfn, translates: edge) {
          return failure(detail.property, detail.text)
        }
        if edge { remember(domain, probe) }
      }
    }
    for (domain, probes) in recent {
      guard let spec = xen.domains[domain]?.p2m else { continue }
      for probe in probes where !touched.contains(where: { $0.domain == domain && $0.gfn == probe }) {
        if let detail = compare(domain, probe, spec: spec, implementation: step.implementation, walk: false) {
          return failure(detail.property, detail.text)
        }
      }
    }
    return nil
  }

  package mutating func finish(lastIndex: Int, spec: ScenarioExecution, implementation: ImplementationState) -> FuzzFailure? {
    guard checksEveryEntryAtEnd, let xen = spec.xen else { return nil }
    for (domain, state) in xen.domains.sorted(by: { $0.key < $1.key }) {
      guard implementation.hasDomain(domain) else { continue }
      func lookup(_ gfn: GFN) -> P2MEntry? { implementation.lookup(gfn, of: domain) }
      // Unsorted first (cheap); sorted only to name the lowest mismatch.
      guard state.p2m.entries.contains(where: { lookup($0.key) != $0.value }) else { continue }
      for (gfn, entry) in state.p2m.entries.sorted(by: { $0.key < $1.key }) where lookup(gfn) != entry {
        return FuzzFailure(
          oracle: .specVersusImplementation, property: "final-lookup", afterStep: lastIndex,
          detail: "\(domain) \(gfn): spec \(entry), impl \(lookup(gfn).map(\.description) ?? "unmapped")")
      }
    }
    return nil
  }

  /// The table pages a removal of `count` pages from `gfn` may take, when
  /// both are multiples of 2 MiB (nil otherwise): `p2m_set_entry()`
  /// picks each chunk's order from `gfn | nr` (RELEASE-4.21.0
  /// xen/arch/arm/mmu/p2m.c; `INVALID_MFN` no longer part of the mask
  /// since `3fafdc28eb`), so every chunk is 2 MiB or 1 GiB and removes
  /// whole blocks and tables; only a 1 GiB block the range partly covers
  /// is split, one page each. Read from the implementation's own
  /// `p2m_get_entry()` orders before the removal.
  static func splitsAllowed(removing gfn: GFN, count: UInt64, of domain: DomainID, in implementation: ImplementationState) -> Int? {
    let block = FuzzDecoder.blockPages
    guard gfn.rawValue % block == 0, count % block == 0, let p2m = implementation.platform?.p2m(of: domain) else { return nil }
    var splits = 0
    var page = gfn.rawValue
    let end = gfn.rawValue + count
    while page < end {
      let (entry, order) = p2m.entry(at: GFN(page))
      let size: UInt64 = 1 << UInt64(order)
      let start = page & ~(size - 1)
      if entry != nil, start < gfn.rawValue || start + size > end { splits += 1 }
      page = start + size
    }
    return splits
  }

  /// Whether the statement writes foreign entries that take references,
  /// by the harness's rule (``ImplementationState/takesReferences(writing:pages:)``):
  /// a foreign map (one page, `map_foreign_rw` or `_ro` as the guest's
  /// page was: the rule reads only that it is foreign) or a raw map. No
  /// other statement makes a foreign entry.
  static func takesReferences(_ effects: StepEffects, raw: StepEffects.P2MWrite?) -> Bool {
    if effects.foreignMapped != nil { return ImplementationState.takesReferences(writing: .mapForeignRW, pages: 1) }
    guard let raw, let entry = raw.rawEntry else { return false }
    return ImplementationState.takesReferences(writing: entry.type, pages: raw.pages)
  }

  /// Updates ``expectedReferences`` (and ``leakedReferences``) from the
  /// touched entries the update wrote — `raw` updates are written even
  /// when unchanged — and compares each frame whose references changed
  /// with what the implementation holds on it.
  mutating func checkReferences(_ xen: XenState, counted: Bool, raw: Bool, implementation: ImplementationState) -> String? {
    var frames: [UInt64] = []
    for (index, (domain, gfn, before)) in touched.enumerated() {
      // Only an entry that was foreign, or one a foreign map writes, can
      // change a count: the others are not even looked up (a 2 MiB raw
      // map of another type touches 512).
      guard counted || before?.foreignFrame != nil else { continue }
      // A GFN noted twice (a grant's host GFN that is also its 1:1 GFN:
      // the only statement that notes two) is one entry.
      if index == 1, touched[0].domain == domain, touched[0].gfn == gfn { continue }
      let after = xen.domains[domain]?.p2m.lookup(gfn)
      guard raw || after != before else { continue }
      if counted, let frame = after?.foreignFrame {
        expectedReferences[frame, default: 0] += 1
        frames.append(frame)
      }
      if let frame = before?.foreignFrame {
        if after?.mfn.rawValue != frame {
          expectedReferences[frame, default: 0] -= 1
          frames.append(frame)
        } else {
          possiblyLeaked.insert(frame)
        }
      }
    }
    for frame in frames where !possiblyLeaked.contains(frame) && !uncountedForeign.contains(frame) {
      let held = implementation.foreignReferences[frame] ?? 0, expected = expectedReferences[frame] ?? 0
      if held != expected {
        return "\(MFN(frame)): the implementation holds \(held) reference\(held == 1 ? "" : "s") for foreign mappings, Xen's accounting of the spec's changes \(expected)"
      }
    }
    return nil
  }

  /// A raw update the spec refused, sent to the implementation too, which
  /// must refuse it where Xen does: at a GFN beyond the root tables
  /// (`p2m_get_root_pointer()` returns NULL, XSA-301). A GFN inside the
  /// root tables but beyond the IPA size (32, 36 and 44 bits) Xen accepts
  /// (`XenP2M.rootGFNLimit`) while the spec refuses it, so such an update is
  /// not forwarded, nor is one refused for another reason.
  func forwardRefused(_ domain: DomainID, _ gfn: GFN, count: UInt64, to entry: P2MEntry?, step: StepContext, report: StepReport) -> String? {
    guard let limit = step.implementation.platform?.p2m(of: domain)?.rootGFNLimit,
      gfn.rawValue >= limit
    else { return nil }
    do throws(XenP2MError) { _ = try step.implementation.set(gfn, count: count, to: entry, of: domain) } catch { return nil }
    return "\(domain) \(gfn): the spec \(report.result), the implementation accepted it (its root tables end at gfn \(hex(limit)))"
  }

  /// Set/Way emulation, sent to the implementation. Refused by the spec (a
  /// p2m the IOMMU shares), it must be refused there too. Otherwise, after
  /// `p2m_invalidate_root()` no mapped page may translate — each must
  /// fault so that Xen notes the access (`14c57887f3`: only the first page
  /// of a concatenated root was invalidated) — and then each of the
  /// spec's hardware-valid pages is touched as the guest would touch it:
  /// `p2m_resolve_translation_fault()`, one level per fault, until it
  /// translates, which must bring back exactly the translations of
  /// before (later steps compare them).
  func setWay(_ domain: DomainID, spec: ReferenceP2M, refused: Bool, implementation: ImplementationState) -> String? {
    do throws(XenP2MError) {
      try implementation.invalidateRoot(of: domain)
      if refused { return "\(domain): the spec refuses set/way emulation on a p2m the IOMMU shares; the implementation invalidated it" }
    } catch {
      return refused ? nil : "\(domain): the spec emulates set/way; the implementation refused: \(error)"
    }
    // Invalidation is by root entry, so one mapped page per 2 MiB region
    // shows whether its region was reached.
    var regions = Set<UInt64>()
    for gfn in spec.entries.keys.sorted() where regions.insert(gfn.rawValue >> 9).inserted {
      switch implementation.walk(gfn.address, access: .read, of: domain) {
      case .translated: return "\(domain) \(gfn): still translates after p2m_invalidate_root(), so set/way emulation misses its accesses"
      case .fault(let fault) where fault.kind == .permission: return "\(domain) \(gfn): still reaches its entry after p2m_invalidate_root()"
      case .fault: break
      }
    }
    let valid = spec.entries.lazy.filter(\.value.hardwareValid).map(\.key)
    return implementation.touch(valid, of: domain).map { Self.notBack(domain, $0) }
  }

  static func releasedEarly(_ place: String, _ release: P2MEvent) -> String {
    "\(place): '\(release)' happens before the IOTLB flush its update owed (the order Xen 6718787797 fixed)"
  }

  static func notBack(_ domain: DomainID, _ gfn: GFN) -> String {
    "\(domain) \(gfn): p2m_resolve_translation_fault() did not bring it back within one fault per level"
  }

  mutating func remember(_ domain: DomainID, _ gfn: GFN) {
    var probes = recent[domain, default: []]
    if probes.contains(gfn) { return }
    if probes.count == Self.recentLimit { probes.removeFirst() }
    probes.append(gfn)
    recent[domain] = probes
  }

  /// Maps the domain's RAM in the implementation as the spec built it: in
  /// maximal runs of consecutive GFN → consecutive MFN of one type, the
  /// way `guest_physmap_add_entry()` is called per bank (or per page for
  /// coloured memory, whose MFNs rarely run on).
  ///
  /// The pool has a page for every table the RAM could need below the
  /// root (one per 2 MiB, 1 GiB and 512 GiB region it touches), plus
  /// ``spareTablePages`` for the fuzzer's operations: large enough for any
  /// scenario's RAM — the hardware domain's tables come from the heap,
  /// not a bounded pool (`TablePool`) — and small for the fuzzer's 2 MiB
  /// domains, since it is allocated (and zeroed) per input.
  /// Table pages below the root that RAM at `gfns` can need: one per
  /// 2 MiB, 1 GiB and 512 GiB region it touches.
  static func ramTablePages(_ gfns: [UInt64]) -> Int {
    [9, 18, 27].reduce(0) { pages, shift in pages + Set(gfns.map { $0 >> UInt64(shift) }).count }
  }

  mutating func create(_ domain: DomainID, poolPages: Int? = nil, spec: ScenarioExecution, implementation: ImplementationState) -> String? {
    guard let xen = spec.xen, let state = xen.domains[domain] else { return nil }
    let tablePages = poolPages ?? Self.spareTablePages + Self.ramTablePages(state.p2m.entries.keys.map(\.rawValue))
    var refusedRun: (GFN, UInt64)?
    do {
      try implementation.createDomain(
        domain, ipaBits: xen.ipaBits, iommuEnabled: state.iommuEnabled, poolPages: tablePages, spec: spec
      ) {
        code, tables throws(XenP2MError) in
        let entries = state.p2m.entries.sorted { $0.key < $1.key }
        var index = 0
        while index < entries.count {
          let (start, first) = entries[index]
          var count: UInt64 = 1
          while index + Int(count) < entries.count {
            let (gfn, entry) = entries[index + Int(count)]
            guard gfn == start.advanced(by: count), entry.type == first.type, entry.hardwareValid == first.hardwareValid,
              entry.mfn == first.mfn.advanced(by: count)
            else { break }
            count += 1
          }
          refusedRun = (start, count)
          try code.set(start, count: count, to: first, in: &tables)
          index += Int(count)
        }
        refusedRun = nil
      }
    } catch {
      if let (start, count) = refusedRun {
        if poolPages != nil, case .p2m(let p2m) = error, p2m.exhaustsPool {
          // Xen's domain build fails with −ENOMEM; the spec, without
          // tables, built it.
          stopped = "\(domain)'s RAM does not fit its p2m pool of \(tablePages) pages (\(start)+\(count): \(p2m)); the spec has no tables and built it"
          return nil
        }
        return "\(domain) \(start)+\(count): the implementation refused the domain's RAM: \(error)"
      }
      return "\(domain): cannot make the implementation's p2m: \(error)"
    }
    if poolPages != nil { implementation.sizedPools.insert(domain) }
    return nil
  }

  enum ExhaustionVerdict {
    case notExhaustion
    case failure(property: String, detail: String)
    /// Judged due and Xen-shaped; ``stopped`` says so.
    case stopped
  }

  /// An update the implementation refused because a sized p2m pool
  /// (`p2m-pool`) ran dry. The spec has no tables and made the update, so
  /// from here the two differ by design; before stopping, the oracle asks
  /// what can still be asked:
  /// - `pool-demand`: that the pool had to run dry — the same update from
  ///   the same tables, in a pool with more pages, needs more at its
  ///   deepest than were free (``ImplementationState/poolDemand(_:count:to:of:)``);
  ///   a table leaked earlier, or a page taken for nothing, fails here;
  /// - `pool-prefix`: that what was done is what Xen's `p2m_set_entry()`
  ///   loop leaves: the pages of the chunks before the failed one changed,
  ///   none after (a failed `p2m_next_level()` or `p2m_split_superpage()`
  ///   leaves its entry as it was; RELEASE-4.21.0 xen/arch/arm/mmu/p2m.c);
  /// - `pool-accounting`: that every table page is still in use exactly
  ///   once or free (``XenP2M/invariantViolations()``, in every build: a split that failed
  ///   half-way gave back what it took).
  mutating func judgeExhaustion(_ error: XenP2MError, _ domain: DomainID, _ gfn: GFN, count: UInt64, to entry: P2MEntry?, step: StepContext)
    -> ExhaustionVerdict
  {
    let implementation = step.implementation
    guard error.exhaustsPool, implementation.sizedPools.contains(domain),
      let demand = implementation.poolDemand(gfn, count: count, to: entry, of: domain)
    else { return .notExhaustion }
    let what = "\(domain) \(gfn)+\(count)"
    switch demand {
    case .failure(let again):
      return .failure(property: "pool-demand", detail: "\(what): refused for want of table pages (\(error)), and refused again with \(ImplementationState.poolDemandMargin) more: \(again)")
    case .success(let demand) where demand.needed <= demand.free:
      return .failure(
        property: "pool-demand",
        detail: "\(what): the update needs \(demand.needed) table page\(demand.needed == 1 ? "" : "s") at its deepest and \(demand.free) \(demand.free == 1 ? "was" : "were") free, yet the implementation refused: \(error)")
    case .success(let demand):
      let done = error.completedPages
      for (touchedDomain, page, before) in touched where touchedDomain == domain && page >= gfn && page.rawValue - gfn.rawValue < count {
        let offset = page.rawValue - gfn.rawValue
        let expected = offset < done ? entry?.advanced(by: offset) : before
        let actual = implementation.lookup(page, of: domain)
        if actual != expected {
          return .failure(
            property: "pool-prefix",
            detail: "\(what): refused after \(done) page\(done == 1 ? "" : "s") (\(error)); \(page) should be \(expected.map(\.description) ?? "unmapped") (\(offset < done ? "done" : "not reached")), the implementation has \(actual.map(\.description) ?? "unmapped")")
        }
      }
      if let violation = implementation.platform?.p2m(of: domain)?.invariantViolations().first {
        return .failure(property: "pool-accounting", detail: "\(what): after the refusal (\(error)): \(violation)")
      }
      stopped = "\(domain)'s p2m pool ran dry at \(what): the update needs \(demand.needed) table page\(demand.needed == 1 ? "" : "s") and \(demand.free) \(demand.free == 1 ? "was" : "were") free; "
        + "the implementation refused after \(done) page\(done == 1 ? "" : "s") (errno \(error.xenErrno.map(String.init) ?? "?")), as Xen does, where the spec (which has no tables) made it whole"
      return .stopped
    }
  }

  /// Compares one GFN; returns the property that failed and a trace line.
  func compare(_ domain: DomainID, _ gfn: GFN, spec: ReferenceP2M, implementation: ImplementationState, walk: Bool, translates: Bool = true)
    -> (property: String, text: String)?
  {
    guard implementation.hasDomain(domain) else { return nil }
    let expectedEntry = spec.lookup(gfn)
    let actualEntry = implementation.lookup(gfn, of: domain)
    if expectedEntry != actualEntry {
      return ("lookup", "\(domain) \(gfn): spec \(expectedEntry.map(\.description) ?? "unmapped"), impl \(actualEntry.map(\.description) ?? "unmapped")")
    }
    guard translates else { return nil }
    let ipa = gfn.address | 0x123
    for access in Access.allCases {
      let expected = Translation(expectedFrom: spec, ipa: ipa, access: access)
      // A read through the TLB right after a change is a miss, so it walks;
      // the write is walked explicitly.
      if walk && access == .write {
        let seen = Translation(implementation.walk(ipa, access: access, of: domain))
        if seen != expected { return ("walk", "\(domain) ipa \(hex(ipa)) \(access): spec \(expected), impl walk \(seen)") }
      }
      let seen = Translation(implementation.translate(ipa, access: access, of: domain))
      if seen != expected { return ("tlb", "\(domain) ipa \(hex(ipa)) \(access): spec \(expected), impl through the TLB \(seen)") }
    }
    return nil
  }
}

/// A stage-2 translation without the level: the spec has no levels, and
/// the implementation's block sizes are its own business
/// (``referenceStageTwoTranslator(p2ms:)``).
struct Translation: Hashable, CustomStringConvertible {
  var address: UInt64?
  var permissions: Permissions?
  var type: P2MType?
  var fault: StageTwoFault.Kind?

  init(_ result: WalkResult) {
    switch result {
    case .translated(let address, _, let permissions, let type): self.address = address; self.permissions = permissions; self.type = type
    case .fault(let fault): self.fault = fault.kind
    }
  }

  /// What the spec says: beyond the IPA size, a hole or a hardware-invalid
  /// entry is a translation fault, a forbidden access a permission fault,
  /// else the mapped frame at the same offset (``referenceStageTwoTranslator(p2ms:)``).
  init(expectedFrom spec: ReferenceP2M, ipa: UInt64, access: Access) {
    guard ipa >> UInt64(spec.ipaBits) == 0, let entry = spec.lookup(GFN(ipa >> pageShift)), entry.hardwareValid else {
      fault = .translation
      return
    }
    guard entry.permissions.allows(access) else {
      fault = .permission
      return
    }
    address = entry.mfn.address | ipa & (pageSize - 1)
    permissions = entry.permissions
    type = entry.type
  }

  var description: String {
    if let fault { return "\(fault) fault" }
    return "\(hex(address ?? 0)) \(permissions.map(\.description) ?? "") \(type.map(\.xenName) ?? "untyped")"
  }
}
