import Scenario
import Spec

/// Decodes fuzz input bytes into a scenario, totally: every byte string,
/// the empty one included, is a scenario that runs (DESIGN.md §5).
///
/// Layout: the configuration (``FuzzConfiguration``: two bytes, or a v2
/// marker and three), then records of
/// three bytes — an opcode and two argument bytes — each one operation
/// whose values are indices into the configuration's pools, so that a
/// mutated byte changes one choice and keeps the rest meaningful. The
/// opcode's low nibble is the operation; bit 4 makes a raw p2m map 2 MiB
/// (``blockPages`` pages, GFN and MFN aligned down), so that the
/// implementation holds blocks of any type for later updates to split,
/// and turns a raw unmap into a set/way flush of its domain
/// (`setway`). In v2 inputs, bit 5 makes a raw map 1 GiB
/// (``gigabytePages``, GFN and MFN aligned down: a level-1 block for later
/// updates to split twice) and a raw unmap (without bit 4) remove
/// ``blockPages`` pages from its GFN aligned down: one `p2m_set_entry()`
/// over a whole block, which must not split it (`3fafdc28eb`) — on Xen
/// 4.17 and later only, where a removal clears every entry whatever the
/// tables' shape (before, it is a 4K unmap: the spec does not decide a
/// block removal over hardware-invalid entries), and a DMA's device index
/// (argument bits 0–1) 4 more, so that a fifth and sixth device (`pt`,
/// `vf`) are reached. Other opcode bits are ignored (bit 5 too, in v1
/// inputs). A short
/// last record reads zeros; at most ``maximumOperations`` records are read,
/// so a huge input costs no more than a long one.
///
/// Grant and foreign handles are named `g0`, `g1`, … and `f0`, `f1`, … in
/// creation order. `ungrant`/`unforeign` pick among the handles that are
/// *live in the spec* (a refused grant never becomes one), which is why
/// decoding steps alongside a ``ScenarioExecution``: a scenario that
/// unmapped a handle Xen refused would not mean anything. A record that
/// would unmap with nothing live decodes to nothing.
package struct FuzzDecoder {
  package static let maximumOperations = 256
  package static let recordSize = 3

  package let configuration: FuzzConfiguration
  let bytes: [UInt8]
  var offset: Int
  var records = 0
  /// Handles in creation order.
  var grants: [String] = []
  var foreignMaps: [String] = []

  package init(_ bytes: [UInt8]) {
    self.bytes = bytes
    configuration = FuzzConfiguration(header: bytes)
    offset = configuration.headerLength
  }

  /// The opcode byte's low nibble selects the operation; DMAs and grants
  /// get more of the sixteen values because most interesting behaviour
  /// needs them.
  enum Operation: CaseIterable {
    case p2mMap, p2mUnmap, grant, ungrant, foreign, unforeign, attach, detach, dma

    /// The keywords of the statements the operation's records make (a raw
    /// unmap's record with bit 4 is a set/way flush).
    var keywords: [String] {
      switch self {
      case .p2mMap: ["p2m"]
      case .p2mUnmap: ["p2m", "setway"]
      case .grant: ["grant"]
      case .ungrant: ["ungrant"]
      case .foreign: ["foreign"]
      case .unforeign: ["unforeign"]
      case .attach: ["attach"]
      case .detach: ["detach"]
      case .dma: ["dma"]
      }
    }
  }
  /// The statements the records make, by keyword, in ``Operation``'s order.
  package static let operationKeywords: [String] = Operation.allCases.flatMap(\.keywords).reduce(into: []) { keywords, keyword in
    if !keywords.contains(keyword) { keywords.append(keyword) }
  }
  static let opcodes: [Operation] = [
    .p2mMap, .p2mUnmap, .grant, .ungrant, .foreign, .unforeign, .attach, .detach,
    .dma, .dma, .grant, .dma, .p2mMap, .ungrant, .dma, .unforeign,
  ]

  /// The platform statements (always the same for a configuration).
  package var platform: [StatementKind] { configuration.platform }

  /// The next operation, or nil at the end of the input.
  /// - Parameters:
  ///   - isLiveGrant: whether the spec holds this grant handle mapped now.
  ///   - isLiveForeign: the same for foreign-mapping handles.
  package mutating func next(isLiveGrant: (String) -> Bool, isLiveForeign: (String) -> Bool) -> StatementKind? {
    while offset < bytes.count && records < Self.maximumOperations {
      let opcode = bytes[offset]
      let a = offset + 1 < bytes.count ? bytes[offset + 1] : 0
      let b = offset + 2 < bytes.count ? bytes[offset + 2] : 0
      offset += Self.recordSize
      records += 1
      if let kind = operation(
        Self.opcodes[Int(opcode & 15)], block: opcode & 0x10 != 0, range: configuration.format == .v2 && opcode & 0x20 != 0,
        a, b,
        isLiveGrant: isLiveGrant, isLiveForeign: isLiveForeign)
      {
        return kind
      }
    }
    return nil
  }

  static func pick<T>(_ pool: [T], _ byte: UInt8) -> T { pool[Int(byte) % pool.count] }

  /// Pages of a 2 MiB raw map (opcode bit 4).
  package static let blockPages: UInt64 = 512
  /// Pages of a 1 GiB raw map (v2 opcode bit 5).
  package static let gigabytePages: UInt64 = 1 << 18
  /// Clears the offset of an address within its 2 MiB block.
  static let blockAlignment: UInt64 = alignment(pages: blockPages)

  /// Clears the offset of an address within a block of `pages` pages (a
  /// power of two).
  static func alignment(pages: UInt64) -> UInt64 { ~(pages << UInt64(pageShift) - 1) }

  /// A raw map or unmap of ``blockPages`` or ``gigabytePages`` with its
  /// GFN (and MFN) aligned down to its size, as the decoder makes it;
  /// anything else unchanged.
  static func aligned(_ kind: StatementKind) -> StatementKind {
    switch kind {
    case .p2mMap(let domain, let gfn, let mfn, let type, let valid, let pages) where pages == blockPages || pages == gigabytePages:
      .p2mMap(
        domain: domain, gfnAddress: gfn & alignment(pages: pages), mfnAddress: mfn & alignment(pages: pages), type: type, hardwareValid: valid,
        pages: pages)
    case .p2mUnmap(let domain, let gfn, blockPages):
      .p2mUnmap(domain: domain, gfnAddress: gfn & blockAlignment, pages: blockPages)
    default:
      kind
    }
  }

  mutating func operation(
    _ operation: Operation, block: Bool, range: Bool, _ a: UInt8, _ b: UInt8, isLiveGrant: (String) -> Bool,
    isLiveForeign: (String) -> Bool
  ) -> StatementKind? {
    let pools = configuration
    switch operation {
    case .p2mMap:
      return Self.aligned(.p2mMap(
        domain: a & 0x80 != 0 ? "guest" : "dom0", gfnAddress: Self.pick(pools.p2mAddresses, a & 0x7F),
        mfnAddress: Self.pick(pools.machineAddresses, b & 7),
        type: Self.pick(range ? FuzzConfiguration.gigabyteTypes : FuzzConfiguration.p2mTypes, b >> 3 & 0xF),
        hardwareValid: b & 0x80 == 0, pages: range ? Self.gigabytePages : block ? Self.blockPages : 1))
    case .p2mUnmap where block:
      return .setWay(domain: a & 0x80 != 0 ? "guest" : "dom0")
    case .p2mUnmap:
      return Self.aligned(.p2mUnmap(
        domain: a & 0x80 != 0 ? "guest" : "dom0", gfnAddress: Self.pick(pools.p2mAddresses, a & 0x7F),
        pages: range && pools.xen.zeroesRemovedHardwareInvalidEntries ? Self.blockPages : 1))
    case .grant:
      defer { grants.append("g\(grants.count)") }
      return .grant(GrantStatement(
        granter: "guest", gfnAddress: Self.pick(pools.guestPages, a & 0x7F), hostAddress: Self.pick(pools.hostAddresses, b),
        writable: a & 0x80 == 0, handle: "g\(grants.count)"))
    case .ungrant:
      let live = grants.filter(isLiveGrant)
      return live.isEmpty ? nil : .ungrant(handle: Self.pick(live, a))
    case .foreign:
      defer { foreignMaps.append("f\(foreignMaps.count)") }
      return .foreign(ForeignStatement(
        owner: "guest", gfnAddress: Self.pick(pools.guestPages, a), hostAddress: Self.pick(pools.hostAddresses, b),
        handle: "f\(foreignMaps.count)"))
    case .unforeign:
      let live = foreignMaps.filter(isLiveForeign)
      return live.isEmpty ? nil : .unforeign(handle: Self.pick(live, a))
    case .attach:
      return .attach(device: Self.pick(pools.deviceNames, a & 0x7F), domain: a & 0x80 != 0 ? "guest" : "dom0")
    case .detach:
      return .detach(device: Self.pick(pools.deviceNames, a))
    case .dma:
      let request = DMARequest(
        device: Self.pick(pools.deviceNames, a & 3 | (range ? 4 : 0)),
        buffer: Self.pick(pools.bufferPages, b) + Self.pick(FuzzConfiguration.bufferOffsets, a >> 3 & 3),
        size: Self.pick(FuzzConfiguration.bufferSizes, a >> 5),
        direction: a & 4 != 0 ? .fromDevice : .toDevice)
      return .dma(DMAStatement(request))
    }
  }

  /// Decodes `bytes` to a scenario, running the spec alongside to know
  /// which handles are live.
  package static func decode(_ bytes: [UInt8]) -> Scenario {
    var decoder = FuzzDecoder(bytes)
    var execution = ScenarioExecution()
    var statements: [Statement] = []
    func run(_ kind: StatementKind) {
      statements.append(Statement(kind))
      // DMAs change no handle, so they need not run here. A decoded
      // scenario always runs (the totality tests check it); were a
      // statement refused, later handles would still come from the spec.
      if case .dma = kind { return }
      _ = try? execution.execute(Statement(kind))
    }
    decoder.platform.forEach(run)
    while let kind = decoder.next(isLiveGrant: execution.isLiveGrant, isLiveForeign: execution.isLiveForeignMapping) {
      run(kind)
    }
    return Scenario(statements: statements)
  }
}
