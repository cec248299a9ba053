import Scenario
import Spec

/// A DMA matrix counterexample moved onto a board: the board's own
/// scenario (its RAM, SMMUs, devices, dom0) with the counterexample's guest,
/// grants, foreign maps and DMA rewritten onto the board's addresses and
/// done by the board's device, then run on the specification.
///
/// The matrix decides each cell on its reference platform (or every
/// platform of its class); an integrator wants to see the failure on the
/// addresses of the board in front of them. The rewrite keeps what made
/// the counterexample fail — the page kind, the guest frame's role, the
/// buffer's offset and size, the order of the Xen operations — and takes
/// everything else from the board: where dom0's RAM is, a hole above the
/// board's RAM for the extended region (where Linux maps grants and foreign
/// pages, fact sheet §2.6), guest memory after dom0's, and the device's
/// own coherence and DMA mask. So the replay says what this board does; it
/// may differ from the matrix's outcome (a 64-bit device does not fault
/// where the counterexample's 32-bit one did), and the report shows both.
package struct BoardCounterexample: Hashable, Sendable {
  /// The rewritten scenario, runnable with `dmaverify run`.
  package var scenario: String
  /// The counterexample's steps as rewritten (grants, foreign maps, DMA).
  package var steps: [String]
  /// The DMA's outcome on the board and the path it took, e.g.
  /// `CORRUPTION via dma-direct`, or why a step was refused.
  package var outcome: String
}

extension Platform {
  /// `counterexample` (a scenario the DMA matrix wrote) on this board,
  /// its DMA done by the device at `path`, run on the specification.
  ///
  /// - Throws: ``DeviceTreeError`` when the board cannot hold it: no RAM,
  ///   no room for the guest after dom0, no hole below the IPA size for
  ///   the extended region, or an address of the counterexample that is
  ///   neither dom0 RAM, the guest's memory nor its extended region.
  package func counterexample(_ counterexample: String, options: ScenarioOptions, device path: String) throws -> BoardCounterexample {
    let generated = try scenario(options)
    guard let device = generated.deviceNames[path] else {
      throw DeviceTreeError(offset: nil, message: "\(path) is not a device of the board's scenario")
    }
    let matrix: Scenario
    do { matrix = try ScenarioParser.parse(counterexample) } catch {
      throw DeviceTreeError(offset: nil, message: "the counterexample does not parse: \(error)")
    }
    let board = generated.scenario.statements.map(\.kind)
    let rewrite = try Relocation(matrix: matrix.statements.map(\.kind), board: board)

    var statements = board
    // Xen's features the counterexample chose (the cache-flush hypercall)
    // go with the platform statements, before dom0.
    let features = matrix.statements.map(\.kind).filter { if case .hypercallCacheFlush = $0 { true } else { false } }
    if let dom0 = statements.firstIndex(where: { if case .dom0 = $0 { true } else { false } }) {
      statements.insert(contentsOf: features, at: dom0)
    }
    // A coloured guest's frames are the allocator's: the model's choice of
    // frame (any of the guest's colours) need not be one the allocator
    // gives it on the board, so its p2m entries stay the allocator's (an
    // injective map as well, which is all the claim assumed of them).
    let colouredGuests = Set(matrix.statements.compactMap { statement -> String? in
      if case .domU(let guest) = statement.kind, case .coloured = guest.memory { guest.name } else { nil }
    })
    var steps: [StatementKind] = []
    for kind in matrix.statements.map(\.kind) {
      switch kind {
      case .domU(var guest):
        guest.memory = try rewrite.guestMemory(guest.memory, options: options)
        statements.append(.domU(guest))
      case .grant(var grant):
        grant.hostAddress = try rewrite.dom0Address(grant.hostAddress)
        steps.append(.grant(grant))
      case .foreign(var foreign):
        foreign.hostAddress = try rewrite.dom0Address(foreign.hostAddress)
        steps.append(.foreign(foreign))
      case .p2mMap(let domain, _, _, _, _, _) where colouredGuests.contains(domain):
        continue
      case .p2mMap(let domain, let gfn, let mfn, let type, let valid, let pages):
        // dom0's entries place a coloured dom0's page on a frame: both
        // sides move with dom0's RAM. A guest's GFNs stay (its base is the
        // same), its frames move with its memory.
        let gfnAddress = domain == "dom0" ? try rewrite.dom0Address(gfn) : gfn
        steps.append(.p2mMap(domain: domain, gfnAddress: gfnAddress, mfnAddress: try rewrite.hostFrame(mfn), type: type, hardwareValid: valid, pages: pages))
      case .dma(var dma):
        dma.request.device = device
        dma.request.buffer = try rewrite.dom0Address(dma.request.buffer)
        dma.expected = nil
        steps.append(.dma(dma))
      case .ungrant, .unforeign, .p2mUnmap:
        steps.append(kind)
      default:
        continue
      }
    }
    let rewritten = Scenario(
      name: "\(matrix.name ?? "counterexample") on \(generated.scenario.name ?? "the board")",
      statements: (statements + steps).map { Statement($0) })
    let text = ScenarioPrinter.print(rewritten)
    let shown = steps.map { ScenarioPrinter.line(for: $0) }
    do {
      let report = try ScenarioRunner.run(try ScenarioParser.parse(text))
      guard let last = report.steps.last else { return BoardCounterexample(scenario: text, steps: shown, outcome: "nothing ran") }
      guard let dma = last.dma else { return BoardCounterexample(scenario: text, steps: shown, outcome: "refused: \(last.result)") }
      return BoardCounterexample(scenario: text, steps: shown, outcome: "\(dma.outcome.rawValue.uppercased()) via \(dma.path.rawValue)")
    } catch {
      return BoardCounterexample(scenario: text, steps: shown, outcome: "not run: \(error)")
    }
  }
}

/// Where the counterexample's addresses go on the board.
private struct Relocation {
  /// dom0's RAM in the counterexample and on the board, bank by bank, as
  /// host ranges (direct-mapped: also dom0's physical addresses).
  var matrixDom0: [(start: UInt64, end: UInt64)]
  var boardDom0: [(start: UInt64, end: UInt64)]
  /// Host RAM banks, in address order.
  var matrixRAM: [(start: UInt64, end: UInt64)]
  var boardRAM: [(start: UInt64, end: UInt64)]
  /// The guest's host range in the counterexample and on the board.
  var matrixGuest: (start: UInt64, end: UInt64)?
  var boardGuestStart: UInt64?
  /// The extended region's 2 MiB-aligned base in each.
  var matrixHole: UInt64?
  var boardHole: UInt64

  static let holeAlignment: UInt64 = 0x20_0000

  init(matrix: [StatementKind], board: [StatementKind]) throws {
    func dom0Banks(_ kinds: [StatementKind]) -> [(start: UInt64, end: UInt64)] {
      let ram = kinds.compactMap { kind -> MemoryBank? in
        if case .ram(let address, let size) = kind { MemoryBank(start: MFN(address >> pageShift), pages: size >> pageShift) } else { nil }
      }
      let size = kinds.lazy.compactMap { kind -> UInt64? in if case .dom0(_, let size) = kind { size } else { nil } }.first ?? 0
      return (MemoryBank.dom0Banks(pages: size >> pageShift, in: ram) ?? []).map { ($0.start.address, $0.end.address) }
    }
    func ram(_ kinds: [StatementKind]) -> [(start: UInt64, end: UInt64)] {
      kinds.compactMap { if case .ram(let address, let size) = $0 { (address, address &+ size) } else { nil } }.sorted { $0.0 < $1.0 }
    }
    matrixRAM = ram(matrix)
    boardRAM = ram(board)
    matrixDom0 = dom0Banks(matrix)
    boardDom0 = dom0Banks(board)
    guard !boardDom0.isEmpty else { throw DeviceTreeError(offset: nil, message: "the board's scenario gives dom0 no RAM (give --ram BASE:SIZE)") }
    for kind in matrix {
      if case .domU(let guest) = kind, case .at(let address, let size) = guest.memory { matrixGuest = (address, address &+ size) }
    }
    // The counterexample's extended region: the lowest address it gives
    // dom0 outside its RAM, aligned down.
    var outside: [UInt64] = []
    for kind in matrix {
      switch kind {
      case .grant(let grant): outside.append(grant.hostAddress)
      case .foreign(let foreign): outside.append(foreign.hostAddress)
      case .dma(let dma): outside.append(dma.request.buffer)
      default: break
      }
    }
    let banks = matrixRAM
    outside = outside.filter { address in !banks.contains { address >= $0.start && address < $0.end } }
    matrixHole = outside.min().map { $0 & ~(Self.holeAlignment - 1) }
    // The board's: above its highest RAM, inside the IPA size.
    let ipaBits = board.lazy.compactMap { if case .ipaBits(let bits) = $0 { bits } else { nil } }.first ?? 48
    let top = boardRAM.map(\.end).max() ?? 0
    boardHole = (top &+ Self.holeAlignment - 1) & ~(Self.holeAlignment - 1)
    guard ipaBits >= 64 || boardHole + Self.holeAlignment <= UInt64(1) << UInt64(ipaBits) else {
      throw DeviceTreeError(offset: nil, message: "the board's RAM reaches the top of its \(ipaBits)-bit IPA space: no hole for dom0's extended region")
    }
    // The guest's memory: board RAM after dom0's, in dom0's last bank or
    // a later one.
    if let matrixGuest {
      let size = matrixGuest.end - matrixGuest.start
      // dom0 has the first of the RAM, bank by bank: all after its end is free.
      let dom0End = boardDom0.last!.end
      for (start, end) in boardRAM where end > dom0End && end - max(start, dom0End) >= size {
        boardGuestStart = max(start, dom0End)
        break
      }
      guard boardGuestStart != nil else {
        throw DeviceTreeError(offset: nil, message: "the board has no \(ScenarioPrinter.sizeText(size)) of RAM after dom0's for the counterexample's guest")
      }
    }
  }

  /// A dom0 physical address: in dom0's RAM (same offset into it) or in
  /// the extended region (same offset from its base).
  func dom0Address(_ address: UInt64) throws -> UInt64 {
    var offset: UInt64 = 0
    for bank in matrixDom0 {
      if address >= bank.start && address < bank.end { return try boardDom0Address(offset + (address - bank.start), for: address) }
      offset += bank.end - bank.start
    }
    if let matrixHole, address >= matrixHole && address - matrixHole < Self.holeAlignment {
      return boardHole + (address - matrixHole)
    }
    throw DeviceTreeError(offset: nil, message: "the counterexample's address \(hex(address)) is neither dom0's RAM nor its extended region")
  }

  private func boardDom0Address(_ offset: UInt64, for address: UInt64) throws -> UInt64 {
    var left = offset
    for bank in boardDom0 {
      if left < bank.end - bank.start { return bank.start + left }
      left -= bank.end - bank.start
    }
    throw DeviceTreeError(offset: nil, message: "the counterexample's dom0 address \(hex(address)) lies beyond dom0's memory on the board")
  }

  /// A host frame address (a p2m entry's target): in the guest's memory,
  /// the same offset into the guest's memory on the board; else the same
  /// offset into the same RAM bank (bank bases are colour-aligned, so a
  /// frame keeps its LLC colour).
  func hostFrame(_ address: UInt64) throws -> UInt64 {
    if let matrixGuest, let boardGuestStart, address >= matrixGuest.start && address < matrixGuest.end {
      return boardGuestStart + (address - matrixGuest.start)
    }
    for (index, bank) in matrixRAM.enumerated() where address >= bank.start && address < bank.end {
      guard index < boardRAM.count, address - bank.start < boardRAM[index].end - boardRAM[index].start else { break }
      return boardRAM[index].start + (address - bank.start)
    }
    throw DeviceTreeError(offset: nil, message: "the counterexample's frame \(hex(address)) has no place in the board's RAM")
  }

  /// The guest's memory on the board: the same size after dom0's RAM, or
  /// (coloured) the same pages from the colours dom0 does not use.
  func guestMemory(_ memory: DomUDeclaration.Memory, options: ScenarioOptions) throws -> DomUDeclaration.Memory {
    switch memory {
    case .at(let address, let size):
      return .at(address: boardGuestStart ?? address, size: size)
    case .coloured(_, let pages):
      guard case .coloured(let dom0) = options.dom0 else { return memory }
      let free = (0..<options.llcColours).filter { !dom0.contains($0) }
      guard !free.isEmpty else { throw DeviceTreeError(offset: nil, message: "dom0 has every LLC colour: none is left for the counterexample's guest") }
      return .coloured(colours: free, pages: pages)
    }
  }
}
