import P2MImpl
import Solver
import Spec
import SymbolicWord

/// `p2m.chunk-order`: `p2m_set_entry()`'s loop splits a request into
/// chunks `p2m.step` covers, in order. For every GFN, MFN (or removal)
/// and count the loop can be left with — the program's own
/// ``P2MChunkCursor`` on Z3 words — the next chunk's order is 0, 9 or 18
/// with the GFN (and MFN) aligned to it (`p2m.step`'s request
/// hypothesis), the chunk fits in the pages left, and the cursor after it
/// stands at the chunk's end with the same MFN − GFN offset and the same
/// end of request, having made progress.
///
/// By induction on the loop (the count strictly falls): the chunks are
/// disjoint, aligned, consecutive and cover exactly the requested GFNs,
/// each mapped to its MFN at the request's offset; `p2m.step` makes each
/// chunk the spec's update of its GFNs, so the loop is the spec's update
/// of the whole range, or — when a chunk fails, which `p2m.step` shows
/// changes nothing — of the chunks before it (`completedPages`).
enum P2MChunkOrderTheorem {
  static let scope = "every GFN (the request ending below 2^52), MFN (the request ending below 2^36) or removal, and count ≥ 1 the loop can stand at; not: the chunk step itself (p2m.step)"

  static func theorem() -> Theorem {
    Theorem(name: "p2m.chunk-order", summary: "p2m_set_entry's loop (the program's own cursor) cuts every request into chunks of order 0/9/18, aligned, fitting the pages left, consecutive and at the request's MFN offset: by induction with p2m.step, a multi-chunk update is the spec's update of the range. Scope: \(scope)") { session in
      try [true, false].map { inserting in try decide(session: session, inserting: inserting) }
    }
  }

  static func decide(session: ProofSession, inserting: Bool) throws -> Finding {
    let name = "p2m.chunk-order[\(inserting ? "insert" : "remove")]"
    let gfn = try session.word("gfn")
    let mfn = try session.word("mfn")
    let remaining = try session.word("remaining")
    let cursor = P2MChunkCursor(gfn: gfn, mfn: inserting ? mfn : nil, remaining: remaining)
    var hypotheses = [remaining >= 1, remaining <= 1 << 52, gfn <= gfn.constant(1 << 52) &- remaining]
    if inserting { hypotheses += [remaining <= 1 << 36, mfn <= mfn.constant(1 << 36) &- remaining] }

    let order = cursor.order()
    let next = cursor.advanced(byOrder: order)
    let pages = gfn.constant(1).shiftedLeft(by: order)
    let low = pages &- 1
    var aligned = (gfn & low) == 0
    if inserting { aligned = aligned && (mfn & low) == 0 }
    var consecutive = next.gfn == gfn &+ pages && next.gfn &+ next.remaining == gfn &+ remaining
    if inserting, let nextMFN = next.mfn { consecutive = consecutive && nextMFN &- next.gfn == mfn &- gfn }
    let parts: [(String, SymbolicBool)] = [
      ("order", order == 0 || order == 9 || order == 18),
      ("aligned", aligned),
      ("fits", pages <= remaining),
      ("consecutive", consecutive),
      ("progress", next.remaining < remaining),
    ]
    let claim = parts.reduce(gfn.condition(true)) { $0 && $1.1 }
    var finding = try session.decide(name, claim: claim, hypotheses: hypotheses, freshSolvers: true) { model in
      let broken = try parts.filter { try !model.bool(of: $0.1.term) }.map(\.0)
      var values: [String: UInt64] = [:]
      for (label, word) in [("gfn", gfn), ("mfn", mfn), ("remaining", remaining), ("order", order)] {
        values[label] = try model.value(of: word.term)
      }
      // The same cursor, concretely.
      let concrete = P2MChunkCursor(gfn: values["gfn"]!, mfn: inserting ? values["mfn"] : nil, remaining: values["remaining"]!)
      let concreteOrder = concrete.order()
      let reproduced = concreteOrder == values["order"] && (1 << concreteOrder > concrete.remaining
        || concrete.gfn & ((1 << concreteOrder) - 1) != 0)
      let reason = "\(broken.joined(separator: ", ")) broken: gfn \(hex(values["gfn"]!)), \(inserting ? "mfn \(hex(values["mfn"]!)), " : "")\(values["remaining"]!) pages left, order \(concreteOrder)"
      return (reason, nil, reproduced, values)
    }
    if finding.verdict == .proved, try !session.isSatisfiable(hypotheses + [order == 18, remaining > 1 << 18]) {
      finding.verdict = .vacuous
      finding.reason = "the hypotheses admit no 1 GiB chunk within a longer request"
    }
    return finding
  }
}
