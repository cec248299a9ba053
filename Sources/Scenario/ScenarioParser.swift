import Spec

/// Reads the scenario text format (see ``Scenario``). Every error names the
/// line and column and says what was expected; nothing is skipped.
package enum ScenarioParser {
  /// The most statements a scenario may hold. Running one costs time and
  /// memory linear in its statements (a DMA step's report is a few KiB, and
  /// 100,000 DMAs run in about 5 s in 300 MB; BENCHMARKS.md "Bounded
  /// resources"), so a bound on statements is a bound on both; real
  /// scenarios have tens to hundreds.
  package static let statementLimit = 100_000

  package static func parse(_ text: String, file: String? = nil) throws(ScenarioError) -> Scenario {
    var scenario = Scenario()
    // The SMMUs declared so far, for refusing a stream-match mask behind
    // an SMMUv3 where it is written.
    var smmuVersions: [String: SMMUVersion] = [:]
    // "\r\n" is one Character in Swift, so splitting on "\n" alone would
    // leave a CRLF file one long line.
    let lines = text.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r\n" }
    for (index, line) in lines.enumerated() {
      do throws(ScenarioError) {
        var reader = try LineReader(line, number: index + 1)
        guard !reader.isAtEnd else { continue }
        if reader.peek == "scenario" {
          let location = reader.location
          reader.advance()
          guard scenario.name == nil else {
            throw ScenarioError(location: location, message: "the scenario is already named")
          }
          scenario.name = try reader.quoted("the scenario's name in double quotes")
          try reader.expectEnd()
        } else {
          guard scenario.statements.count < statementLimit else {
            throw ScenarioError(
              location: reader.location,
              message: "expected at most \(statementLimit) statements in a scenario (a bound on its time and memory), found more: this is statement \(statementLimit + 1)")
          }
          let statement = try statement(&reader, smmuVersions: smmuVersions)
          if case .smmu(let name, let version, _, _) = statement.kind, smmuVersions[name] == nil { smmuVersions[name] = version }
          scenario.statements.append(statement)
        }
      } catch {
        throw file.map { error.inFile($0) } ?? error
      }
    }
    return scenario
  }

  /// A scenario file's bytes as text: UTF-8 with no NUL byte.
  ///
  /// A file that is not text is malformed input, not an unreadable file:
  /// the error gives the line and column of the first bad byte and its
  /// offset, so a binary or mis-encoded file is told apart from one that
  /// cannot be opened.
  package static func text(_ bytes: [UInt8], file: String? = nil) throws(ScenarioError) -> String {
    var offset = 0
    var parser = Unicode.UTF8.ForwardParser()
    var iterator = bytes.makeIterator()
    var problem: String?
    decoding: while true {
      switch parser.parseScalar(from: &iterator) {
      case .valid(let encoded):
        if encoded.count == 1 && encoded.first == 0 {
          problem = "expected text, found a NUL byte (a binary file?)"
          break decoding
        }
        offset += encoded.count
      case .error:
        problem = "expected UTF-8 text, found the byte \(hex(UInt64(bytes[offset])))"
        break decoding
      case .emptyInput:
        break decoding
      }
    }
    guard let problem else { return String(decoding: bytes, as: UTF8.self) }
    let before = bytes[..<offset]
    let line = before.count(where: { $0 == 0x0A }) + 1
    let column = offset - (before.lastIndex(of: 0x0A).map { $0 + 1 } ?? 0) + 1
    throw ScenarioError(
      file: file, location: SourceLocation(line: line, column: column), message: "\(problem) at byte offset \(offset)")
  }

  static let ipaSizes = [32, 36, 40, 42, 44, 48]

  /// One statement: its keyword, then what its ``StatementSyntax`` entry
  /// reads, then the end of the line.
  static func statement(_ reader: inout LineReader, smmuVersions: [String: SMMUVersion] = [:]) throws(ScenarioError) -> Statement {
    let location = reader.location
    // `scenario "…"` (read by ``parse(_:file:)``) is listed too, as one of
    // the words a line may begin with.
    let keyword = try reader.oneOf(["scenario"] + StatementKind.keywords, what: "a statement")
    guard let syntax = StatementKind.syntax[keyword] else { throw reader.error(at: location, "expected a statement, found \(keyword)") }
    let kind = try syntax.read(&reader, smmuVersions)
    try reader.expectEnd()
    return Statement(kind, at: location)
  }

  /// `p2m <domain> map <gfn-address> <mfn-address> <type> [size <size>]
  /// [hw-invalid]` or `p2m <domain> unmap <gfn-address> [size <size>]`,
  /// after the keyword.
  static func p2m(_ reader: inout LineReader) throws(ScenarioError) -> StatementKind {
    let domain = try reader.name("a domain name")
    let action = try reader.oneOf(["map", "unmap"], what: "map or unmap")
    let gfn = try reader.pageAligned("a guest address")
    /// `size <size>`: whole pages, 4K to 1G, the guest range (and the
    /// machine range of a map) within 2^64.
    func pages(machine: UInt64?) throws(ScenarioError) -> UInt64 {
      guard reader.consume("size") else { return 1 }
      let here = reader.location
      let size = try reader.size("the \(machine == nil ? "removal" : "mapping")'s size")
      guard size % pageSize == 0, size >= pageSize, size <= 1 << 30 else {
        throw reader.error(at: here, "expected a \(machine == nil ? "removal" : "mapping") size from 4K to 1G in whole pages, found \(ScenarioPrinter.sizeText(size))")
      }
      try reader.requireRange(start: gfn, size: size, "the \(machine == nil ? "removal" : "mapping")'s guest range")
      if let machine { try reader.requireRange(start: machine, size: size, "the mapping's machine range") }
      return size >> pageShift
    }
    if action == "unmap" {
      return .p2mUnmap(domain: domain, gfnAddress: gfn, pages: try pages(machine: nil))
    } else {
      let mfn = try reader.pageAligned("a machine address")
      let type = try reader.oneOf(P2MType.allCases.filter(\.isValid), spelledAs: \.xenName, what: "a p2m type")
      let pages = try pages(machine: mfn)
      let hardwareValid = !reader.consume("hw-invalid")
      return .p2mMap(
        domain: domain, gfnAddress: gfn, mfnAddress: mfn, type: type, hardwareValid: hardwareValid, pages: pages)
    }
  }

  /// `device <name> untranslated|smmu <smmu> streams <id[/mask],…> …`.
  /// A stream's `/mask` is its SMR mask (15 bits, SMR.MASK), as a device
  /// tree gives it (a second `iommus` cell or `stream-match-mask`); an
  /// SMMUv3 has no SMRs, so a mask behind one declared earlier is refused.
  static func device(_ reader: inout LineReader, smmuVersions: [String: SMMUVersion] = [:]) throws(ScenarioError) -> DeviceDeclaration {
    let name = try reader.name("the device's name")
    let placement: DeviceDeclaration.Placement
    var masks: [UInt32] = []
    switch try reader.oneOf(["untranslated", "smmu"], what: "untranslated or smmu <name>") {
    case "untranslated":
      placement = .untranslated
    default:
      let smmu = try reader.name("the SMMU's name")
      try reader.keyword("streams")
      let entries = try reader.list("stream IDs such as 0x10,0x11 or 0x10/0xf") { token, location throws(ScenarioError) in
        let parts = token.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let value = parseNumber(parts[0]), value <= UInt64(UInt32.max) else {
          throw ScenarioError(location: location, message: "expected a stream ID or <id>/<mask>, found \(token)")
        }
        guard parts.count == 2 else { return (UInt32(value), UInt32(0)) }
        guard let mask = parseNumber(parts[1]), mask <= UInt64(Device.streamMatchMaskLimit) else {
          throw ScenarioError(location: location, message: "expected a stream-match mask of at most 15 bits (0x7fff) after '/', found '\(parts[1])'")
        }
        if smmuVersions[smmu] == .v3 {
          throw ScenarioError(location: location, message: "expected a stream ID without a mask: \(smmu) is an SMMUv3, which has no SMRs, found \(token)")
        }
        return (UInt32(value), UInt32(mask))
      }
      placement = .smmu(name: smmu, streams: entries.map(\.0), described: !reader.consume("undescribed"))
      if entries.contains(where: { $0.1 != 0 }) { masks = entries.map(\.1) }
    }
    var declaration = DeviceDeclaration(name: name, placement: placement, streamMasks: masks)
    while !reader.isAtEnd {
      switch try reader.oneOf(["coherent", "non-coherent", "dma-mask", "passthrough", "dma-ranges"], what: "a device property") {
      case "coherent": declaration.coherent = true
      case "non-coherent": declaration.coherent = false
      case "passthrough": declaration.passthrough = true
      case "dma-ranges": declaration.dmaRegions = try reader.dmaRegions()
      default: declaration.dmaMaskBits = Int(try reader.integer("the DMA mask width in bits", in: 12...64))
      }
    }
    return declaration
  }

  static func domU(_ reader: inout LineReader) throws(ScenarioError) -> DomUDeclaration {
    let name = try reader.name("the domain's name")
    try reader.keyword("id")
    let id = try reader.integer("a domain id", in: 1...0x7FEF)
    let memory: DomUDeclaration.Memory
    switch try reader.oneOf(["memory", "coloured"], what: "memory <address> <size> or coloured <colours> pages <n>") {
    case "memory":
      let address = try reader.pageAligned("the host address of its memory")
      let size = try reader.pageAlignedSize("its memory size")
      try reader.requireRange(start: address, size: size, "its memory")
      memory = .at(address: address, size: size)
    default:
      let colours = try reader.colourList()
      try reader.keyword("pages")
      memory = .coloured(colours: colours, pages: try reader.integer("a page count", in: 1...(1 << 20)))
    }
    try reader.keyword("base")
    let base = try reader.pageAligned("the guest address of its first page")
    switch memory {
    case .at(_, let size): try reader.requireRange(start: base, size: size, "its guest memory")
    case .coloured(_, let pages): try reader.requireRange(start: base, size: pages << pageShift, "its guest memory")
    }
    var pool: Int?
    if reader.consume("p2m-pool") {
      pool = Int(try reader.integer("the p2m pool's pages", in: 0...(1 << 20)))
    }
    return DomUDeclaration(name: name, id: UInt16(id), memory: memory, base: base, p2mPoolPages: pool)
  }

  /// `0x…` hexadecimal or decimal, with `_` separators; nil if not a number.
  static func parseNumber(_ token: Substring) -> UInt64? {
    let digits = String(token.filter { $0 != "_" })
    if digits.hasPrefix("0x") || digits.hasPrefix("0X") {
      return UInt64(digits.dropFirst(2), radix: 16)
    }
    return UInt64(digits, radix: 10)
  }
}

/// The tokens of one line with their columns.
struct LineReader {
  let number: Int
  var tokens: [(text: Substring, column: Int)] = []
  var index = 0
  let endColumn: Int

  init(_ line: Substring, number: Int) throws(ScenarioError) {
    self.number = number
    var column = 1
    var current: Substring.Index?
    var inQuote = false
    var position = line.startIndex
    var startColumn = 1
    func flush(_ end: Substring.Index, into tokens: inout [(text: Substring, column: Int)]) {
      if let start = current { tokens.append((line[start..<end], startColumn)) }
      current = nil
    }
    while position < line.endIndex {
      let character = line[position]
      if inQuote {
        if character == "\"" { inQuote = false }
      } else if character == "#" {
        break
      } else if character == " " || character == "\t" || character == "\r" {
        flush(position, into: &tokens)
      } else if current == nil {
        current = position
        startColumn = column
        if character == "\"" { inQuote = true }
      } else if character == "\"" {
        inQuote = true
      }
      position = line.index(after: position)
      column += 1
    }
    if inQuote {
      throw ScenarioError(location: SourceLocation(line: number, column: startColumn), message: "expected a closing double quote")
    }
    flush(position, into: &tokens)
    endColumn = column
  }

  var isAtEnd: Bool { index >= tokens.count }
  var peek: Substring? { isAtEnd ? nil : tokens[index].text }
  var location: SourceLocation { SourceLocation(line: number, column: isAtEnd ? endColumn : tokens[index].column) }
  var previousLocation: SourceLocation { SourceLocation(line: number, column: tokens[max(index - 1, 0)].column) }

  mutating func advance() { index += 1 }

  func error(at location: SourceLocation, _ message: String) -> ScenarioError {
    ScenarioError(location: location, message: message)
  }

  var found: String { peek.map { "found '\($0)'" } ?? "found the end of the line" }

  mutating func next(_ what: String) throws(ScenarioError) -> Substring {
    guard let token = peek else { throw error(at: location, "expected \(what), \(found)") }
    advance()
    return token
  }

  mutating func word(_ what: String) throws(ScenarioError) -> String { String(try next(what)) }

  mutating func name(_ what: String) throws(ScenarioError) -> String {
    let here = location
    let token = try next(what)
    guard token.first?.isLetter == true, token.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
      throw error(at: here, "expected \(what) (letters, digits, - and _, starting with a letter), found '\(token)'")
    }
    return String(token)
  }

  mutating func quoted(_ what: String) throws(ScenarioError) -> String {
    let here = location
    let token = try next(what)
    guard token.count >= 2, token.first == "\"", token.last == "\"" else {
      throw error(at: here, "expected \(what), found '\(token)'")
    }
    return String(token.dropFirst().dropLast())
  }

  mutating func keyword(_ keyword: String) throws(ScenarioError) {
    guard peek == Substring(keyword) else { throw error(at: location, "expected '\(keyword)', \(found)") }
    advance()
  }

  mutating func consume(_ keyword: String) -> Bool {
    guard peek == Substring(keyword) else { return false }
    advance()
    return true
  }

  mutating func oneOf(_ choices: [String], what: String) throws(ScenarioError) -> String {
    try oneOf(choices, spelledAs: { $0 }, what: what)
  }

  mutating func oneOf<Choice: RawRepresentable<String>>(_ choices: [Choice], what: String) throws(ScenarioError) -> Choice {
    try oneOf(choices, spelledAs: \.rawValue, what: what)
  }

  /// The choice whose spelling is the next token; the error lists the spellings.
  mutating func oneOf<Choice>(_ choices: [Choice], spelledAs spelling: (Choice) -> String, what: String) throws(ScenarioError) -> Choice {
    guard let token = peek, let choice = choices.first(where: { spelling($0) == token }) else {
      throw error(at: location, "expected \(what) (\(choices.map(spelling).joined(separator: ", "))), \(found)")
    }
    advance()
    return choice
  }

  mutating func onOff() throws(ScenarioError) -> Bool {
    try oneOf(["on", "off"], what: "on or off") == "on"
  }

  mutating func number(_ what: String) throws(ScenarioError) -> UInt64 {
    let here = location
    let token = try next(what)
    guard let value = ScenarioParser.parseNumber(token) else {
      throw error(at: here, "expected \(what) (decimal or 0x hexadecimal), found '\(token)'")
    }
    return value
  }

  mutating func integer(_ what: String, in range: ClosedRange<UInt64>? = nil) throws(ScenarioError) -> UInt64 {
    let value = try number(what)
    if let range, !range.contains(value) {
      throw error(at: previousLocation, "expected \(what) in \(range.lowerBound)...\(range.upperBound), found \(value)")
    }
    return value
  }

  /// A size: a number, optionally with a K, M or G suffix (powers of 1024).
  mutating func size(_ what: String) throws(ScenarioError) -> UInt64 {
    let here = location
    let token = try next(what)
    let shifts: [Character: UInt64] = ["K": 10, "M": 20, "G": 30]
    var digits = token
    var shift: UInt64 = 0
    if let last = token.last, let unit = shifts[last] {
      digits = token.dropLast()
      shift = unit
    }
    guard let value = ScenarioParser.parseNumber(digits), value <= (UInt64.max >> shift) else {
      throw error(at: here, "expected \(what) (a number, optionally with K, M or G), found '\(token)'")
    }
    return value << shift
  }

  /// Refuses a range `start ..< start + size` that passes the top of the
  /// 64-bit address space: no address in it could be written, and the
  /// arithmetic on it would overflow. The error points at the previous token
  /// (the size, or the last number read).
  func requireRange(start: UInt64, size: UInt64, _ what: String) throws(ScenarioError) {
    guard size == 0 || start <= UInt64.max - (size - 1) else {
      throw error(
        at: previousLocation,
        "expected \(what) to end at or below 2^64, but \(hex(start)) + \(hex(size)) ends past it")
    }
  }

  mutating func pageAligned(_ what: String) throws(ScenarioError) -> UInt64 {
    let value = try number(what)
    guard value % pageSize == 0 else {
      throw error(at: previousLocation, "expected \(what) aligned to 4 KiB, found \(hex(value))")
    }
    return value
  }

  mutating func pageAlignedSize(_ what: String) throws(ScenarioError) -> UInt64 {
    let value = try size(what)
    guard value > 0, value % pageSize == 0 else {
      throw error(at: previousLocation, "expected \(what) as a non-zero multiple of 4 KiB, found \(hex(value))")
    }
    return value
  }

  /// `dma-ranges` regions `<cpu>:<dma>:<size>` separated by commas, each
  /// of a non-zero size that wraps neither address space; at most 16.
  mutating func dmaRegions() throws(ScenarioError) -> [DMARegion] {
    let expected = "dma-ranges regions <cpu>:<dma>:<size> such as 0x0:0x80000000:0x40000000"
    let here = location
    let regions = try list(expected) { token, location throws(ScenarioError) in
      let parts = token.split(separator: ":", omittingEmptySubsequences: false)
      guard parts.count == 3, let cpu = ScenarioParser.parseNumber(parts[0]), let dma = ScenarioParser.parseNumber(parts[1]),
        let size = ScenarioParser.parseNumber(parts[2])
      else {
        throw ScenarioError(location: location, message: "expected \(expected), found '\(token)'")
      }
      guard size > 0, cpu <= UInt64.max - (size - 1), dma <= UInt64.max - (size - 1) else {
        throw ScenarioError(location: location, message: "expected a region of non-zero size inside the 64-bit address space, found '\(token)'")
      }
      return DMARegion(cpuStart: cpu, dmaStart: dma, size: size)
    }
    guard regions.count <= 16 else { throw error(at: here, "expected at most 16 dma-ranges regions, found \(regions.count)") }
    return regions
  }

  /// Colours `0,2-6,15` in Xen's `llc-colors` syntax: single colours and
  /// ranges `start-end` with `start <= end`, in any order and repeats
  /// allowed, as `parse_color_config()` (xen/common/llc-coloring.c,
  /// RELEASE-4.20.0 and 4.21.0) reads them: it checks neither order nor
  /// duplicates, and `check_colors()` only that each is below the colour
  /// count (the fact sheet's §5 said ascending; its errata correct it).
  /// Empty entries are refused here, which Xen reads as colour 0.
  mutating func colourList() throws(ScenarioError) -> [Int] {
    let here = location
    let token = try next("a colour list such as 0-3,8")
    var colours: [Int] = []
    for part in token.split(separator: ",", omittingEmptySubsequences: false) {
      let bounds = part.split(separator: "-", omittingEmptySubsequences: false)
      guard (1...2).contains(bounds.count), let low = Int(bounds[0]), let last = bounds.last, let high = Int(last), low <= high,
        high < 1 << 16
      else {
        throw error(at: here, "expected a colour list such as 0-3,8 (ranges from low to high, no empty entries), found '\(token)'")
      }
      colours.append(contentsOf: low...high)
    }
    return colours
  }

  mutating func list<T>(_ what: String, _ element: (Substring, SourceLocation) throws(ScenarioError) -> T) throws(ScenarioError) -> [T] {
    let here = location
    let token = try next(what)
    var result: [T] = []
    for part in token.split(separator: ",", omittingEmptySubsequences: false) {
      guard !part.isEmpty else { throw error(at: here, "expected \(what), found an empty entry in '\(token)'") }
      result.append(try element(part, here))
    }
    return result
  }

  func expectEnd() throws(ScenarioError) {
    guard isAtEnd else { throw error(at: location, "expected the end of the line, \(found)") }
  }
}
