import P2MImpl
import Spec
import Testing

@testable import Proofs

/// `p2m.chunk-order` (Sources/Proofs/Theorems/P2MStep/P2MChunkOrderTheorem.swift)
/// is proved for the loop as it stands, and an order chosen without the
/// pages left is refuted on `fits`, with a cursor that replays.
@Suite("p2m.chunk-order: p2m_set_entry's loop cuts requests into p2m.step's chunks")
struct P2MChunkOrderTheoremTests {
  func run(_ theorem: Theorem, seeding bugs: [SeededBug] = []) throws -> [Finding] {
    try CatalogueTheoremTests().run(theorem, seeding: bugs)
  }

  @Test("proved for insertions and removals")
  func proved() throws {
    let findings = try run(P2MChunkOrderTheorem.theorem())
    #expect(findings.map(\.claim) == ["p2m.chunk-order[insert]", "p2m.chunk-order[remove]"])
    #expect(findings.allSatisfy { $0.verdict == .proved }, "\(findings)")
  }

  @Test("refuted: an order that ignores the pages left; replayed")
  func ignoresCount() throws {
    let findings = try run(P2MChunkOrderTheorem.theorem(), seeding: [.chunkOrderIgnoresCount])
    #expect(findings.allSatisfy { $0.verdict == .refuted && $0.reason.contains("fits") && $0.replayed == true }, "\(findings)")
  }

  func chunks(gfn: UInt64, mfn: UInt64?, count: UInt64) -> [(gfn: UInt64, mfn: UInt64?, order: UInt64)] {
    var cursor = P2MChunkCursor<UInt64>(gfn: gfn, mfn: mfn, remaining: count)
    var chunks: [(UInt64, UInt64?, UInt64)] = []
    while cursor.remaining > 0 {
      let order = cursor.order()
      chunks.append((cursor.gfn, cursor.mfn, order))
      cursor = cursor.advanced(byOrder: order)
    }
    return chunks
  }

  /// The concrete loop, the same cursor: 1024 pages at a 2 MiB-aligned
  /// GFN and MFN are two 2 MiB chunks at the request's offset; 515 pages
  /// are 515 4K chunks, because Xen ORs the count into the mask ("XXX:
  /// Support superpage mappings if nr is not aligned to a superpage size",
  /// p2m_set_entry(), xen/arch/arm/p2m.c 4.12 … mmu/p2m.c 4.21).
  @Test("the concrete cursor's chunks: aligned counts take blocks, an odd count takes pages")
  func concreteChunks() {
    let blocks = chunks(gfn: 0x200, mfn: 0x1000, count: 1024)
    #expect(blocks.map(\.order) == [9, 9])
    #expect(blocks.map(\.gfn) == [0x200, 0x400])
    #expect(blocks.map(\.mfn) == [0x1000, 0x1200])
    let odd = chunks(gfn: 0x200, mfn: 0x1000, count: 515)
    #expect(odd.count == 515 && odd.allSatisfy { $0.order == 0 })
    #expect(chunks(gfn: 0x40000, mfn: nil, count: 1 << 18).map(\.order) == [18], "a removal ignores the MFN (3fafdc28eb)")
  }
}
