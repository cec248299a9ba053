import Claims
import Foundation
import Scenario
import Spec

/// The DMA properties the fuzzer requires: exactly those the proofs
/// establish (DESIGN.md §4 `dma.matrix`, §5).
///
/// `dma.matrix` decides integrity, isolation and liveness per cell —
/// policy × dom0 layout × device class × page kind × buffer shape × the
/// Xen side of `04085ec1ac` — and `proofs/expectations.txt` lists the
/// claims that are refuted; `dmaverify prove` holds that file to Z3's
/// answers on every CI run. The fuzzer reads the same file: a DMA that
/// falls in a cell must meet every property not listed as refuted for it.
/// So the fuzzer tests the proofs' conclusions concretely, through the
/// architectural walk and byte-level memory, in states the matrix
/// abstracts away (other grants live, earlier DMAs, other devices), and
/// changing what the proofs expect changes what the fuzzer requires; there
/// is no second, hand-written rule to drift from them.
package struct DMAClaims: Sendable {
  /// Claim names listed as refuted.
  let refuted: Set<String>
  /// Where the claims came from, for failure messages.
  package let source: String

  /// No matrix claims: only the scenario's own `expect`s are checked.
  /// Every command and the fuzz target load the file instead; tests that
  /// are about other oracles use this.
  package static let none = DMAClaims(refuted: [], source: "")

  init(refuted: Set<String>, source: String) {
    self.refuted = refuted
    self.source = source
  }

  package var isEmpty: Bool { source.isEmpty }

  /// Where `prove` reads the file by default, relative to the package root.
  package static let defaultPath = "proofs/expectations.txt"

  /// Reads an expectations file (the format `dmaverify prove` reads).
  package static func load(_ path: String) throws(FuzzInput.LoadError) -> DMAClaims {
    guard let data = FileManager.default.contents(atPath: path) else {
      throw FuzzInput.LoadError(description: "\(path): error: cannot read the expectations file", unreadable: true)
    }
    guard let text = String(data: data, encoding: .utf8) else {
      throw FuzzInput.LoadError(description: "\(path): error: the expectations file is not UTF-8 text", unreadable: false)
    }
    do { return DMAClaims(refuted: try Expectations.parse(text, file: path).refuted, source: path) } catch {
      throw FuzzInput.LoadError(description: error.description, unreadable: false)
    }
  }

  /// The variable that names the expectations file for the fuzz target
  /// (`dmaverify fuzz` sets it; libFuzzer's command line has no room for
  /// flags of ours).
  package static let environmentVariable = "DMAVERIFY_EXPECTATIONS"

  /// The fuzz target's expectations file: `$DMAVERIFY_EXPECTATIONS`, else
  /// ``defaultPath`` when the working directory is the package root, else
  /// `expectations.txt` beside the executable (where
  /// `.clusterfuzzlite/build.sh` puts it for runners that have no checkout).
  /// The first of these that is set or exists is the one: a named file that
  /// is missing is an error, not a reason to look further.
  package static func fuzzTargetPath(environment: [String: String], executable: String) -> String {
    if let named = environment[environmentVariable], !named.isEmpty { return named }
    if FileManager.default.fileExists(atPath: defaultPath) { return defaultPath }
    let beside = URL(fileURLWithPath: executable).deletingLastPathComponent().appendingPathComponent("expectations.txt").path
    return FileManager.default.fileExists(atPath: beside) ? beside : defaultPath
  }

  /// Whether every direct mapping swiotlb-xen makes of a buffer in
  /// ``StraddleClaim``'s scope must be contiguous on the bus: the claim is
  /// loaded and not listed as refuted.
  package var requiresStraddle: Bool { !isEmpty && !refuted.contains(StraddleClaim.name) }

  /// The properties the proofs establish for `cell`.
  package func required(in cell: MatrixCell) -> [DMAProperty] {
    DMAProperty.allCases.filter { !refuted.contains(cell.claimName($0)) }
  }
}

/// Whether a DMA falls in a matrix cell, and which.
package enum CellMatch: Hashable, Sendable {
  case cell(MatrixCell)
  /// The state or the DMA is outside what the matrix quantifies over; why.
  case outside(String)
}

/// What a DMA-property check must know of a scenario's history: facts
/// that decide whether the state is one the matrix quantifies over, which
/// the spec's current state alone does not show.
///
/// Each is a set of dom0 GFNs whose p2m entry is not what the matrix's p2m
/// would hold there. A DMA is outside every cell when one of them is a
/// point the matrix reads (``DMAClaims/cell(of:in:history:)``); elsewhere
/// the matrix's lookup and the spec's p2m agree, and the claims depend on
/// nothing else.
package struct DMAHistory: Hashable, Sendable {
  /// Dom0 GFNs a raw `p2m` statement mapped or unmapped: not something Xen
  /// does, and it can clobber the entries the matrix's p2m consists of. A
  /// raw update of a domU's p2m is harmless here: Xen grants and lends only
  /// frames the granting domain owns (`host.owner(of:)` in GrantTable.swift
  /// and ForeignMapping.swift), which is all the matrix assumes of them.
  package var rawlyUpdated = FrameSet()
  /// Dom0 GFNs where a grant or foreign map was made while another grant
  /// or foreign map was live there: Linux's grant rbtree then disagrees
  /// with the p2m (a foreign map over a live grant leaves the grant's MFN
  /// in the tree; found by libFuzzer). Dom0 misusing its own physmap.
  package var aliased: Set<UInt64> = []
  /// Dom0 GFNs that are host RAM outside dom0's own where dom0 put a grant
  /// or foreign map. Linux maps them in ballooned RAM or in the extended
  /// regions Xen advertises, which exclude host RAM; at such a GFN — a
  /// domU's MFN — the map and the 1:1 grant entry of that MFN (GFN = MFN,
  /// fact sheet §2.1) displace each other (found by the in-process search).
  package var displaced: Set<UInt64> = []

  package init() {}
}

extension DMAClaims {
  /// The matrix cell of `request` in the spec's current state, or why it
  /// has none. Each condition is a hypothesis of the matrix
  /// (``MatrixPlatform``, `SymbolicDMAState.hypotheses()`, `MatrixRun`), or
  /// narrower than one (the matrix also covers any device coherence, masks of
  /// 32–64 bits, Xen without the cache-flush hypercall and a history of three
  /// grant and foreign operations; the fuzzer keeps the narrower conditions,
  /// which are sound):
  ///
  /// - dom0 has the IOMMU on and Xen offers `GNTTABOP_cache_flush`, as on
  ///   the matrix platform (with it `xen_arch_need_swiotlb` never bounces
  ///   for coherency, so device coherency does not matter);
  /// - the Xen release is one of the cell's: every release on its side of
  ///   `04085ec1ac` (``MatrixCell/XenFix/releases``);
  /// - the device is attached to dom0's context, not behind any SMMU, or
  ///   behind one that Xen's device tree does not describe; with a full
  ///   64-bit DMA mask (a device attached to a domU or detached is in no
  ///   cell);
  /// - the buffer spans one page or straddles into a second, and every
  ///   page is of one kind, mapped writable and hardware-valid: dom0 RAM
  ///   (`ram_rw`, outside the swiotlb pool), a grant (`grant_map_rw`) or a
  ///   foreign page (`map_foreign_rw`), the latter two at GFNs outside host
  ///   RAM (the matrix maps them in an extended region); and distinct
  ///   pages are distinct machine frames;
  /// - no point the matrix reads of dom0's p2m — the buffer's pages, the
  ///   swiotlb pool's, and the MFN of each grant page (its 1:1 entry,
  ///   where swiotlb-xen's bus address lands) — is one of ``DMAHistory``'s.
  ///
  /// **[derived]** The matrix's device writes (`DMA_FROM_DEVICE`); its
  /// properties are about which machine frames the device reaches, which
  /// for rw mappings do not depend on the direction (`MatrixRun` runs
  /// a device write). The fuzzer therefore applies each cell to reads as
  /// well, where the spec copies buffer → slot before the device runs
  /// rather than slot → buffer after; the concrete runs test that
  /// argument on every to-device DMA.
  /// **[derived]** `dma.matrix.*` runs on the reference platform
  /// (`MatrixPlatform.reference`: SMMUv2, 40-bit IPA, its own RAM map and
  /// colours; `dma.class.*` takes chosen cells to every platform of a
  /// class, without a history); the fuzzer applies the cells on every
  /// platform it generates, so a failure may also mean a conclusion that
  /// does not carry over to another platform. Its message names the cell,
  /// so it can be told apart.
  package static func cell(of request: DMARequest, in spec: ScenarioExecution, history: DMAHistory) -> CellMatch {
    guard let xen = spec.xen, let dom0 = xen.domains[.dom0] else { return .outside("no dom0") }
    guard dom0.iommuEnabled else { return .outside("dom0's IOMMU is off") }
    guard let linux = spec.dom0DMAState else { return .outside("no dom0") }
    guard linux.options.hypercallCacheFlush else { return .outside("Xen does not offer GNTTABOP_cache_flush") }

    let fix: MatrixCell.XenFix = xen.version.grantIOMMUMapping == .after04085ec1ac ? .after : .before
    guard fix.releases.contains(xen.version) else { return .outside("\(xen.version) is in no cell's releases") }
    let layout: MatrixCell.Layout = dom0.isDirectMapped ? .direct : .coloured

    guard let device = spec.devices.first(where: { $0.name == request.device }) else { return .outside("unknown device") }
    guard device.dmaMaskBits == 64 else { return .outside("a \(device.dmaMaskBits)-bit DMA mask") }
    // The matrix's devices have no dma-ranges (its scope).
    guard device.dmaRegions.isEmpty else { return .outside("dma-ranges") }
    let deviceClass: MatrixCell.DeviceClass
    switch device.attachment {
    case .notBehindSMMU: deviceClass = .untranslated
    case .behindSMMU(_, _, described: false): deviceClass = .undescribed
    case .behindSMMU(_, _, described: true):
      guard spec.deviceAssignments[device.name] == .dom0 else { return .outside("\(device.name) is not attached to dom0") }
      // The matrix's attached device translates through dom0's context.
      // From Xen 4.20 a stream map entry another device shares can point
      // elsewhere (`arm_smmu_domain_add_master()` rewrites the shared
      // S2CR when that device is assigned): outside every cell, a hazard
      // of Xen's the scenarios and the board check report.
      let outcome = try? spec.smmuPlatform?.resolve(deviceNamed: device.name)
      guard case .context(domain: .dom0, vmid: _)? = outcome else {
        return .outside("\(device.name)'s stream does not translate through dom0's context (\(outcome.map { "\($0)" } ?? "unresolved"))")
      }
      deviceClass = .attached
    }

    guard request.size > 0, request.buffer <= UInt64.max - request.size else { return .outside("an empty or wrapping buffer") }
    let first = request.buffer >> pageShift
    let last = (request.buffer + request.size - 1) >> pageShift
    guard last - first < 2 else { return .outside("the buffer spans \(last - first + 1) pages") }
    let shape: MatrixCell.Shape = first == last ? .onePage : .straddling

    var kinds: Set<MatrixCell.PageKind> = []
    var frames: Set<MFN> = []
    var points = Array(first...last)
    points += (0..<linux.pool.pages).map { linux.pool.start.rawValue + $0 }
    for frame in first...last {
      guard !history.aliased.contains(frame) else { return .outside("dom0 GFN \(hex(frame)) was mapped over a live mapping") }
      guard let entry = dom0.p2m.lookup(GFN(frame)), entry.hardwareValid else { return .outside("GFN \(hex(frame)) is not mapped") }
      let hostRAM = xen.host.isRAM(MFN(frame))
      switch entry.type {
      case .ramRW:
        guard !linux.pool.contains(frame << pageShift) else { return .outside("the buffer is in the swiotlb pool") }
        kinds.insert(.local)
      case .grantMapRW where !hostRAM:
        kinds.insert(.grant)
        points.append(entry.mfn.rawValue)
      case .mapForeignRW where !hostRAM: kinds.insert(.foreign)
      default: return .outside("GFN \(hex(frame)) is \(entry.type)\(hostRAM ? " in host RAM" : "")")
      }
      guard frames.insert(entry.mfn).inserted else { return .outside("two buffer pages are one machine frame") }
    }
    guard kinds.count == 1, let page = kinds.first else { return .outside("the buffer's pages are of different kinds") }
    if let point = points.first(where: { history.rawlyUpdated.contains($0) || history.displaced.contains($0) }) {
      return .outside("dom0 GFN \(hex(point)), which this DMA reads, was \(history.rawlyUpdated.contains(point) ? "changed by a raw p2m update" : "given a mapping over another domain's frame")")
    }
    return .cell(MatrixCell(policy: spec.policy, layout: layout, device: deviceClass, page: page, shape: shape, xen: fix))
  }
}
