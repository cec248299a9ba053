import Solver
import Spec
import SymbolicWord
import Testing

/// A small 40-bit p2m (two concatenated roots) with every outcome in it:
/// RAM, a read-only grant, a hardware-invalid page, MMIO under the second
/// root page, and holes at each level.
func smallP2M() throws -> ReferenceP2M {
  var p2m = ReferenceP2M(ipaBits: 40)
  try p2m.map(GFN(0x10), count: 3, to: MFN(0x5000), type: .ramRW)
  try p2m.map(GFN(0x13), to: MFN(0x7000), type: .grantMapRO)
  try p2m.map(GFN(0x20), to: MFN(0x8000), type: .ramRW, hardwareValid: false)
  try p2m.map(GFN(0x4_0200), to: MFN(0x6000), type: .mapForeignRW)
  try p2m.map(GFN(0x800_0000), to: MFN(0x9000), type: .mmioDirectDev)
  return p2m
}

let smallP2MTableFrames = (0x100..<0x140).map(MFN.init)

/// IPAs covering each outcome of ``smallP2M()``: mapped pages, the
/// hardware-invalid one, holes at L3, L2 and L1, and out of range.
let sampleIPAs: [UInt64] = [
  0x10_123, 0x12_FFF, 0x13_008, 0x20_000, 0x4_0200_ABC, 0x800_0000_010,
  0x14_000, 0x40_0000, 0x40_0000_0000, 0x100_0000_0000, 1 << 63,
]

@Suite("Stage-2 walk on Z3 words and memory")
struct SymbolicWalkTests {
  let context = Context()

  func expectSame(
    _ model: Model, _ symbolic: WalkOutcome<SymbolicWord>, _ concrete: WalkOutcome<UInt64>, _ note: String
  ) throws {
    #expect(try model.bool(of: symbolic.faulted.term) == concrete.faulted, "faulted \(note)")
    #expect(try model.value(of: symbolic.faultKind.term) == concrete.faultKind, "kind \(note)")
    #expect(try model.value(of: symbolic.level.term) == concrete.level, "level \(note)")
    #expect(try model.value(of: symbolic.outputAddress.term) == concrete.outputAddress, "address \(note)")
    #expect(try model.bool(of: symbolic.read.term) == concrete.read, "read \(note)")
    #expect(try model.bool(of: symbolic.write.term) == concrete.write, "write \(note)")
    #expect(try model.bool(of: symbolic.executeNever.term) == concrete.executeNever, "xn \(note)")
    #expect(try model.value(of: symbolic.softwareType.term) == concrete.softwareType, "type \(note)")
  }

  /// The claim "the walk translates `ipa` only to the frame the reference
  /// p2m maps its GFN to, at the same page offset, when hardware-valid".
  /// It implies the walk never reaches a frame outside the mapped MFNs.
  func translatesOnlyAsMapped(_ p2m: ReferenceP2M, ipa: SymbolicWord, outcome: WalkOutcome<SymbolicWord>) -> SymbolicBool {
    let oa = outcome.outputAddress
    var mapped = ipa.condition(false)
    for (gfn, entry) in p2m.entries where entry.hardwareValid {
      mapped = mapped || ((ipa >> 12) == gfn.rawValue && (oa >> 12) == entry.mfn.rawValue)
    }
    return outcome.faulted || (mapped && (oa & 0xFFF) == (ipa & 0xFFF))
  }

  @Test("symbolic IPA: each sampled value gives the concrete walk's outcome, field by field", arguments: Access.allCases)
  func agreesWithConcrete(access: Access) throws {
    let (store, root) = try smallP2M().materialize(tableFrames: smallP2MTableFrames)
    let geometry = try StageTwoGeometry(ipaBits: 40)
    let memory = try SymbolicDescriptorMemory(store, in: context)
    let ipa = try SymbolicWord.variable("ipa", in: context)
    let symbolic = stageTwoWalk(memory: memory, geometry: geometry, rootAddress: SymbolicWord(root.address, in: context),
                                inputAddress: ipa, access: access)
    let solver = try Solver(context: context, timeout: .seconds(10), randomSeed: 1)
    for sample in sampleIPAs {
      let concrete = stageTwoWalk(memory: store, geometry: geometry, rootAddress: root.address, inputAddress: sample, access: access)
      try solver.withScope {
        try solver.assert(ipa.term == sample)
        let model = try #require(try solver.check().model)
        try expectSame(model, symbolic, concrete, "\(hex(sample)) \(access): \(concrete.result)")
      }
    }
  }

  @Test("known IPA on Z3 memory: the walk folds to the concrete outcome without a term")
  func knownIPAFolds() throws {
    let (store, root) = try smallP2M().materialize(tableFrames: smallP2MTableFrames)
    let geometry = try StageTwoGeometry(ipaBits: 40)
    let memory = try SymbolicDescriptorMemory(store, in: context)
    for sample in sampleIPAs {
      let concrete = stageTwoWalk(memory: store, geometry: geometry, rootAddress: root.address, inputAddress: sample, access: .write)
      let folded = stageTwoWalk(memory: memory, geometry: geometry, rootAddress: SymbolicWord(root.address, in: context),
                                inputAddress: SymbolicWord(sample, in: context), access: .write)
      #expect(folded.faulted.knownValue == concrete.faulted, "\(hex(sample))")
      #expect(folded.faultStatusCode.knownValue == concrete.faultStatusCode, "\(hex(sample))")
      #expect(folded.outputAddress.knownValue == concrete.outputAddress, "\(hex(sample))")
      #expect(folded.softwareType.knownValue == concrete.softwareType, "\(hex(sample))")
    }
  }

  @Test("proved: for every IPA, the walk of the materialized p2m translates only to the mapped MFN of its GFN")
  func provedSound() throws {
    let p2m = try smallP2M()
    let (store, root) = try p2m.materialize(tableFrames: smallP2MTableFrames)
    let memory = try SymbolicDescriptorMemory(store, in: context)
    let ipa = try SymbolicWord.variable("ipa", in: context)
    let solver = try Solver(context: context, timeout: .seconds(30), randomSeed: 1)
    for access in Access.allCases {
      let outcome = stageTwoWalk(memory: memory, geometry: try StageTwoGeometry(ipaBits: 40),
                                 rootAddress: SymbolicWord(root.address, in: context), inputAddress: ipa, access: access)
      let result = try solver.prove(translatesOnlyAsMapped(p2m, ipa: ipa, outcome: outcome).term)
      #expect(result.isProved, "\(access): \(result)")
    }
  }

  @Test("proved: every hardware-valid mapped page is readable without a fault")
  func provedComplete() throws {
    let p2m = try smallP2M()
    let (store, root) = try p2m.materialize(tableFrames: smallP2MTableFrames)
    let memory = try SymbolicDescriptorMemory(store, in: context)
    let ipa = try SymbolicWord.variable("ipa", in: context)
    let outcome = stageTwoWalk(memory: memory, geometry: try StageTwoGeometry(ipaBits: 40),
                               rootAddress: SymbolicWord(root.address, in: context), inputAddress: ipa, access: .read)
    var mapped = ipa.condition(false)
    for (gfn, entry) in p2m.entries where entry.hardwareValid { mapped = mapped || (ipa >> 12) == gfn.rawValue }
    let solver = try Solver(context: context, timeout: .seconds(30), randomSeed: 1)
    let result = try solver.prove((!outcome.faulted).term, assuming: [mapped.term])
    #expect(result.isProved, "\(result)")
  }

  @Test("refuted: a leaf corrupted to another frame; the counterexample replays concretely")
  func corruptLeafRefuted() throws {
    let p2m = try smallP2M()
    var (store, root) = try p2m.materialize(tableFrames: smallP2MTableFrames)
    // GFN 0x13's L3 leaf (one L3 table holds GFNs 0x0–0x1FF) now points at MFN 0xABCDE.
    let l3 = try #require(store.frames.first { store.readTable($0)[0x13] != 0 })
    let leaf = store.readTable(l3)[0x13]
    try store.write(leaf & ~bitMask(high: 47, low: 12) | MFN(0xABCDE).address, table: l3, index: 0x13)
    let memory = try SymbolicDescriptorMemory(store, in: context)
    let ipa = try SymbolicWord.variable("ipa", in: context)
    let geometry = try StageTwoGeometry(ipaBits: 40)
    let outcome = stageTwoWalk(memory: memory, geometry: geometry, rootAddress: SymbolicWord(root.address, in: context),
                               inputAddress: ipa, access: .read)
    let solver = try Solver(context: context, timeout: .seconds(30), randomSeed: 1)
    let model = try #require(try solver.prove(translatesOnlyAsMapped(p2m, ipa: ipa, outcome: outcome).term).counterexample)
    let bad = try model.value(of: ipa.term)
    #expect(bad >> 12 == 0x13)
    let replay = stageTwoWalk(memory: store, geometry: geometry, rootAddress: root.address, inputAddress: bad, access: .read).result
    #expect(replay == .translated(address: MFN(0xABCDE).address | (bad & 0xFFF), level: 3,
                                  permissions: Permissions(read: true, write: false, execute: false), type: .grantMapRO))
  }

  @Test("refuted: a leaf with AF = 0 faults; the counterexample is an access-flag fault at L3")
  func clearedAccessFlagRefuted() throws {
    let p2m = try smallP2M()
    var (store, root) = try p2m.materialize(tableFrames: smallP2MTableFrames)
    let l3 = try #require(store.frames.first { store.readTable($0)[0x11] != 0 })
    try store.write(store.readTable(l3)[0x11] & ~(1 << 10), table: l3, index: 0x11)
    let memory = try SymbolicDescriptorMemory(store, in: context)
    let ipa = try SymbolicWord.variable("ipa", in: context)
    let geometry = try StageTwoGeometry(ipaBits: 40)
    let outcome = stageTwoWalk(memory: memory, geometry: geometry, rootAddress: SymbolicWord(root.address, in: context),
                               inputAddress: ipa, access: .read)
    var mapped = ipa.condition(false)
    for (gfn, entry) in p2m.entries where entry.hardwareValid { mapped = mapped || (ipa >> 12) == gfn.rawValue }
    let solver = try Solver(context: context, timeout: .seconds(30), randomSeed: 1)
    let model = try #require(try solver.prove((!outcome.faulted).term, assuming: [mapped.term]).counterexample)
    let bad = try model.value(of: ipa.term)
    #expect(bad >> 12 == 0x11)
    #expect(try model.value(of: outcome.faultStatusCode.term) == 0b001011)
    let replay = stageTwoWalk(memory: store, geometry: geometry, rootAddress: root.address, inputAddress: bad, access: .read).result
    #expect(replay == .fault(StageTwoFault(kind: .accessFlag, level: 3)))
  }

  /// Over arbitrary descriptor memory and any root, the address-size checks
  /// (§7.2) keep every translation inside the PA size; the same claim one
  /// bit tighter is refuted.
  @Test("proved for all tables: a translation's output address is inside the PA size", arguments: [32, 40, 44])
  func outputInsidePASize(ipaBits: Int) throws {
    let geometry = try StageTwoGeometry(ipaBits: ipaBits)
    let memory = try SymbolicDescriptorMemory.unconstrained(named: "tables", in: context)
    let ipa = try SymbolicWord.variable("ipa", in: context)
    let root = try SymbolicWord.variable("root", in: context)
    let outcome = stageTwoWalk(memory: memory, geometry: geometry, rootAddress: root, inputAddress: ipa, access: .write)
    let solver = try Solver(context: context, timeout: .seconds(30), randomSeed: 1)
    let inside = outcome.faulted || (outcome.outputAddress >> ipaBits) == 0
    #expect(try solver.prove(inside.term).isProved)
    let writable = outcome.faulted || outcome.write
    #expect(try solver.prove(writable.term).isProved)
    let tighter = outcome.faulted || (outcome.outputAddress >> (ipaBits - 1)) == 0
    #expect(try solver.prove(tighter.term).counterexample != nil)
  }
}
