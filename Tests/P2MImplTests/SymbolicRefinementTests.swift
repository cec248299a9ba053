import P2MImpl
import Solver
import Spec
import SymbolicWord
import Testing

/// The tables the implementation leaves after a fixed sequence of updates,
/// as a Z3 array, walked by the spec's generic walk on a symbolic IPA, are
/// proved to give exactly the spec's map for every IPA (DESIGN.md §4,
/// `p2m.refinement`, bounded: the small geometry and a tiny pool).
@Suite("Symbolic: tables after updates agree with the spec for every IPA")
struct SymbolicRefinementTests {
  let context = Context()

  /// A 2 MiB block, a 4K remap inside it (split + BBM), a removal inside
  /// the split block, and three foreign pages in another 1 GiB region:
  /// four table pages in all, the whole pool.
  static let operations: [(gfn: GFN, count: UInt64, mfn: MFN?, type: P2MType)] = [
    (GFN(0x200), 512, MFN(0x4_0000), .ramRO),
    (GFN(0x205), 1, MFN(0x9999), .ramRW),
    (GFN(0x3FF), 1, nil, .invalid),
    (GFN(0x4_0000), 3, MFN(0x1234), .mapForeignRW),
  ]

  static func build(ipaBits: Int, mutants: Bool) throws -> (XenP2M, ReferenceP2M) {
    var p2m = try makeP2M(ipaBits: ipaBits, poolPages: 4)
    if mutants { p2m.mutants = .splitWithoutInheritance }
    var spec = ReferenceP2M(ipaBits: ipaBits)
    for operation in operations {
      try p2m.setEntry(operation.gfn, count: operation.count, mfn: operation.mfn, type: operation.type)
      if let mfn = operation.mfn {
        try spec.map(operation.gfn, count: operation.count, to: mfn, type: operation.type)
      } else {
        try spec.unmap(operation.gfn, count: operation.count)
      }
    }
    #expect(p2m.memory.freeCount == 0, "the sequence uses the whole pool")
    return (p2m, spec)
  }

  /// Runs of the spec's map: consecutive GFNs to consecutive MFNs, one type.
  static func runs(_ spec: ReferenceP2M) -> [(gfn: UInt64, count: UInt64, mfn: UInt64, type: P2MType)] {
    var runs: [(gfn: UInt64, count: UInt64, mfn: UInt64, type: P2MType)] = []
    for (gfn, entry) in spec.entries.sorted(by: { $0.key < $1.key }) {
      if let last = runs.last, last.gfn + last.count == gfn.rawValue, last.mfn + last.count == entry.mfn.rawValue,
         last.type == entry.type {
        runs[runs.count - 1].count += 1
      } else {
        runs.append((gfn.rawValue, 1, entry.mfn.rawValue, entry.type))
      }
    }
    return runs
  }

  /// "The walk of `ipa` is what the spec's map says": inside a run, no
  /// fault, the run's frame at the same offset, the type's permissions and
  /// software type; outside every run, a fault.
  func agreesWithSpec(_ spec: ReferenceP2M, ipa: SymbolicWord, outcome: WalkOutcome<SymbolicWord>) -> SymbolicBool {
    let page = ipa >> 12
    var claim = ipa.condition(true)
    var mapped = ipa.condition(false)
    for run in Self.runs(spec) {
      let inside = page >= run.gfn && page < run.gfn + run.count
      let expected = ((page &- run.gfn &+ run.mfn) << 12) | (ipa & 0xFFF)
      let permissions = run.type.permissions
      let translated = !outcome.faulted && outcome.outputAddress == expected
        && outcome.softwareType == UInt64(run.type.rawValue)
        && outcome.read && (permissions.write ? outcome.write : !outcome.write)
        && (permissions.execute ? !outcome.executeNever : outcome.executeNever)
      claim = claim && inside.implies(translated)
      mapped = mapped || inside
    }
    return claim && mapped.or(outcome.faulted)
  }

  @Test("proved: after block, split, removal and 4K maps, the tables translate every IPA as the spec maps it",
        arguments: [32, 40])
  func proved(ipaBits: Int) throws {
    let (p2m, spec) = try Self.build(ipaBits: ipaBits, mutants: false)
    let memory = try SymbolicDescriptorMemory(p2m.memory.liveTables(), in: context)
    let ipa = try SymbolicWord.variable("ipa", in: context)
    let outcome = stageTwoWalk(memory: memory, geometry: p2m.geometry, rootAddress: SymbolicWord(p2m.vttbr, in: context),
                               inputAddress: ipa, access: .read)
    let solver = try Solver(context: context, timeout: .seconds(60), randomSeed: 1)
    let result = try solver.prove(agreesWithSpec(spec, ipa: ipa, outcome: outcome).term)
    #expect(result.isProved, "\(ipaBits)-bit: \(result)")
  }

  @Test("refuted: a split that does not copy the parent's type and permissions; the counterexample replays concretely")
  func brokenSplitRefuted() throws {
    let (p2m, spec) = try Self.build(ipaBits: 32, mutants: true)
    let memory = try SymbolicDescriptorMemory(p2m.memory.liveTables(), in: context)
    let ipa = try SymbolicWord.variable("ipa", in: context)
    let outcome = stageTwoWalk(memory: memory, geometry: p2m.geometry, rootAddress: SymbolicWord(p2m.vttbr, in: context),
                               inputAddress: ipa, access: .read)
    let solver = try Solver(context: context, timeout: .seconds(60), randomSeed: 1)
    let model = try #require(try solver.prove(agreesWithSpec(spec, ipa: ipa, outcome: outcome).term).counterexample)
    let bad = try model.value(of: ipa.term)
    #expect((0x200..<0x400).contains(bad >> 12) && bad >> 12 != 0x205, "inside the split block: \(hex(bad))")
    let replayed = Seen(p2m.walk(bad, access: .read))
    #expect(replayed != Seen(expectedFrom: spec, ipa: bad, access: .read), "\(hex(bad)) replays to \(replayed)")
  }
}
