import Foundation
import Testing

@testable import DeviceTree

/// The committed fixtures: invented boards written for these tests, as DTS
/// and as the DTB dtc made of them (so that the DTB tests need no dtc).
enum Fixtures {
  static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
  static let boards = ["orchard", "quarry", "harbour", "grove", "ridge", "ledge", "crest", "thicket"]

  static func path(_ board: String, _ suffix: String = "dtb") -> String {
    directory.appendingPathComponent("\(board).\(suffix)").path
  }

  /// A file of `Fixtures/cpp`: sources that need the C preprocessor.
  static func cpp(_ name: String) -> String {
    directory.appendingPathComponent("cpp").appendingPathComponent(name).path
  }

  static func blob(_ board: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: URL(fileURLWithPath: path(board))))
  }

  static func tree(_ board: String) throws -> FlattenedDeviceTree {
    try FlattenedDeviceTree(bytes: try blob(board))
  }

  static func platform(_ board: String) throws -> Platform {
    try Platform(tree: try tree(board))
  }

  static var dtcInstalled: Bool { DeviceTreeSource.compilerPath() != nil }
}

/// A minimal DTB writer for blobs that dtc refuses to produce (a property
/// after a subnode, duplicate phandles, dangling references): the layout of
/// spec v0.4 chapter 5 — header, reservation block at 0x28, structure
/// block, strings block.
struct BlobBuilder {
  enum Token {
    case begin(String)
    case end
    case property(String, [UInt8])
    case nop
    case raw(UInt32)
  }

  var tokens: [Token]
  var reservations: [(UInt64, UInt64)] = []
  var version: UInt32 = 17
  var lastCompatibleVersion: UInt32 = 16
  /// Whether to close the structure block with FDT_END.
  var terminate = true

  func build() -> [UInt8] {
    var structure: [UInt8] = []
    var strings: [UInt8] = []
    var stringOffsets: [String: Int] = [:]
    func word(_ value: UInt32, into bytes: inout [UInt8]) {
      bytes += [UInt8(value >> 24), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)]
    }
    func pad(_ bytes: inout [UInt8]) { while bytes.count % 4 != 0 { bytes.append(0) } }
    for token in tokens {
      switch token {
      case .begin(let name):
        word(1, into: &structure)
        structure += Array(name.utf8) + [0]
        pad(&structure)
      case .end:
        word(2, into: &structure)
      case .property(let name, let value):
        let offset = stringOffsets[name] ?? strings.count
        if stringOffsets[name] == nil {
          stringOffsets[name] = offset
          strings += Array(name.utf8) + [0]
        }
        word(3, into: &structure)
        word(UInt32(value.count), into: &structure)
        word(UInt32(offset), into: &structure)
        structure += value
        pad(&structure)
      case .nop:
        word(4, into: &structure)
      case .raw(let value):
        word(value, into: &structure)
      }
    }
    if terminate { word(9, into: &structure) }
    var reservationBlock: [UInt8] = []
    for (address, size) in reservations + [(0, 0)] {
      word(UInt32(address >> 32), into: &reservationBlock)
      word(UInt32(address & 0xffff_ffff), into: &reservationBlock)
      word(UInt32(size >> 32), into: &reservationBlock)
      word(UInt32(size & 0xffff_ffff), into: &reservationBlock)
    }
    let reservationOffset = 40
    let structureOffset = reservationOffset + reservationBlock.count
    let stringsOffset = structureOffset + structure.count
    let total = stringsOffset + strings.count
    var header: [UInt8] = []
    for value in [
      FlattenedDeviceTree.magic, UInt32(total), UInt32(structureOffset), UInt32(stringsOffset), UInt32(reservationOffset),
      version, lastCompatibleVersion, 0, UInt32(strings.count), UInt32(structure.count),
    ] {
      word(value, into: &header)
    }
    return header + reservationBlock + structure + strings
  }

  static func cells(_ values: UInt32...) -> [UInt8] {
    values.flatMap { [UInt8($0 >> 24), UInt8($0 >> 16 & 0xff), UInt8($0 >> 8 & 0xff), UInt8($0 & 0xff)] }
  }

  static func string(_ text: String) -> [UInt8] { Array(text.utf8) + [0] }
}

extension Array where Element == UInt8 {
  func word(at offset: Int) -> UInt32 {
    (UInt32(self[offset]) << 24) | (UInt32(self[offset + 1]) << 16) | (UInt32(self[offset + 2]) << 8) | UInt32(self[offset + 3])
  }

  mutating func setWord(_ value: UInt32, at offset: Int) {
    self[offset] = UInt8(value >> 24)
    self[offset + 1] = UInt8(value >> 16 & 0xff)
    self[offset + 2] = UInt8(value >> 8 & 0xff)
    self[offset + 3] = UInt8(value & 0xff)
  }
}

/// The error a blob gives, or a test failure if it parses.
func readError(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) -> DeviceTreeError? {
  do {
    _ = try FlattenedDeviceTree(bytes: bytes)
    Issue.record("expected the blob to be rejected", sourceLocation: sourceLocation)
    return nil
  } catch {
    return error
  }
}
