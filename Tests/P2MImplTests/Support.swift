import P2MImpl
import Spec
import Testing

/// A p2m whose tables sit in the middle of the PA space, away from the
/// frames tests map, so a failure message names distinct frames.
func makeP2M(ipaBits: Int = 40, poolPages: Int = 64, iommuEnabled: Bool = true, vmid: UInt16 = 1) throws -> XenP2M {
  try XenP2M(ipaBits: ipaBits, vmid: vmid, tableBase: tableBase(ipaBits: ipaBits), poolPages: poolPages,
             iommuEnabled: iommuEnabled)
}

func tableBase(ipaBits: Int) -> MFN { MFN(1 << UInt64(ipaBits - pageShift - 1)) }

/// A walk's result without the level: the spec has no levels, and the
/// implementation's choice of block sizes is its own business.
enum Seen: Hashable, CustomStringConvertible {
  case translated(address: UInt64, permissions: Permissions, type: P2MType?)
  case fault(StageTwoFault.Kind)

  init(_ result: WalkResult) {
    switch result {
    case .translated(let address, _, let permissions, let type): self = .translated(address: address, permissions: permissions, type: type)
    case .fault(let fault): self = .fault(fault.kind)
    }
  }

  /// What the spec says an access to `ipa` gives: a hole or a
  /// hardware-invalid entry is a translation fault, a forbidden access a
  /// permission fault, otherwise the mapped frame at the same offset.
  init(expectedFrom spec: ReferenceP2M, ipa: UInt64, access: Access) {
    guard ipa >> UInt64(spec.ipaBits) == 0, let entry = spec.lookup(GFN(ipa >> 12)), entry.hardwareValid else {
      self = .fault(.translation)
      return
    }
    guard entry.permissions.allows(access) else {
      self = .fault(.permission)
      return
    }
    self = .translated(address: entry.mfn.address | ipa & 0xFFF, permissions: entry.permissions, type: entry.type)
  }

  var description: String {
    switch self {
    case .translated(let address, let permissions, let type): "\(hex(address)) \(permissions) \(type.map(\.xenName) ?? "untyped")"
    case .fault(let kind): "\(kind) fault"
    }
  }
}

/// Checks `gfn` three ways against the spec: `p2m_get_entry()` on the
/// tables, the architectural walk, and the TLB path (twice, so the second
/// is a hit when the first filled).
func expectAgrees(_ p2m: inout XenP2M, _ spec: ReferenceP2M, gfn: GFN, offset: UInt64 = 0x123, _ note: @autoclosure () -> String,
                  sourceLocation: Testing.SourceLocation = #_sourceLocation) {
  #expect(p2m.lookup(gfn) == spec.lookup(gfn), "lookup \(gfn): \(note())", sourceLocation: sourceLocation)
  let ipa = gfn.address | offset
  for access in Access.allCases {
    let expected = Seen(expectedFrom: spec, ipa: ipa, access: access)
    #expect(Seen(p2m.walk(ipa, access: access)) == expected, "walk \(hex(ipa)) \(access): \(note())", sourceLocation: sourceLocation)
    #expect(Seen(p2m.translate(ipa, access: access)) == expected, "TLB miss \(hex(ipa)) \(access): \(note())", sourceLocation: sourceLocation)
    #expect(Seen(p2m.translate(ipa, access: access)) == expected, "TLB hit \(hex(ipa)) \(access): \(note())", sourceLocation: sourceLocation)
  }
}

func expectNoViolations(_ p2m: XenP2M, _ note: @autoclosure () -> String, sourceLocation: Testing.SourceLocation = #_sourceLocation) {
  let violations = p2m.checkInvariants()
  #expect(violations.isEmpty, "\(note()): \(violations.prefix(5))", sourceLocation: sourceLocation)
}

/// The descriptor writes among `events`, as (address, new value).
func writes(_ events: [P2MEvent]) -> [(address: UInt64, new: UInt64)] {
  events.compactMap { if case .descriptorWrite(let address, _, let new) = $0 { (address, new) } else { nil } }
}

/// The level of the leaf (or hole) `p2m_get_entry()` finds for `gfn`.
func level(_ p2m: XenP2M, _ gfn: GFN) -> Int { 3 - p2m.entry(at: gfn).order / 9 }
