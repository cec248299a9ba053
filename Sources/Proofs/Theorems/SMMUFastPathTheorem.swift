import SMMUImpl
import Solver
import Spec
import SymbolicWord

/// `smmu.fast-path`: the SMMU's inlined hot path
/// (``XenSMMUPlatform/translateCompact(stream:on:address:access:)``)
/// decides an IOTLB hit as the proved generic lookup does.
///
/// The fast path probes the one slot (`IOTLB.hit`) with
/// ``IOTLBSlot/probe(vmid:ipa:access:generation:)``: one compare of
/// the packed key `vmid << 48 | page`, one of the stamp against the
/// VMID's generation. The full path (`XenSMMUPlatform.translate`, which
/// the fuzzer's SMMU oracle checks against the spec) decodes the same slot
/// with ``IOTLBSlot/entry(generationOfItsVMID:)`` and hands the entry to
/// ``iotlbHit(candidates:vmid:ipa:access:comparesVMID:)``, the lookup
/// `smmu.regression` runs on Z3. Only the full path is ever fuzzed, so a
/// bug in the probe alone escaped every check but the seeded
/// `FastPathTests`, which a hash that keeps small VMIDs apart hides (a
/// probe ignoring the VMID needs two VMIDs in one slot).
///
/// Claims, each decided with the program's own generic code on Z3 words:
///
/// - `[read]`, `[write]`: for every slot content `fill` can leave (an empty
///   key, or the key of a VMID below the IOTLB's limit and a page below
///   2^36; any value and 32-bit stamp), every VMID generation array, every
///   VMID limit up to 2^16, VMID below it and IPA below 2^48, the probe
///   hits exactly when the decoded entry is live and tagged (VMID, page),
///   and then answers what the generic lookup answers (output address, or
///   permission fault and level). Witnessed satisfiable: a hit that
///   translates, a hit that faults, and a tagged entry of a stale
///   generation.
/// - `[fill]`: what ``IOTLBSlot/fill(vmid:ipa:outputAddress:read:write:level:generation:)``
///   writes is such a slot, live under its generation, and decodes to the
///   VMID, page, output page, permissions and level filled.
///
/// Not covered here: the slot index (both paths probe the same slot, and
/// the index decides only which entries survive), the per-stream VMID
/// table the fast path reads instead of the context, and the projection to
/// ``CompactTranslation`` — `FastPathTests` compares those with the full
/// path on seeded platforms — and IPAs of 2^48 or more and VMIDs beyond the
/// limit, which both paths send to the walk before any slot is read.
enum SMMUFastPathTheorem {
  static let scope = "every slot content fill can leave (empty, or a key of VMID < limit and page < 2^36; any value, 32-bit stamp), every VMID generation array, VMID limit ≤ 2^16, VMID < limit, IPA < 2^48, read and write; not the slot index, the per-stream VMID table or the projection to CompactTranslation (FastPathTests)"

  /// Its broken variants: ``SeededBug/fastPathIgnoresVMID`` and
  /// ``SeededBug/fastPathBlockOffset`` seeded each make the `[read]` and
  /// `[write]` claims refuted.
  static func theorem() -> Theorem {
    Theorem(name: "smmu.fast-path", summary: "the IOTLB fast path's packed probe (IOTLB.hit, translateCompact's decision) hits and answers as the full path's decode and generic lookup for every slot content fill can leave, and fill leaves such slots. Scope: \(scope)") { session in
      var findings: [Finding] = []
      for access in Access.allCases { findings.append(try probe(session: session, access: access)) }
      findings.append(try fill(session: session))
      return findings
    }
  }

  /// The IOTLB's generations of every VMID, any 64-bit array, read at one
  /// VMID.
  static func generations(_ session: ProofSession) throws -> (SymbolicWord) -> SymbolicWord {
    try session.wordArray("generation")
  }

  /// What the IOTLB's representation allows of a slot's key: empty, or a
  /// VMID below `limit` over a page below 2^36 (`fill` never writes IPA
  /// bits 63:48, and a VMID at or beyond the limit is never cached).
  static func wellFormed(key: SymbolicWord, limit: SymbolicWord) -> SymbolicBool {
    key == UInt64.max || ((key >> 36) & 0xFFF == 0 && (key >> 48) < limit)
  }

  static func probe(session: ProofSession, access: Access) throws -> Finding {
    let key = try session.word("key")
    let value = try session.word("value")
    let stamp = try session.word("stamp")
    let vmid = try session.word("vmid")
    let ipa = try session.word("ipa")
    let limit = try session.word("limit")
    let generation = try generations(session)
    let slot = IOTLBSlot(key: key, value: value, stamp: stamp)

    // The full path: decode, then the generic lookup over the one candidate.
    let (live, entry) = slot.entry(generationOfItsVMID: generation(key >> 48))
    let (tagged, generic) = iotlbHit(candidates: CollectionOfOne(entry), vmid: vmid, ipa: ipa, access: access)
    let full = live && tagged
    // The fast path's probe.
    let fast = slot.probe(vmid: vmid, ipa: ipa, access: access, generation: generation(vmid))

    let hypotheses = [
      limit >= 1, limit <= 1 << 16, vmid < limit, ipa >> 48 == 0, wellFormed(key: key, limit: limit),
      // The concrete IOTLB's stamps and generations are 32-bit.
      stamp >> 32 == 0, generation(vmid) >> 32 == 0, generation(key >> 48) >> 32 == 0,
    ]
    let claim = fast.tagged.isEqual(to: full) && full.implies(fast.outcome.isEqual(to: generic))
    let name = "smmu.fast-path[\(access)]"
    var finding = try session.decide(name, claim: claim, hypotheses: hypotheses) { model in
      var values: [String: UInt64] = [:]
      for (label, word) in [("key", key), ("value", value), ("stamp", stamp), ("vmid", vmid), ("ipa", ipa)] {
        values[label] = try model.value(of: word.term)
      }
      values["generation(vmid)"] = try model.value(of: generation(vmid).term)
      values["generation(key)"] = try model.value(of: generation(key >> 48).term)
      let (fastAnswer, fullAnswer) = replay(values, access: access)
      let reason = "vmid \(values["vmid"]!) ipa \(hex(values["ipa"]!)), slot key \(hex(values["key"]!)) value \(hex(values["value"]!)): the fast path gives \(fastAnswer.map { "\($0)" } ?? "a miss"), the full path \(fullAnswer.map { "\($0)" } ?? "a miss")"
      return (reason, nil, fastAnswer != fullAnswer, values)
    }
    guard finding.verdict == .proved else { return finding }
    // The hypotheses admit the cases the claim is about.
    let witnesses: [(String, [SymbolicBool])] = [
      ("a hit that translates", [full, !generic.faulted]),
      ("a hit that faults", [full, generic.faulted]),
      ("a tagged entry of a stale generation", [tagged, !live, key != UInt64.max]),
    ]
    for (label, conditions) in witnesses where try !session.isSatisfiable(hypotheses + conditions) {
      finding.verdict = .vacuous
      finding.reason = "the hypotheses admit no \(label)"
      return finding
    }
    return finding
  }

  /// The counterexample on the concrete IOTLB: a one-slot IOTLB (every
  /// VMID and page probe slot 0) holding the model's slot and generations,
  /// asked through the fast path (`hit`) and the full path (`candidate`,
  /// then the generic lookup).
  static func replay(_ values: [String: UInt64], access: Access)
    -> (fast: CompactTranslation?, full: CompactTranslation?) {
    var iotlb = IOTLB(capacity: 1, vmidBits: 16)
    let key = values["key"]!, vmid = values["vmid"]!, ipa = values["ipa"]!
    iotlb.load(slot: 0, IOTLBSlot(key: key, value: values["value"]!, stamp: values["stamp"]!))
    if key != UInt64.max { iotlb.setGeneration(values["generation(key)"]!, of: Int(key >> 48)) }
    iotlb.setGeneration(values["generation(vmid)"]!, of: Int(vmid))
    let full = iotlb.candidate(vmid: Int(vmid), ipa: ipa).flatMap { entry -> CompactTranslation? in
      let (tagged, outcome) = iotlbHit(candidates: CollectionOfOne(entry), vmid: vmid, ipa: ipa, access: access)
      return tagged ? CompactTranslation(stageTwo: outcome) : nil
    }
    return (iotlb.hit(vmid: Int(vmid), ipa: ipa, access: access), full)
  }

  static func fill(session: ProofSession) throws -> Finding {
    let vmid = try session.word("vmid")
    let ipa = try session.word("ipa")
    let output = try session.word("output")
    let level = try session.word("level")
    let generation = try session.word("generation")
    let limit = try session.word("limit")
    let read = try SymbolicBool.variable("read", in: session.context)
    let write = try SymbolicBool.variable("write", in: session.context)
    let slot = IOTLBSlot.fill(vmid: vmid, ipa: ipa, outputAddress: output, read: read, write: write, level: level, generation: generation)
    let (live, entry) = slot.entry(generationOfItsVMID: generation)
    let claim = wellFormed(key: slot.key, limit: limit) && live && entry.vmid == vmid && entry.page == ipa >> pageShift
      && entry.outputPage == output & bitMask(high: 47, low: 12) && entry.read.isEqual(to: read)
      && entry.write.isEqual(to: write) && entry.level == level
    let hypotheses = [limit >= 1, limit <= 1 << 16, vmid < limit, ipa >> 48 == 0, level >= 1, level <= 3, generation >> 32 == 0]
    return try session.decide("smmu.fast-path[fill]", claim: claim, hypotheses: hypotheses) { model in
      var values: [String: UInt64] = [:]
      for (label, word) in [("vmid", vmid), ("ipa", ipa), ("output", output), ("level", level)] {
        values[label] = try model.value(of: word.term)
      }
      return ("fill(vmid \(values["vmid"]!), ipa \(hex(values["ipa"]!)), level \(values["level"]!)) does not decode back", nil, nil, values)
    }
  }
}
