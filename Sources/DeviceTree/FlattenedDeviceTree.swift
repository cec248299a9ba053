/// A device tree read from a flattened devicetree blob (DTB), as laid out by
/// the Devicetree Specification v0.4, chapter 5 "Flattened Devicetree (DTB)
/// Format": a header, a memory reservation block, a structure block and a
/// strings block, every field big-endian.
///
/// Reading is total: any byte sequence either yields a tree or throws a
/// ``DeviceTreeError`` naming the offset and what was expected there. No
/// input-derived value is force-unwrapped or used as an index before it has
/// been checked against the blob, and nesting is handled with an explicit
/// stack, so deep trees cannot overflow the call stack.
public struct FlattenedDeviceTree: Hashable, Sendable {
  /// §5.2 "Header": ten 32-bit big-endian fields.
  public struct Header: Hashable, Sendable {
    public var totalSize: UInt32
    public var structureOffset: UInt32
    public var stringsOffset: UInt32
    public var reservationMapOffset: UInt32
    public var version: UInt32
    public var lastCompatibleVersion: UInt32
    public var bootCPUPhysicalID: UInt32
    public var stringsSize: UInt32
    /// Present from version 17; for a version-16 blob, the bytes from the
    /// structure block to the end of the blob.
    public var structureSize: UInt32
  }

  /// §5.3 "Memory Reservation Block": a physical range the client must not
  /// use as ordinary memory.
  public struct Reservation: Hashable, Sendable {
    public var address: UInt64
    public var size: UInt64
  }

  public var header: Header
  public var reservations: [Reservation]
  /// Every node in pre-order; index 0 is the root (path `/`).
  public var nodes: [DeviceTreeNode]
  /// §2.3.3 `phandle` value → index in `nodes`; unique by construction.
  var phandles: [UInt32: Int] = [:]

  /// `0xd00dfeed`, §5.2 `magic`.
  public static let magic: UInt32 = 0xd00d_feed
  /// The version this reader implements (§5.2: "version 17"). A blob whose
  /// `last_comp_version` is above it is not guaranteed to be readable.
  public static let readerVersion: UInt32 = 17
  /// Version 16 is the oldest whose structure block this reader understands:
  /// before it, node names were full paths [derived from dtc's flattree.c
  /// version table; the v0.4 spec describes only 17].
  public static let oldestVersion: UInt32 = 16

  /// The root node.
  public var root: DeviceTreeNode { nodes[0] }

  /// The node at `path` (`/soc/ethernet@ff0b0000`), if any.
  public func node(at path: String) -> DeviceTreeNode? {
    nodes.first { $0.path == path }
  }

  /// The parent of `node`, nil for the root.
  public func parent(of node: DeviceTreeNode) -> DeviceTreeNode? {
    node.parent.map { nodes[$0] }
  }

  /// The children of `node`, in blob order.
  public func children(of node: DeviceTreeNode) -> [DeviceTreeNode] {
    node.children.map { nodes[$0] }
  }

  /// Reads a DTB.
  /// - Throws: ``DeviceTreeError`` for every malformation: a bad magic, an
  ///   unsupported version, blocks outside the blob, unterminated names or
  ///   strings, a property name offset outside the strings block, unbalanced
  ///   nodes, a missing FDT_END, duplicate phandles.
  public init(bytes: [UInt8]) throws(DeviceTreeError) {
    var reader = BlobReader(bytes: bytes)
    header = try reader.header()
    reservations = try reader.reservations(header)
    nodes = try reader.structure(header)
    phandles = try Self.phandleTable(nodes)
  }

  /// The phandle table. Duplicate values would make references ambiguous,
  /// so they are rejected when reading.
  static func phandleTable(_ nodes: [DeviceTreeNode]) throws(DeviceTreeError) -> [UInt32: Int] {
    var table: [UInt32: Int] = [:]
    for (index, node) in nodes.enumerated() {
      guard let property = node.property("phandle") ?? node.property("linux,phandle") else { continue }
      guard property.value.count == 4 else {
        throw DeviceTreeError(offset: property.offset, message: "expected property '\(property.name)' of \(node.path) to be one 32-bit cell, found \(property.value.count) bytes")
      }
      let value = property.value.bigEndianUInt32(at: 0)
      // §2.3.3: a phandle is unique; 0 and 0xffffffff are not valid
      // references [derived: dtc reserves -1 for "no phandle" and libfdt
      // treats 0 as absent].
      guard value != 0, value != .max else {
        throw DeviceTreeError(offset: property.offset, message: "expected a phandle other than 0x0 and 0xffffffff on \(node.path), found \(hex(value))")
      }
      if let other = table[value] {
        throw DeviceTreeError(offset: property.offset, message: "expected phandle \(hex(value)) of \(node.path) to be unique, but \(nodes[other].path) has it too")
      }
      table[value] = index
    }
    return table
  }
}

/// One node: its name and path, its properties, and where its children are
/// in ``FlattenedDeviceTree/nodes``.
public struct DeviceTreeNode: Hashable, Sendable {
  /// The node name with unit address (`ethernet@ff0b0000`); empty for the root.
  public var name: String
  public var path: String
  /// Offset of the node's FDT_BEGIN_NODE token.
  public var offset: Int
  public var properties: [DeviceTreeProperty]
  /// Index of the parent in ``FlattenedDeviceTree/nodes``; nil for the root.
  public var parent: Int?
  public var children: [Int]

  /// The property named `name`, if present. A repeated name is invalid
  /// DTS that dtc refuses; in a hand-made blob the first one is taken, as
  /// libfdt's `fdt_getprop()` scans from the node's start [derived].
  public func property(_ name: String) -> DeviceTreeProperty? {
    properties.first { $0.name == name }
  }

  /// The node name without its unit address (`ethernet`).
  public var baseName: String {
    name.split(separator: "@", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? name
  }

  /// §2.3.3 `phandle` (or the older `linux,phandle`), when it is one cell.
  public var phandle: UInt32? {
    guard let property = property("phandle") ?? property("linux,phandle"), property.value.count == 4 else { return nil }
    return property.value.bigEndianUInt32(at: 0)
  }

  /// §2.3.1 `compatible`, most specific first; empty when absent or not a
  /// string list.
  public var compatible: [String] {
    (try? property("compatible")?.strings()) ?? []
  }

  /// §2.3.4 `status`: absent means "okay".
  public var status: String {
    (try? property("status")?.string()) ?? "okay"
  }

  /// Whether the node's own status lets a client use it. §2.3.4: "okay"
  /// (and the older "ok", which Xen's `dt_device_is_available()` and
  /// Linux's `of_device_is_available()` also accept) means operational;
  /// "disabled", "reserved", "fail" and "fail-sss" mean the OS must not
  /// drive the device.
  public var isAvailable: Bool {
    status == "okay" || status == "ok"
  }

  /// `device_type`: deprecated by the spec except on `memory` and `cpu`
  /// nodes, and still the mark of a PCI host bridge (`"pci"`).
  public var deviceType: String? {
    try? property("device_type")?.string()
  }
}

/// One property: its name from the strings block and its raw value.
public struct DeviceTreeProperty: Hashable, Sendable {
  public var name: String
  public var value: [UInt8]
  /// Offset of the property's FDT_PROP token, for errors about its value.
  public var offset: Int

  public init(name: String, value: [UInt8], offset: Int) {
    self.name = name
    self.value = value
    self.offset = offset
  }

  /// The value as big-endian 32-bit cells (§2.2.4 `<u32>` / `<prop-encoded-array>`).
  /// - Throws: when the length is not a multiple of 4.
  public func cells() throws(DeviceTreeError) -> [UInt32] {
    guard value.count % 4 == 0 else {
      throw DeviceTreeError(offset: offset, message: "expected property '\(name)' to be a list of 32-bit cells, found \(value.count) bytes")
    }
    return stride(from: 0, to: value.count, by: 4).map { value.bigEndianUInt32(at: $0) }
  }

  /// The value as exactly one cell.
  public func cell() throws(DeviceTreeError) -> UInt32 {
    let all = try cells()
    guard all.count == 1 else {
      throw DeviceTreeError(offset: offset, message: "expected property '\(name)' to be one 32-bit cell, found \(all.count) cells")
    }
    return all[0]
  }

  /// The value as NUL-terminated strings (§2.2.4 `<stringlist>`).
  /// - Throws: when the value is empty or its last string is unterminated.
  public func strings() throws(DeviceTreeError) -> [String] {
    guard let last = value.last, last == 0 else {
      throw DeviceTreeError(offset: offset, message: "expected property '\(name)' to be NUL-terminated strings")
    }
    return value.dropLast().split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
  }

  /// The value as one string (§2.2.4 `<string>`).
  public func string() throws(DeviceTreeError) -> String {
    let all = try strings()
    guard all.count == 1 else {
      throw DeviceTreeError(offset: offset, message: "expected property '\(name)' to be one string, found \(all.count)")
    }
    return all[0]
  }

  /// Adds 32-bit cells into numbers of `count` cells each (§2.3.5: an
  /// address or size of n cells is big-endian over n × 32 bits).
  /// - Throws: when a number would exceed 64 bits.
  static func combine(_ cells: ArraySlice<UInt32>, offset: Int, what: String) throws(DeviceTreeError) -> UInt64 {
    guard cells.count <= 2 else {
      throw DeviceTreeError(offset: offset, message: "expected \(what) of at most 2 cells (64 bits), found \(cells.count)")
    }
    return cells.reduce(UInt64(0)) { ($0 << 32) | UInt64($1) }
  }
}

func hex(_ value: some BinaryInteger) -> String { "0x" + String(value, radix: 16) }

extension Array where Element == UInt8 {
  /// Caller guarantees `offset + 4 <= count`.
  func bigEndianUInt32(at offset: Int) -> UInt32 {
    (UInt32(self[offset]) << 24) | (UInt32(self[offset + 1]) << 16) | (UInt32(self[offset + 2]) << 8) | UInt32(self[offset + 3])
  }
}

/// The bounds-checked cursor the reader is written with. Every read checks
/// its range against `limit` first and throws otherwise.
struct BlobReader {
  let bytes: [UInt8]
  /// `totalsize` once the header is read; the blob may be longer (§5.2:
  /// the total size "shall contain the size of all the data blocks").
  var limit: Int

  init(bytes: [UInt8]) {
    self.bytes = bytes
    limit = bytes.count
  }

  static let headerSize = 40

  func u32(at offset: Int, _ what: String) throws(DeviceTreeError) -> UInt32 {
    guard offset >= 0, offset <= limit - 4 else {
      throw DeviceTreeError(offset: offset, message: "expected \(what) (4 bytes), found the end of the blob at \(hex(limit))")
    }
    return bytes.bigEndianUInt32(at: offset)
  }

  func u64(at offset: Int, _ what: String) throws(DeviceTreeError) -> UInt64 {
    let high = try u32(at: offset, what)
    let low = try u32(at: offset + 4, what)
    return UInt64(high) << 32 | UInt64(low)
  }

  // MARK: Header

  mutating func header() throws(DeviceTreeError) -> FlattenedDeviceTree.Header {
    guard bytes.count >= 4 else {
      throw DeviceTreeError(offset: 0, message: "expected the magic \(hex(FlattenedDeviceTree.magic)), found a blob of \(bytes.count) bytes")
    }
    let magic = bytes.bigEndianUInt32(at: 0)
    guard magic == FlattenedDeviceTree.magic else {
      throw DeviceTreeError(offset: 0, message: "expected the magic \(hex(FlattenedDeviceTree.magic)), found \(hex(magic)) (not a DTB)")
    }
    guard bytes.count >= Self.headerSize else {
      throw DeviceTreeError(offset: bytes.count, message: "expected a \(Self.headerSize)-byte header, found the end of the blob")
    }
    let data = bytes
    let field = { (index: Int) in data.bigEndianUInt32(at: 4 * index) }
    var header = FlattenedDeviceTree.Header(
      totalSize: field(1), structureOffset: field(2), stringsOffset: field(3), reservationMapOffset: field(4),
      version: field(5), lastCompatibleVersion: field(6), bootCPUPhysicalID: field(7), stringsSize: field(8),
      structureSize: field(9))
    guard header.version >= FlattenedDeviceTree.oldestVersion else {
      throw DeviceTreeError(offset: 20, message: "expected version \(FlattenedDeviceTree.oldestVersion) or later, found \(header.version)")
    }
    guard header.lastCompatibleVersion <= FlattenedDeviceTree.readerVersion else {
      throw DeviceTreeError(offset: 24, message: "expected last_comp_version \(FlattenedDeviceTree.readerVersion) or earlier (this reader implements version 17), found \(header.lastCompatibleVersion)")
    }
    guard Int(header.totalSize) >= Self.headerSize, Int(header.totalSize) <= bytes.count else {
      throw DeviceTreeError(offset: 4, message: "expected totalsize between \(Self.headerSize) and the blob's \(bytes.count) bytes, found \(header.totalSize)")
    }
    limit = Int(header.totalSize)
    if header.version < 17 {
      // Version 16 has no size_dt_struct: the structure block may run to
      // the end of the blob, and the FDT_END token bounds it.
      header.structureSize = header.totalSize &- min(header.structureOffset, header.totalSize)
    }
    try block(offset: header.structureOffset, size: header.structureSize, field: 8, sizeField: 36, name: "structure block", alignment: 4)
    try block(offset: header.stringsOffset, size: header.stringsSize, field: 12, sizeField: 32, name: "strings block", alignment: 1)
    // §5.3: "the memory reservation block shall be aligned to an 8-byte boundary".
    try block(offset: header.reservationMapOffset, size: 0, field: 16, sizeField: nil, name: "memory reservation block", alignment: 8)
    return header
  }

  /// Checks that a block lies inside `totalsize`, after the header, aligned.
  func block(offset: UInt32, size: UInt32, field: Int, sizeField: Int?, name: String, alignment: Int) throws(DeviceTreeError) {
    let start = Int(offset)
    let end = start + Int(size)
    guard start >= Self.headerSize, start <= limit else {
      throw DeviceTreeError(offset: field, message: "expected the \(name) offset inside the blob after the header (\(hex(Self.headerSize))–\(hex(limit))), found \(hex(start))")
    }
    guard start % alignment == 0 else {
      throw DeviceTreeError(offset: field, message: "expected the \(name) offset to be \(alignment)-byte aligned, found \(hex(start))")
    }
    if let sizeField, end > limit {
      throw DeviceTreeError(offset: sizeField, message: "expected the \(name) (\(hex(start)) + \(hex(size))) to end within totalsize \(hex(limit))")
    }
  }

  // MARK: Memory reservation block

  /// §5.3: (address, size) pairs of 64-bit big-endian values, terminated by
  /// an entry whose address and size are both 0.
  func reservations(_ header: FlattenedDeviceTree.Header) throws(DeviceTreeError) -> [FlattenedDeviceTree.Reservation] {
    var entries: [FlattenedDeviceTree.Reservation] = []
    var offset = Int(header.reservationMapOffset)
    while true {
      guard offset <= limit - 16 else {
        throw DeviceTreeError(offset: offset, message: "expected a memory reservation entry (16 bytes) or the (0, 0) terminator, found the end of the blob at \(hex(limit))")
      }
      let address = try u64(at: offset, "a reservation address")
      let size = try u64(at: offset + 8, "a reservation size")
      if address == 0 && size == 0 { return entries }
      entries.append(.init(address: address, size: size))
      offset += 16
    }
  }

  // MARK: Structure block

  /// Linux refuses trees nested deeper than this (`FDT_MAX_DEPTH`,
  /// drivers/of/fdt.c); the bound also keeps the paths of a hostile blob,
  /// which grow with depth, from exhausting memory.
  static let maximumDepth = 64

  static let beginNode: UInt32 = 0x1
  static let endNode: UInt32 = 0x2
  static let prop: UInt32 = 0x3
  static let nop: UInt32 = 0x4
  static let end: UInt32 = 0x9

  static func tokenName(_ token: UInt32) -> String {
    switch token {
    case beginNode: "FDT_BEGIN_NODE (0x1)"
    case endNode: "FDT_END_NODE (0x2)"
    case prop: "FDT_PROP (0x3)"
    case nop: "FDT_NOP (0x4)"
    case end: "FDT_END (0x9)"
    default: hex(token)
    }
  }

  /// §5.4: a linear sequence of tokens, each 4-byte aligned. The root is
  /// FDT_BEGIN_NODE with an empty name; within a node, properties come
  /// before child nodes (§5.4.2); after the root's FDT_END_NODE only
  /// FDT_NOP and then FDT_END may follow.
  func structure(_ header: FlattenedDeviceTree.Header) throws(DeviceTreeError) -> [DeviceTreeNode] {
    let structStart = Int(header.structureOffset)
    let structEnd = structStart + Int(header.structureSize)
    let stringsStart = Int(header.stringsOffset)
    let stringsEnd = stringsStart + Int(header.stringsSize)
    var nodes: [DeviceTreeNode] = []
    /// Open nodes, innermost last, and whether each has seen a child yet.
    var open: [(index: Int, sawChild: Bool)] = []
    var rootClosed = false
    var offset = structStart

    func token(at offset: Int) throws(DeviceTreeError) -> UInt32 {
      guard offset <= structEnd - 4 else {
        let expected = rootClosed ? "FDT_END (0x9)" : open.isEmpty ? "FDT_BEGIN_NODE (0x1) for the root node" : "a token (FDT_END_NODE for \(nodes[open[open.count - 1].index].path))"
        throw DeviceTreeError(offset: offset, message: "expected \(expected), found the end of the structure block at \(hex(structEnd))")
      }
      return bytes.bigEndianUInt32(at: offset)
    }

    func aligned(_ value: Int) -> Int { (value + 3) & ~3 }

    while true {
      let tokenOffset = offset
      let value = try token(at: offset)
      offset += 4
      switch value {
      case Self.nop:
        continue
      case Self.end:
        guard rootClosed else {
          let expected = open.isEmpty ? "FDT_BEGIN_NODE (0x1) for the root node" : "FDT_END_NODE (0x2) for \(nodes[open[open.count - 1].index].path)"
          throw DeviceTreeError(offset: tokenOffset, message: "expected \(expected), found FDT_END (0x9)")
        }
        return nodes
      case Self.beginNode:
        guard !rootClosed else {
          throw DeviceTreeError(offset: tokenOffset, message: "expected FDT_END (0x9) after the root node, found FDT_BEGIN_NODE (0x1) (a second root)")
        }
        guard open.count < Self.maximumDepth else {
          throw DeviceTreeError(offset: tokenOffset, message: "expected at most \(Self.maximumDepth) levels of nodes, found deeper nesting in \(nodes[open[open.count - 1].index].path)")
        }
        guard let terminator = bytes[offset..<structEnd].firstIndex(of: 0) else {
          throw DeviceTreeError(offset: offset, message: "expected a NUL-terminated node name, found the end of the structure block at \(hex(structEnd))")
        }
        // Node names are printable ASCII (spec v0.4 §2.2.1 allows less;
        // dtc's lexer enforces it): a control byte in one would reach a
        // terminal or, through a path, a scenario file.
        if let odd = bytes[offset..<terminator].firstIndex(where: { !(0x21...0x7e).contains($0) }) {
          throw DeviceTreeError(
            offset: odd,
            message: "expected a node name of printable ASCII characters, found byte \(hex(UInt64(bytes[odd]))) in '\(Printable.escaped(String(decoding: bytes[offset..<terminator], as: UTF8.self)))'")
        }
        let name = String(decoding: bytes[offset..<terminator], as: UTF8.self)
        if open.isEmpty {
          guard name.isEmpty else {
            throw DeviceTreeError(offset: offset, message: "expected the root node's name to be empty, found '\(name)'")
          }
        } else {
          guard !name.isEmpty else {
            throw DeviceTreeError(offset: offset, message: "expected a node name, found an empty name inside \(nodes[open[open.count - 1].index].path)")
          }
          guard !name.contains("/") else {
            throw DeviceTreeError(offset: offset, message: "expected a node name without '/', found '\(name)'")
          }
        }
        offset = aligned(terminator + 1)
        let parent = open.last?.index
        let path = parent.map { nodes[$0].path == "/" ? "/" + name : nodes[$0].path + "/" + name } ?? "/"
        if let parent {
          open[open.count - 1].sawChild = true
          nodes[parent].children.append(nodes.count)
        }
        open.append((nodes.count, false))
        nodes.append(DeviceTreeNode(name: name, path: path, offset: tokenOffset, properties: [], parent: parent, children: []))
      case Self.endNode:
        guard open.popLast() != nil else {
          throw DeviceTreeError(offset: tokenOffset, message: "expected \(rootClosed ? "FDT_END (0x9)" : "FDT_BEGIN_NODE (0x1) for the root node"), found FDT_END_NODE (0x2) (unbalanced)")
        }
        if open.isEmpty { rootClosed = true }
      case Self.prop:
        guard let current = open.last else {
          throw DeviceTreeError(offset: tokenOffset, message: "expected \(rootClosed ? "FDT_END (0x9)" : "FDT_BEGIN_NODE (0x1) for the root node"), found FDT_PROP (0x3) outside any node")
        }
        guard !current.sawChild else {
          throw DeviceTreeError(offset: tokenOffset, message: "expected FDT_BEGIN_NODE or FDT_END_NODE in \(nodes[current.index].path) after its child nodes, found FDT_PROP (0x3) (properties must precede subnodes, spec §5.4.2)")
        }
        guard offset <= structEnd - 8 else {
          throw DeviceTreeError(offset: offset, message: "expected a property's len and nameoff (8 bytes), found the end of the structure block at \(hex(structEnd))")
        }
        let length = Int(bytes.bigEndianUInt32(at: offset))
        let nameOffset = Int(bytes.bigEndianUInt32(at: offset + 4))
        let valueStart = offset + 8
        guard length <= structEnd - valueStart else {
          throw DeviceTreeError(offset: offset, message: "expected a property value of \(length) bytes within the structure block, found only \(structEnd - valueStart) bytes left")
        }
        guard nameOffset < Int(header.stringsSize) else {
          throw DeviceTreeError(offset: offset + 4, message: "expected a property name offset inside the strings block (size \(hex(header.stringsSize))), found \(hex(nameOffset))")
        }
        let nameStart = stringsStart + nameOffset
        guard let nameEnd = bytes[nameStart..<stringsEnd].firstIndex(of: 0) else {
          throw DeviceTreeError(offset: nameStart, message: "expected a NUL-terminated property name in the strings block, found the end of the strings block at \(hex(stringsEnd))")
        }
        let name = String(decoding: bytes[nameStart..<nameEnd], as: UTF8.self)
        guard !name.isEmpty else {
          throw DeviceTreeError(offset: offset + 4, message: "expected a property name, found an empty string at strings offset \(hex(nameOffset))")
        }
        nodes[current.index].properties.append(
          DeviceTreeProperty(name: name, value: Array(bytes[valueStart..<valueStart + length]), offset: tokenOffset))
        offset = aligned(valueStart + length)
      default:
        let expected = rootClosed ? "FDT_END (0x9)" : open.isEmpty ? "FDT_BEGIN_NODE (0x1)" : "a structure token (FDT_BEGIN_NODE, FDT_END_NODE, FDT_PROP, FDT_NOP)"
        throw DeviceTreeError(offset: tokenOffset, message: "expected \(expected), found \(hex(value))")
      }
    }
  }
}
