import Testing

@testable import DeviceTree

/// Each kind of malformation gives an error at the right offset that says
/// what was expected; blobs are good ones mutated, or built by hand.
@Suite("DTB reader: malformed blobs")
struct MalformedBlobTests {
  /// quarry.dtb (807 bytes): header fields at 0x0–0x27.
  func quarry() throws -> [UInt8] { try Fixtures.blob("quarry") }

  @Test("a node name with a newline, an escape or a non-ASCII byte is rejected at that byte, the name shown escaped")
  func unprintableNodeNames() throws {
    for (name, byte) in [("dma@0\ndma evil from-device 0x0 4K", 0x0a), ("x\u{1b}[2J", 0x1b), ("caf\u{e9}", 0xc3), ("sp ace", 0x20)] {
      let blob = BlobBuilder(tokens: [.begin(""), .begin(name), .end, .end]).build()
      let nameOffset = Int(blob.word(at: 0x8)) + 12
      let error = readError(blob)
      let at = Array(name.utf8).firstIndex(of: UInt8(byte)).map { nameOffset + $0 }
      #expect(error?.offset == at, "\(name)")
      #expect(error?.message.hasPrefix("expected a node name of printable ASCII characters, found byte 0x\(String(byte, radix: 16))") == true)
      #expect(error.map { !$0.description.contains("\n") && !$0.description.contains("\u{1b}") } == true)
    }
  }

  @Test("a bad magic is rejected at offset 0")
  func magic() throws {
    var blob = try quarry()
    blob[3] = 0xee
    #expect(readError(blob)?.description == "offset 0x0: expected the magic 0xd00dfeed, found 0xd00dfeee (not a DTB)")
    #expect(readError([0xd0, 0x0d])?.description == "offset 0x0: expected the magic 0xd00dfeed, found a blob of 2 bytes")
    #expect(readError(Array(try quarry().prefix(20)))?.offset == 20)
  }

  @Test("a header cut short, an old version or a newer last_comp_version")
  func versions() throws {
    var blob = try quarry()
    #expect(readError(Array(blob.prefix(30)))?.description == "offset 0x1e: expected a 40-byte header, found the end of the blob")
    blob.setWord(15, at: 0x14)
    #expect(readError(blob)?.description == "offset 0x14: expected version 16 or later, found 15")
    blob = try quarry()
    blob.setWord(18, at: 0x18)
    #expect(readError(blob)?.description == "offset 0x18: expected last_comp_version 17 or earlier (this reader implements version 17), found 18")
  }

  @Test("sizes and offsets beyond the blob name the header field")
  func sizes() throws {
    let good = try quarry()
    var blob = good
    blob.setWord(UInt32(good.count + 1), at: 0x4)
    #expect(readError(blob)?.description == "offset 0x4: expected totalsize between 40 and the blob's 807 bytes, found 808")
    blob = good
    blob.setWord(0x1000, at: 0x8)
    #expect(readError(blob)?.description == "offset 0x8: expected the structure block offset inside the blob after the header (0x28–0x327), found 0x1000")
    blob = good
    blob.setWord(0x3a, at: 0x8)
    #expect(readError(blob)?.description == "offset 0x8: expected the structure block offset to be 4-byte aligned, found 0x3a")
    blob = good
    blob.setWord(UInt32(good.count), at: 0x24)
    #expect(readError(blob)?.offset == 0x24)
    #expect(readError(blob)?.message.hasPrefix("expected the structure block (0x38 + ") == true)
    blob = good
    blob.setWord(good.word(at: 0x20) + 1, at: 0x20)
    #expect(readError(blob)?.offset == 0x20)
    blob = good
    blob.setWord(0x2c, at: 0x10)
    #expect(readError(blob)?.description == "offset 0x10: expected the memory reservation block offset to be 8-byte aligned, found 0x2c")
  }

  @Test("a reservation block without its (0, 0) terminator")
  func reservationTerminator() throws {
    var blob = BlobBuilder(tokens: [.begin(""), .end], reservations: [(0x1000, 0x1000)]).build()
    // Overwrite the terminator with a second entry, then cut totalsize
    // right after it: no terminator left inside the blob.
    blob.setWord(0x1, at: 0x38 + 4)
    let cut = Array(blob.prefix(0x48))
    var truncated = cut
    truncated.setWord(UInt32(cut.count), at: 0x4)
    truncated.setWord(0x48, at: 0x8)
    truncated.setWord(0x48, at: 0xc)
    truncated.setWord(0, at: 0x20)
    truncated.setWord(0, at: 0x24)
    #expect(readError(truncated)?.description == "offset 0x48: expected a memory reservation entry (16 bytes) or the (0, 0) terminator, found the end of the blob at 0x48")
  }

  @Test("a bad first token: the brief's example, expected FDT_BEGIN_NODE")
  func badToken() throws {
    var blob = try quarry()
    blob.setWord(0x7, at: 0x38)
    #expect(readError(blob)?.description == "offset 0x38: expected FDT_BEGIN_NODE (0x1), found 0x7")
    blob = try quarry()
    // The token after the root's name and first property header.
    blob.setWord(0x5, at: 0x60)
    #expect(readError(blob)?.description == "offset 0x60: expected a structure token (FDT_BEGIN_NODE, FDT_END_NODE, FDT_PROP, FDT_NOP), found 0x5")
  }

  @Test("an unterminated node name runs into the end of the structure block")
  func unterminatedNodeName() throws {
    var blob = try quarry()
    let structureEnd = Int(blob.word(at: 0x8) + blob.word(at: 0x24))
    // "memory@80000000" starts at 0x84; fill from there to the block's end.
    for index in 0x84..<structureEnd { blob[index] = 0x61 }
    #expect(readError(blob)?.description == "offset 0x84: expected a NUL-terminated node name, found the end of the structure block at 0x2ac")
  }

  @Test("a property name offset outside the strings block, or an unterminated name in it")
  func propertyNames() throws {
    var blob = try quarry()
    let stringsSize = blob.word(at: 0x20)
    // The root's first FDT_PROP is at 0x40: len at 0x44, nameoff at 0x48.
    #expect(blob.word(at: 0x40) == 3)
    blob.setWord(stringsSize, at: 0x48)
    #expect(readError(blob)?.description == "offset 0x48: expected a property name offset inside the strings block (size 0x7b), found 0x7b")
    blob = try quarry()
    blob.setWord(stringsSize - 1, at: 0x20)
    let error = try #require(readError(blob))
    #expect(error.message.hasPrefix("expected a NUL-terminated property name in the strings block"))
    let bad = BlobBuilder(tokens: [.begin(""), .property("", [])]).build()
    #expect(readError(bad)?.message.hasPrefix("expected a property name, found an empty string") == true)
  }

  @Test("a property value longer than the structure block")
  func propertyLength() throws {
    var blob = try quarry()
    blob.setWord(0x1000, at: 0x44)
    #expect(readError(blob)?.description == "offset 0x44: expected a property value of 4096 bytes within the structure block, found only 608 bytes left")
  }

  @Test("unbalanced nodes: an extra FDT_END_NODE, a missing one, FDT_END too early or missing")
  func balance() throws {
    let extra = BlobBuilder(tokens: [.begin(""), .end, .end]).build()
    #expect(readError(extra)?.description == "offset 0x44: expected FDT_END (0x9), found FDT_END_NODE (0x2) (unbalanced)")
    let missing = BlobBuilder(tokens: [.begin(""), .begin("a")]).build()
    #expect(readError(missing)?.description == "offset 0x48: expected FDT_END_NODE (0x2) for /a, found FDT_END (0x9)")
    let noEnd = BlobBuilder(tokens: [.begin(""), .end], terminate: false).build()
    #expect(readError(noEnd)?.description == "offset 0x44: expected FDT_END (0x9), found the end of the structure block at 0x44")
    let empty = BlobBuilder(tokens: []).build()
    #expect(readError(empty)?.description == "offset 0x38: expected FDT_BEGIN_NODE (0x1) for the root node, found FDT_END (0x9)")
    let cut = BlobBuilder(tokens: [.begin(""), .begin("a")], terminate: false).build()
    #expect(readError(cut)?.description == "offset 0x48: expected a token (FDT_END_NODE for /a), found the end of the structure block at 0x48")
  }

  @Test("a second root, a named root, a slash or an empty name in a node name")
  func names() throws {
    let twoRoots = BlobBuilder(tokens: [.begin(""), .end, .begin(""), .end]).build()
    #expect(readError(twoRoots)?.description == "offset 0x44: expected FDT_END (0x9) after the root node, found FDT_BEGIN_NODE (0x1) (a second root)")
    let named = BlobBuilder(tokens: [.begin("root"), .end]).build()
    #expect(readError(named)?.description == "offset 0x3c: expected the root node's name to be empty, found 'root'")
    let slash = BlobBuilder(tokens: [.begin(""), .begin("a/b"), .end, .end]).build()
    #expect(readError(slash)?.message == "expected a node name without '/', found 'a/b'")
    let empty = BlobBuilder(tokens: [.begin(""), .begin(""), .end, .end]).build()
    #expect(readError(empty)?.message == "expected a node name, found an empty name inside /")
  }

  @Test("nesting deeper than Linux's FDT_MAX_DEPTH (64) is refused; 64 levels are read")
  func depth() throws {
    let deepest = BlobBuilder(tokens: Array(repeating: .begin("n"), count: 64).enumerated().map { $0.offset == 0 ? .begin("") : $0.element }
      + Array(repeating: .end, count: 64)).build()
    #expect(try FlattenedDeviceTree(bytes: deepest).nodes.count == 64)
    let tooDeep = BlobBuilder(tokens: [.begin("")] + Array(repeating: .begin("n"), count: 64) + Array(repeating: .end, count: 65)).build()
    #expect(readError(tooDeep)?.message.hasPrefix("expected at most 64 levels of nodes, found deeper nesting in /n/n/") == true)
  }

  @Test("a property after a subnode breaks spec §5.4.2's order")
  func propertyAfterChild() throws {
    let blob = BlobBuilder(tokens: [.begin(""), .begin("a"), .end, .property("late", []), .end]).build()
    #expect(readError(blob)?.description == "offset 0x4c: expected FDT_BEGIN_NODE or FDT_END_NODE in / after its child nodes, found FDT_PROP (0x3) (properties must precede subnodes, spec §5.4.2)")
  }

  @Test("a property outside any node, after the root")
  func propertyOutside() throws {
    let blob = BlobBuilder(tokens: [.begin(""), .end, .property("x", [])]).build()
    #expect(readError(blob)?.description == "offset 0x44: expected FDT_END (0x9), found FDT_PROP (0x3) outside any node")
  }

  @Test("duplicate, zero and malformed phandles")
  func phandles() throws {
    let duplicate = BlobBuilder(tokens: [
      .begin(""), .begin("a"), .property("phandle", BlobBuilder.cells(1)), .end, .begin("b"), .property("phandle", BlobBuilder.cells(1)), .end, .end,
    ]).build()
    #expect(readError(duplicate)?.message == "expected phandle 0x1 of /b to be unique, but /a has it too")
    let zero = BlobBuilder(tokens: [.begin(""), .property("phandle", BlobBuilder.cells(0)), .end]).build()
    #expect(readError(zero)?.message == "expected a phandle other than 0x0 and 0xffffffff on /, found 0x0")
    let short = BlobBuilder(tokens: [.begin(""), .property("phandle", [1, 2]), .end]).build()
    #expect(readError(short)?.description == "offset 0x40: expected property 'phandle' of / to be one 32-bit cell, found 2 bytes")
  }

  @Test("a version-16 blob (no size_dt_struct) is read with the block bounded by the blob")
  func version16() throws {
    var blob = try quarry()
    blob.setWord(16, at: 0x14)
    blob.setWord(0, at: 0x24)
    let tree = try FlattenedDeviceTree(bytes: blob)
    #expect(tree.nodes.count == (try Fixtures.tree("quarry")).nodes.count)
  }

  @Test("every prefix of a blob throws and none crashes; every error offset lies inside the blob")
  func truncations() throws {
    for board in Fixtures.boards {
      let blob = try Fixtures.blob(board)
      for length in 0..<blob.count {
        let prefix = Array(blob.prefix(length))
        let error = readError(prefix)
        #expect(error.map { ($0.offset ?? 0) <= length } == true, "\(board) cut at \(length)")
        // The same prefix with totalsize (and the struct and strings sizes,
        // where they would reach past it) shrunk to fit: the structure or
        // strings block itself is cut, and must still throw.
        guard length >= 40 else { continue }
        var consistent = prefix
        consistent.setWord(UInt32(length), at: 0x4)
        let structureOffset = Int(blob.word(at: 0x8))
        let stringsOffset = Int(blob.word(at: 0xc))
        consistent.setWord(UInt32(max(0, min(Int(blob.word(at: 0x24)), length - structureOffset))), at: 0x24)
        consistent.setWord(UInt32(max(0, min(Int(blob.word(at: 0x20)), length - stringsOffset))), at: 0x20)
        // dtc leaves no slack in its blocks (every string is used, FDT_END
        // closes the structure block), so any cut loses something needed.
        if let tree = try? FlattenedDeviceTree(bytes: consistent) {
          Issue.record("\(board) cut at \(length) parsed to \(tree.nodes.count) nodes")
        }
      }
    }
  }
}
