import Spec

/// What one statement did to the system, as data: the p2m ranges it wrote
/// (with what they held before), the handles it made or ended, the
/// attachments it changed. The interpreter that runs the statement writes
/// it, so a checker that watches the run — the fuzzer's oracles — reads
/// what happened instead of re-deriving it from the statement's kind, and
/// a new statement is checked as soon as its operation states its effects
/// (Serval keeps an instruction's semantics in one place the same way).
///
/// Effects are recorded for what the spec did, refusals included: a raw
/// update refused part-way wrote the pages before the refused one, and
/// says so; an operation refused before it changed anything records none.
package struct StepEffects: Hashable, Sendable {
  /// A range of one domain's p2m the statement wrote (set or cleared), in
  /// the order written.
  package struct P2MWrite: Hashable, Sendable {
    package var domain: DomainID
    package var gfn: GFN
    package var pages: UInt64
    /// A raw `p2m` statement: one `p2m_set_entry()` of the whole range,
    /// written whatever it held before (a hypercall writes only what
    /// changes it).
    package var raw: Bool
    /// What a raw map wrote at the range's first page (consecutive frames
    /// after it); nil for a removal and for a hypercall's write.
    package var rawEntry: P2MEntry?
    /// The range's entries before the statement, as runs (the spec's p2m
    /// is kept so: a 1 GiB range is a few runs).
    package var before: [RunMap<P2MEntry>.Run]

    package init(domain: DomainID, gfn: GFN, pages: UInt64, raw: Bool, rawEntry: P2MEntry? = nil, before p2m: ReferenceP2M?) {
      self.domain = domain
      self.gfn = gfn
      self.pages = pages
      self.raw = raw
      self.rawEntry = rawEntry
      let end = gfn.rawValue &+ pages
      before = []
      guard let runs = p2m?.mappings else { return }
      // From the first run that ends after the range starts (a binary
      // search): a write costs its own runs, not the p2m's.
      for run in runs.runs[runs.firstRun(endingAfter: gfn.rawValue)...] {
        guard run.start < end else { break }
        let start = max(run.start, gfn.rawValue), stop = min(run.end, end)
        before.append(RunMap<P2MEntry>.Run(start: start, count: stop - start, first: run.value(at: start)))
      }
    }

    /// The entry `page` (inside the range) held before the statement.
    package func before(_ page: GFN) -> P2MEntry? {
      before.first { $0.start <= page.rawValue && page.rawValue < $0.end }?.value(at: page.rawValue)
    }
  }

  /// A grant map that succeeded: its handle, the dom0 GFN it maps at and,
  /// for a direct-mapped dom0 with an IOMMU, the 1:1 GFN = MFN entry.
  package struct HandleMapped: Hashable, Sendable {
    package var handle: String
    package var host: GFN
    package var oneToOne: GFN?
  }
  /// An attach (to `domain`) or a detach (nil) Xen was asked for.
  package struct Assignment: Hashable, Sendable {
    package var device: String
    package var domain: DomainID?
  }
  /// A raw `p2m` update the spec refused (beyond the root tables, a dying
  /// domain): the range asked for and the entry, nil for a removal.
  package struct RawUpdate: Hashable, Sendable {
    package var domain: DomainID
    package var gfn: GFN
    package var pages: UInt64
    package var entry: P2MEntry?
  }

  /// A domain the statement created (its RAM mapped), with the p2m pool
  /// its declaration sized (``DomUDeclaration/p2mPoolPages``).
  package struct CreatedDomain: Hashable, Sendable {
    package var id: DomainID
    package var p2mPoolPages: Int?
  }

  /// A domain the statement created.
  package var createdDomain: CreatedDomain?
  /// p2m ranges written, in order.
  package var p2mWrites: [P2MWrite] = []
  /// The dom0 GFN a grant or foreign map was asked for at, whether or not
  /// it succeeded: a refusal may come after Xen changed its state (a grant
  /// Xen mapped over a live one, which Linux's grant tree then refused),
  /// so a checker that tracks what lives at dom0 GFNs must hear of it.
  package var mapAskedAt: GFN?
  /// A grant map that succeeded.
  package var grantMapped: HandleMapped?
  /// A grant unmap that succeeded (its handle).
  package var grantUnmapped: String?
  /// A foreign map that succeeded (no 1:1 entry).
  package var foreignMapped: HandleMapped?
  /// A foreign unmap that succeeded (its handle).
  package var foreignUnmapped: String?
  /// An attach or detach Xen was asked for, refused or not.
  package var assignment: Assignment?
  /// A domain whose p2m set/way emulation invalidated (or, refused, would
  /// have): `setway`.
  package var setWay: DomainID?
  /// A raw `p2m` update the spec refused.
  package var refusedRawUpdate: RawUpdate?

  package init() {}
}
