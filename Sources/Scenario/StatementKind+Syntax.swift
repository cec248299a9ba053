import Spec

/// Where a statement stands in a scenario: platform statements before
/// `dom0`, then domains, then operations (which the fuzzer's records make).
package enum StatementPhase: Sendable {
  case platform, domain, operation
}

/// One statement's text form and place, in one entry: its keyword, its
/// phase, how the parser reads the words after the keyword and how the
/// printer writes it back, so that adding a statement is an enum case, a
/// line in ``StatementKind/keyword`` and one entry here, not an edit in
/// the parser, the printer and every tool that names operations (as
/// Serval's `define-insn` keeps an instruction's decoding and semantics
/// in one place). The operation itself is the running system's
/// (`ScenarioMachine.RunningSystem.operate`), which also states its
/// effects (``StepEffects``).
struct StatementSyntax: Sendable {
  let keyword: String
  let phase: StatementPhase
  /// Reads the words after the keyword (the SMMUs declared so far, for
  /// statements that depend on them).
  let read: @Sendable (inout LineReader, [String: SMMUVersion]) throws(ScenarioError) -> StatementKind
  /// The canonical line of a statement of this keyword.
  let write: @Sendable (StatementKind) -> String

  init(
    _ keyword: String, _ phase: StatementPhase, read: @escaping @Sendable (inout LineReader, [String: SMMUVersion]) throws(ScenarioError) -> StatementKind,
    write: @escaping @Sendable (StatementKind) -> String
  ) {
    self.keyword = keyword
    self.phase = phase
    self.read = read
    self.write = write
  }
}

extension StatementKind {
  /// The statement's keyword: the first word of its line, and the key of
  /// its ``StatementSyntax`` entry. Exhaustive, so that a new case is
  /// pointed at here.
  package var keyword: String {
    switch self {
    case .xen: "xen"
    case .ipaBits: "ipa-bits"
    case .llcColours: "llc-colours"
    case .ram: "ram"
    case .iommu: "iommu"
    case .hypercallCacheFlush: "hypercall-cflush"
    case .linuxPolicy: "linux"
    case .smmu: "smmu"
    case .device: "device"
    case .dom0: "dom0"
    case .swiotlbPool: "swiotlb"
    case .domU: "domu"
    case .attach: "attach"
    case .detach: "detach"
    case .grant: "grant"
    case .ungrant: "ungrant"
    case .foreign: "foreign"
    case .unforeign: "unforeign"
    case .p2mMap, .p2mUnmap: "p2m"
    case .setWay: "setway"
    case .removeFromPhysmap: "remove-from-physmap"
    case .dma: "dma"
    }
  }

  /// Where the statement stands (``StatementPhase``).
  package var phase: StatementPhase { Self.syntax[keyword]!.phase }

  /// The name a failure gives the statement's operation: its keyword, and
  /// for `p2m` its action.
  package var operationName: String {
    switch self {
    case .p2mMap: "p2m map"
    case .p2mUnmap: "p2m unmap"
    default: keyword
    }
  }

  /// Every statement's syntax, by keyword.
  static let syntax: [String: StatementSyntax] = Dictionary(uniqueKeysWithValues: syntaxTable.map { ($0.keyword, $0) })
  /// The keywords in the order the parser lists them when none matches.
  static var keywords: [String] { syntaxTable.map(\.keyword) }

  // Each entry's `write` is asked only of statements of its keyword, so
  // its `if case` cannot fail; the empty string is unreachable.
  static let syntaxTable: [StatementSyntax] = [
    // MARK: Platform
    StatementSyntax("xen", .platform, read: { reader, _ throws(ScenarioError) in .xen(version: try reader.word("a Xen version such as 4.15")) },
      write: { if case .xen(let version) = $0 { "xen \(version)" } else { "" } }),
    StatementSyntax("ipa-bits", .platform, read: { reader, _ throws(ScenarioError) in
        let bits = try reader.integer("the IPA size in bits")
        // Compared as read: any UInt64 may be written, and most fit no Int.
        guard ScenarioParser.ipaSizes.contains(where: { UInt64($0) == bits }) else {
          throw reader.error(
            at: reader.previousLocation, "expected an IPA size Xen supports (\(ScenarioParser.ipaSizes.map(String.init).joined(separator: ", "))), found \(bits)")
        }
        return .ipaBits(Int(bits))
      },
      write: { if case .ipaBits(let bits) = $0 { "ipa-bits \(bits)" } else { "" } }),
    StatementSyntax("llc-colours", .platform, read: { reader, _ throws(ScenarioError) in
        .llcColours(Int(try reader.integer("the number of LLC colours", in: 2...(1 << 16))))
      },
      write: { if case .llcColours(let count) = $0 { "llc-colours \(count)" } else { "" } }),
    StatementSyntax("ram", .platform, read: { reader, _ throws(ScenarioError) in
        let address = try reader.pageAligned("the bank's start address")
        let size = try reader.pageAlignedSize("the bank's size")
        try reader.requireRange(start: address, size: size, "the RAM bank")
        return .ram(address: address, size: size)
      },
      write: { if case .ram(let address, let size) = $0 { "ram \(hex(address)) \(ScenarioPrinter.sizeText(size))" } else { "" } }),
    StatementSyntax("iommu", .platform, read: { reader, _ throws(ScenarioError) in .iommu(try reader.onOff()) },
      write: { if case .iommu(let on) = $0 { "iommu \(on ? "on" : "off")" } else { "" } }),
    StatementSyntax("hypercall-cflush", .platform, read: { reader, _ throws(ScenarioError) in .hypercallCacheFlush(try reader.onOff()) },
      write: { if case .hypercallCacheFlush(let on) = $0 { "hypercall-cflush \(on ? "on" : "off")" } else { "" } }),
    StatementSyntax("linux", .platform, read: { reader, _ throws(ScenarioError) in
        .linuxPolicy(try reader.oneOf(DMAPolicy.allCases, what: "a DMA policy"))
      },
      write: { if case .linuxPolicy(let policy) = $0 { "linux \(policy.rawValue)" } else { "" } }),
    StatementSyntax("smmu", .platform, read: { reader, _ throws(ScenarioError) in
        let name = try reader.name("the SMMU's name")
        let version = try reader.oneOf(SMMUVersion.allCases, what: "an SMMU version")
        var entries: Int?
        // SMMU_IDR0.NUMSMRG: an SMMUv2 has at most 128 stream-match groups.
        if version == .v2, reader.consume("entries") {
          entries = Int(try reader.integer("the number of stream-match entries", in: 1...128))
        }
        var iotlb: Int?
        // The implementation's IOTLB is a power-of-two array of up to 2^24
        // slots (SMMUImpl's IOTLB).
        if reader.consume("iotlb") {
          let here = reader.location
          let count = try reader.integer("the number of IOTLB entries", in: 1...(1 << 24))
          guard count & (count - 1) == 0 else { throw reader.error(at: here, "expected a power of two for the IOTLB entries, found \(count)") }
          iotlb = Int(count)
        }
        return .smmu(name: name, version: version, streamMapEntries: entries, iotlbEntries: iotlb)
      },
      write: {
        guard case .smmu(let name, let version, let entries, let iotlb) = $0 else { return "" }
        return "smmu \(name) \(version.rawValue)" + (entries.map { " entries \($0)" } ?? "") + (iotlb.map { " iotlb \($0)" } ?? "")
      }),
    StatementSyntax("device", .platform, read: { reader, smmus throws(ScenarioError) in .device(try ScenarioParser.device(&reader, smmuVersions: smmus)) },
      write: { if case .device(let device) = $0 { ScenarioPrinter.deviceLine(device) } else { "" } }),

    // MARK: Domains (swiotlb, which says where in dom0's RAM Linux's pool
    // lies, is declared before dom0 boots: a platform statement)
    StatementSyntax("dom0", .domain, read: { reader, _ throws(ScenarioError) in
        let layout = try reader.oneOf(["direct-mapped", "coloured"], what: "dom0's memory layout")
        let memory: Dom0Memory = layout == "direct-mapped" ? .directMapped : .coloured(colours: try reader.colourList())
        try reader.keyword("memory")
        return .dom0(memory, size: try reader.pageAlignedSize("dom0's memory size"))
      },
      write: {
        switch $0 {
        case .dom0(.directMapped, let size): "dom0 direct-mapped memory \(ScenarioPrinter.sizeText(size))"
        case .dom0(.coloured(let colours), let size): "dom0 coloured \(ScenarioPrinter.colourText(colours)) memory \(ScenarioPrinter.sizeText(size))"
        default: ""
        }
      }),
    StatementSyntax("swiotlb", .platform, read: { reader, _ throws(ScenarioError) in
        let address = try reader.pageAligned("the bounce pool's dom0 address")
        let size = try reader.pageAlignedSize("the bounce pool's size")
        try reader.requireRange(start: address, size: size, "the bounce pool")
        return .swiotlbPool(address: address, size: size)
      },
      write: { if case .swiotlbPool(let address, let size) = $0 { "swiotlb \(hex(address)) \(ScenarioPrinter.sizeText(size))" } else { "" } }),
    StatementSyntax("domu", .domain, read: { reader, _ throws(ScenarioError) in .domU(try ScenarioParser.domU(&reader)) },
      write: { if case .domU(let domain) = $0 { ScenarioPrinter.domULine(domain) } else { "" } }),

    // MARK: Operations
    StatementSyntax("attach", .operation, read: { reader, _ throws(ScenarioError) in
        .attach(device: try reader.name("a device name"), domain: try reader.name("a domain name"))
      },
      write: { if case .attach(let device, let domain) = $0 { "attach \(device) \(domain)" } else { "" } }),
    StatementSyntax("detach", .operation, read: { reader, _ throws(ScenarioError) in .detach(device: try reader.name("a device name")) },
      write: { if case .detach(let device) = $0 { "detach \(device)" } else { "" } }),
    StatementSyntax("grant", .operation, read: { reader, _ throws(ScenarioError) in
        let granter = try reader.name("the granting domain")
        let gfn = try reader.pageAligned("the granted page's guest address")
        try reader.keyword("to")
        try reader.keyword("dom0")
        try reader.keyword("at")
        let host = try reader.pageAligned("the dom0 address to map the grant at")
        let access = try reader.oneOf(["ro", "rw"], what: "ro or rw")
        try reader.keyword("as")
        return .grant(GrantStatement(granter: granter, gfnAddress: gfn, hostAddress: host, writable: access == "rw", handle: try reader.name("a handle name")))
      },
      write: {
        guard case .grant(let grant) = $0 else { return "" }
        return "grant \(grant.granter) \(hex(grant.gfnAddress)) to dom0 at \(hex(grant.hostAddress)) \(grant.writable ? "rw" : "ro") as \(grant.handle)"
      }),
    StatementSyntax("ungrant", .operation, read: { reader, _ throws(ScenarioError) in .ungrant(handle: try reader.name("a grant handle")) },
      write: { if case .ungrant(let handle) = $0 { "ungrant \(handle)" } else { "" } }),
    StatementSyntax("foreign", .operation, read: { reader, _ throws(ScenarioError) in
        let owner = try reader.name("the page's owner")
        let gfn = try reader.pageAligned("the foreign page's guest address")
        try reader.keyword("into")
        try reader.keyword("dom0")
        try reader.keyword("at")
        let host = try reader.pageAligned("the dom0 address to map the page at")
        try reader.keyword("as")
        return .foreign(ForeignStatement(owner: owner, gfnAddress: gfn, hostAddress: host, handle: try reader.name("a handle name")))
      },
      write: {
        guard case .foreign(let foreign) = $0 else { return "" }
        return "foreign \(foreign.owner) \(hex(foreign.gfnAddress)) into dom0 at \(hex(foreign.hostAddress)) as \(foreign.handle)"
      }),
    StatementSyntax("unforeign", .operation, read: { reader, _ throws(ScenarioError) in .unforeign(handle: try reader.name("a foreign-mapping handle")) },
      write: { if case .unforeign(let handle) = $0 { "unforeign \(handle)" } else { "" } }),
    StatementSyntax("p2m", .operation, read: { reader, _ throws(ScenarioError) in try ScenarioParser.p2m(&reader) },
      write: {
        switch $0 {
        case .p2mMap(let domain, let gfn, let mfn, let type, let valid, let pages):
          "p2m \(domain) map \(hex(gfn)) \(hex(mfn)) \(type.xenName)" + (pages == 1 ? "" : " size \(ScenarioPrinter.sizeText(pages << pageShift))")
            + (valid ? "" : " hw-invalid")
        case .p2mUnmap(let domain, let gfn, let pages):
          "p2m \(domain) unmap \(hex(gfn))" + (pages == 1 ? "" : " size \(ScenarioPrinter.sizeText(pages << pageShift))")
        default: ""
        }
      }),
    StatementSyntax("remove-from-physmap", .operation, read: { reader, _ throws(ScenarioError) in
        .removeFromPhysmap(domain: try reader.name("a domain name"), gfnAddress: try reader.pageAligned("the guest address of the page"))
      },
      write: { if case .removeFromPhysmap(let domain, let gfn) = $0 { "remove-from-physmap \(domain) \(hex(gfn))" } else { "" } }),
    StatementSyntax("setway", .operation, read: { reader, _ throws(ScenarioError) in .setWay(domain: try reader.name("a domain name")) },
      write: { if case .setWay(let domain) = $0 { "setway \(domain)" } else { "" } }),
    StatementSyntax("dma", .operation, read: { reader, _ throws(ScenarioError) in
        let device = try reader.name("a device name")
        let direction = try reader.oneOf(DMADirection.allCases, what: "a DMA direction")
        let address = try reader.number("the buffer's dom0 address")
        let size = try reader.size("the buffer's size")
        try reader.requireRange(start: address, size: size, "the buffer")
        var expected: DMAOutcome?
        if reader.consume("expect") {
          expected = try reader.oneOf(DMAOutcome.allCases, what: "an outcome")
        }
        return .dma(DMAStatement(DMARequest(device: device, buffer: address, size: size, direction: direction), expected: expected))
      },
      write: {
        guard case .dma(let dma) = $0 else { return "" }
        return "dma \(dma.request.device) \(dma.request.direction.rawValue) \(hex(dma.request.buffer)) \(ScenarioPrinter.sizeText(dma.request.size))"
          + (dma.expected.map { " expect \($0.rawValue)" } ?? "")
      }),
  ]
}
