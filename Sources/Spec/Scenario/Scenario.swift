/// A platform, its domains and a sequence of operations with expected
/// outcomes: the readable, replayable unit that `dmaverify run` executes,
/// the fuzzer decodes to and the minimizer writes (DESIGN.md §5).
///
/// The text form is line-oriented, one statement a line, `#` to the end of
/// a line is a comment. ``ScenarioParser`` reads it and ``ScenarioPrinter``
/// writes it back; the two round-trip.
public struct Scenario: Hashable, Sendable {
  public var name: String?
  public var statements: [Statement]

  public init(name: String? = nil, statements: [Statement] = []) {
    self.name = name
    self.statements = statements
  }
}

/// Where a statement or token came from, for error messages.
public struct SourceLocation: Hashable, Sendable, CustomStringConvertible {
  public var line: Int
  public var column: Int
  public init(line: Int, column: Int) {
    self.line = line
    self.column = column
  }
  public var description: String { "\(line):\(column)" }
}

/// One line of a scenario. Equality ignores the location, so a parsed
/// scenario equals the one that was printed.
public struct Statement: Hashable, Sendable {
  public var kind: StatementKind
  public var location: SourceLocation?

  public init(_ kind: StatementKind, at location: SourceLocation? = nil) {
    self.kind = kind
    self.location = location
  }

  public static func == (lhs: Statement, rhs: Statement) -> Bool { lhs.kind == rhs.kind }
  public func hash(into hasher: inout Hasher) { hasher.combine(kind) }
}

public enum StatementKind: Hashable, Sendable {
  // MARK: Platform
  /// `xen <version>`: which Xen behaviour to model (e.g. 4.14 predates the
  /// `04085ec1ac` grant fix).
  case xen(version: String)
  /// `ipa-bits <n>`: the stage-2 input (and output) address size.
  case ipaBits(Int)
  /// `llc-colours <n>`: LLC colouring on, with n colours; absent means off.
  case llcColours(Int)
  /// `ram <address> <size>`: a bank of host RAM.
  case ram(address: UInt64, size: UInt64)
  /// `iommu on|off`: whether Xen enables the IOMMU for dom0.
  case iommu(Bool)
  /// `hypercall-cflush on|off`: whether Xen has GNTTABOP_cache_flush.
  case hypercallCacheFlush(Bool)
  /// `linux <policy>`: how dom0 Linux picks its DMA ops.
  case linuxPolicy(DMAPolicy)
  /// `smmu <name> v2|v3 [entries <n>]`: an SMMUv2's stream-match register
  /// groups (`SMMU_IDR0.NUMSMRG`, up to 128 on an MMU-500; the model's
  /// default 16 when absent).
  case smmu(name: String, version: SMMUVersion, streamMapEntries: Int? = nil)
  /// `device <name> …`: a DMA master.
  case device(DeviceDeclaration)

  // MARK: Domains
  /// `dom0 direct-mapped memory <size>` or `dom0 coloured <colours> memory
  /// <size>`: dom0's RAM over the host RAM banks.
  case dom0(Dom0Memory, size: UInt64)
  /// `swiotlb <address> <size>`: where in dom0's RAM Linux's bounce pool lies.
  case swiotlbPool(address: UInt64, size: UInt64)
  /// `domu <name> id <n> …`: a guest that grants or lends pages.
  case domU(DomUDeclaration)

  // MARK: Operations
  /// `attach <device> <domain>`: assign the device's streams to the domain's context.
  case attach(device: String, domain: String)
  /// `detach <device>`.
  case detach(device: String)
  /// `grant <domain> <gfn-address> to dom0 at <address> ro|rw as <handle>`.
  case grant(GrantStatement)
  /// `ungrant <handle>`.
  case ungrant(handle: String)
  /// `foreign <domain> <gfn-address> into dom0 at <address> as <handle>`.
  case foreign(ForeignStatement)
  /// `unforeign <handle>`.
  case unforeign(handle: String)
  /// `p2m <domain> map <gfn-address> <mfn-address> <type> [size <size>] [hw-invalid]`:
  /// `pages` consecutive GFNs to consecutive MFNs (one page unless a size
  /// is given), as one `p2m_set_entry()` call.
  case p2mMap(domain: String, gfnAddress: UInt64, mfnAddress: UInt64, type: P2MType, hardwareValid: Bool, pages: UInt64 = 1)
  /// `p2m <domain> unmap <gfn-address>`.
  case p2mUnmap(domain: String, gfnAddress: UInt64)
  /// `setway <domain>`: the guest cleans its caches by set/way, which Xen
  /// emulates by invalidating the domain's p2m at the root
  /// (`p2m_set_way_flush()` → `p2m_invalidate_root()`), so that each page's
  /// next access faults and is noted.
  case setWay(domain: String)
  /// `dma <device> to-device|from-device <address> <size> [expect <outcome>]`.
  case dma(DMAStatement)
}

public struct DeviceDeclaration: Hashable, Sendable {
  public enum Placement: Hashable, Sendable {
    /// Not behind any SMMU: addresses reach memory untranslated.
    case untranslated
    /// Behind `smmu` with these stream IDs; `described` is whether Xen
    /// knows it (an `iommus` / `mmu-masters` entry).
    case smmu(name: String, streams: [UInt32], described: Bool)
  }
  public var name: String
  public var placement: Placement
  public var coherent: Bool
  public var dmaMaskBits: Int

  public init(name: String, placement: Placement, coherent: Bool = true, dmaMaskBits: Int = 64) {
    self.name = name
    self.placement = placement
    self.coherent = coherent
    self.dmaMaskBits = dmaMaskBits
  }
}

public enum Dom0Memory: Hashable, Sendable {
  case directMapped
  case coloured(colours: [Int])
}

public struct DomUDeclaration: Hashable, Sendable {
  public enum Memory: Hashable, Sendable {
    /// Machine memory at a fixed host range, mapped from `base` up.
    case at(address: UInt64, size: UInt64)
    /// Pages from the coloured allocator, from these colours.
    case coloured(colours: [Int], pages: UInt64)
  }
  public var name: String
  public var id: UInt16
  public var memory: Memory
  /// The guest-physical address of the first page.
  public var base: UInt64

  public init(name: String, id: UInt16, memory: Memory, base: UInt64) {
    self.name = name
    self.id = id
    self.memory = memory
    self.base = base
  }
}

public struct GrantStatement: Hashable, Sendable {
  public var granter: String
  public var gfnAddress: UInt64
  public var hostAddress: UInt64
  public var writable: Bool
  public var handle: String
  public init(granter: String, gfnAddress: UInt64, hostAddress: UInt64, writable: Bool, handle: String) {
    self.granter = granter
    self.gfnAddress = gfnAddress
    self.hostAddress = hostAddress
    self.writable = writable
    self.handle = handle
  }
}

public struct ForeignStatement: Hashable, Sendable {
  public var owner: String
  public var gfnAddress: UInt64
  public var hostAddress: UInt64
  public var handle: String
  public init(owner: String, gfnAddress: UInt64, hostAddress: UInt64, handle: String) {
    self.owner = owner
    self.gfnAddress = gfnAddress
    self.hostAddress = hostAddress
    self.handle = handle
  }
}

/// A DMA and the outcome the scenario expects of it.
public struct DMAStatement: Hashable, Sendable {
  public var request: DMARequest
  public var expected: DMAOutcome?
  public init(_ request: DMARequest, expected: DMAOutcome? = nil) {
    self.request = request
    self.expected = expected
  }
}
