/// A device tree that cannot be read or understood, with the byte offset in
/// the blob where the problem is and what was expected there:
/// `board.dtb: error: offset 0x48: expected FDT_BEGIN_NODE (0x1), found 0x7`
/// (the `file: error: …` convention of `dmaverify run`).
///
/// Offsets are from the start of the blob (not of a block), so that
/// `xxd -s OFFSET board.dtb` shows the bytes. Errors about a property's
/// meaning (a `reg` of the wrong length, a dangling phandle) name the offset
/// of that property's FDT_PROP token.
public struct DeviceTreeError: Error, Hashable, Sendable, CustomStringConvertible {
  public var file: String?
  /// Byte offset in the blob; nil for errors that concern no byte (dtc
  /// missing, a node name the user gave that the tree lacks).
  public var offset: Int?
  public var message: String

  public init(file: String? = nil, offset: Int?, message: String) {
    self.file = file
    self.offset = offset
    self.message = message
  }

  /// One line, with control characters escaped: messages quote names and
  /// strings from the tree, and dtc's messages quote the source.
  public var description: String {
    Printable.escaped((file.map { "\($0): error: " } ?? "") + (offset.map { "offset 0x\(String($0, radix: 16)): " } ?? "") + message)
  }

  /// The same error, naming `file`.
  public func inFile(_ file: String) -> DeviceTreeError {
    var copy = self
    copy.file = file
    return copy
  }
}
