import Scenario
import Spec

/// A scenario the fuzzer's decoder cannot produce, with the statement that
/// is outside its vocabulary.
package struct FuzzEncodingError: Error, Hashable, Sendable, CustomStringConvertible {
  package var file: String?
  /// The scenario line, when the statement came from a file.
  package var line: Int?
  package var message: String

  package var description: String {
    let place = [file ?? "<scenario>", line.map(String.init)].compactMap { $0 }.joined(separator: ":")
    return "\(place): error: \(message)"
  }
}

/// Encodes a scenario as fuzz input bytes: the inverse of ``FuzzDecoder``
/// on the scenarios it produces, so that a human-written scenario seeds the
/// fuzzer and `decode(encode(s)) == s`.
///
/// A scenario is encodable when its platform statements are exactly those
/// of some ``FuzzConfiguration`` and every operation's values are in the
/// configuration's pools. Handle names are free (an `ungrant` is encoded
/// as its position among the live grants); decoding renames them `g0`, …
/// DMA expectations have no byte form: the fuzzer's oracles judge DMAs
/// instead, so an `expect` is refused unless `droppingExpectations`.
package enum FuzzEncoder {
  package static func encode(_ scenario: Scenario, droppingExpectations: Bool = false) throws(FuzzEncodingError) -> [UInt8] {
    let statements = scenario.statements
    let firstOperation = Self.platformLength(of: statements)
    let platform = statements[..<firstOperation].map(\.kind)
    guard var configuration = FuzzConfiguration(platform: platform) else {
      let expected = FuzzConfiguration(nearest: platform)
      let mismatch = zip(statements, expected.platform).first { $0.0.kind != $0.1 }?.0 ?? statements.first
      throw FuzzEncodingError(
        line: mismatch?.location?.line,
        message: "the platform is not one the fuzzer generates; the nearest is:\n"
          + expected.platform.map(ScenarioPrinter.line(for:)).joined(separator: "\n"))
    }
    // The first format where it can say everything, so that a scenario
    // encodes as it did before the second existed.
    if statements[firstOperation...].contains(where: { Self.needsV2($0.kind, devices: configuration.deviceNames) }) {
      configuration.format = .v2
    }
    var bytes = configuration.bytes
    let header = bytes.count
    var execution = ScenarioExecution()
    for statement in statements[..<firstOperation] { _ = try? execution.execute(statement) }
    var grants: [String] = []
    var foreignMaps: [String] = []
    for statement in statements[firstOperation...] {
      func refuse(_ message: String) -> FuzzEncodingError {
        FuzzEncodingError(line: statement.location?.line, message: "\(ScenarioPrinter.line(for: statement.kind)): \(message)")
      }
      func index<T: Equatable>(_ value: T, in pool: [T], _ what: String) throws(FuzzEncodingError) -> UInt8 {
        guard let position = pool.firstIndex(of: value) else {
          throw refuse("\((value as? UInt64).map(hex) ?? "\(value)") is not among the fuzzer's \(what)")
        }
        return UInt8(position)
      }
      func domainBit(_ name: String) throws(FuzzEncodingError) -> UInt8 {
        switch name {
        case "dom0": 0
        case "guest": 0x80
        default: throw refuse("the fuzzer's domains are dom0 and guest")
        }
      }
      let record: [UInt8]
      switch statement.kind {
      case .p2mMap(let domain, let gfn, let mfn, let type, let valid, let pages):
        let typeIndex = try index(
          type, in: pages == FuzzDecoder.gigabytePages ? FuzzConfiguration.gigabyteTypes : FuzzConfiguration.p2mTypes,
          pages == FuzzDecoder.gigabytePages ? "1 GiB map types (not foreign)" : "p2m types")
        let opcode: UInt8
        switch pages {
        case 1: opcode = 0
        case FuzzDecoder.blockPages: opcode = 0x10
        case FuzzDecoder.gigabytePages: opcode = 0x20
        default: throw refuse("the fuzzer maps 4K, 2M or 1G")
        }
        // A block map is any pool address that aligns down to it.
        func aligned(_ pool: [UInt64]) -> [UInt64] {
          pages == 1 ? pool : pool.map { $0 & FuzzDecoder.alignment(pages: pages) }
        }
        record = [opcode, try index(gfn, in: aligned(configuration.p2mAddresses), "p2m addresses") | domainBit(domain),
                  try index(mfn, in: aligned(configuration.machineAddresses), "machine addresses") | typeIndex << 3 | (valid ? 0 : 0x80)]
      case .p2mUnmap(let domain, let gfn, let pages):
        guard pages == 1 || pages == FuzzDecoder.blockPages else { throw refuse("the fuzzer unmaps 4K or 2M") }
        guard pages == 1 || configuration.xen.zeroesRemovedHardwareInvalidEntries else {
          throw refuse("the fuzzer unmaps 2M only on Xen 4.17 or later")
        }
        let pool = pages == 1 ? configuration.p2mAddresses : configuration.p2mAddresses.map { $0 & FuzzDecoder.blockAlignment }
        record = [pages == 1 ? 1 : 0x21, try index(gfn, in: pool, "p2m addresses") | domainBit(domain), 0]
      case .setWay(let domain):
        record = [0x11, try domainBit(domain), 0]
      case .grant(let grant):
        guard grant.granter == "guest" else { throw refuse("only the domain 'guest' grants") }
        record = [2, try index(grant.gfnAddress, in: configuration.guestPages, "guest pages") | (grant.writable ? 0 : 0x80),
                  try index(grant.hostAddress, in: configuration.hostAddresses, "dom0 grant addresses")]
        grants.append(grant.handle)
      case .ungrant(let handle):
        record = [3, try index(handle, in: grants.filter(execution.isLiveGrant), "live grant handles"), 0]
      case .foreign(let foreign):
        guard foreign.owner == "guest" else { throw refuse("only the domain 'guest' lends pages") }
        record = [4, try index(foreign.gfnAddress, in: configuration.guestPages, "guest pages"),
                  try index(foreign.hostAddress, in: configuration.hostAddresses, "dom0 foreign-map addresses")]
        foreignMaps.append(foreign.handle)
      case .unforeign(let handle):
        record = [5, try index(handle, in: foreignMaps.filter(execution.isLiveForeignMapping), "live foreign handles"), 0]
      case .attach(let device, let domain):
        record = [6, try index(device, in: configuration.deviceNames, "devices") | domainBit(domain), 0]
      case .detach(let device):
        record = [7, try index(device, in: configuration.deviceNames, "devices"), 0]
      case .dma(let dma):
        guard dma.expected == nil || droppingExpectations else {
          throw refuse("an expectation has no byte form (the fuzzer's oracles judge DMAs); drop it to encode")
        }
        let request = dma.request
        let page = request.buffer & ~(pageSize - 1)
        let offset = request.buffer & (pageSize - 1)
        let device = try index(request.device, in: configuration.deviceNames, "devices")
        let a = device & 3
          | (request.direction == .fromDevice ? 4 : 0)
          | (try index(offset, in: FuzzConfiguration.bufferOffsets, "buffer offsets")) << 3
          | (try index(request.size, in: FuzzConfiguration.bufferSizes, "buffer sizes")) << 5
        record = [device < 4 ? 8 : 8 | 0x20, a, try index(page, in: configuration.bufferPages, "buffer pages")]
      default:
        // An operation the decoder has no record for (a statement added to
        // the language and not to the input format), or a declaration
        // after the operations began.
        throw refuse(
          statement.kind.phase == .operation
            ? "the fuzzer's input format has no record for \(statement.kind.keyword); its operations are \(FuzzDecoder.operationKeywords.joined(separator: ", "))"
            : "the fuzzer generates platform statements only before the operations")
      }
      guard (bytes.count - header) / FuzzDecoder.recordSize < FuzzDecoder.maximumOperations else {
        throw refuse("more than \(FuzzDecoder.maximumOperations) operations")
      }
      bytes += record
      if case .dma = statement.kind { continue }
      do { _ = try execution.execute(statement) } catch { throw refuse("the scenario does not run: \(error.message)") }
    }
    return bytes
  }

  /// Whether only the second format can say `kind`: a 2 MiB unmap, a
  /// 1 GiB map, or a DMA of the fifth device or later (of `devices`).
  static func needsV2(_ kind: StatementKind, devices: [String]) -> Bool {
    switch kind {
    case .p2mUnmap(_, _, let pages): pages != 1
    case .p2mMap(_, _, _, _, _, let pages): pages == FuzzDecoder.gigabytePages
    case .dma(let dma): (devices.firstIndex(of: dma.request.device) ?? 0) >= 4
    default: false
    }
  }

  /// The statements before the first operation: the platform and its
  /// domains, and with ``FuzzConfiguration/guestDevice`` the guest's
  /// boot-time device assignment after them (an attach elsewhere is an
  /// operation).
  package static func platformLength(of statements: [Statement]) -> Int {
    let first = statements.firstIndex { isOperation($0.kind) } ?? statements.count
    guard first < statements.count, statements[first].kind == FuzzConfiguration.guestDeviceAssignment,
      FuzzConfiguration(nearest: statements[..<first].map(\.kind)).guestDevice
    else { return first }
    return first + 1
  }

  /// Whether `kind` is an operation (what the decoder's records produce),
  /// as opposed to a platform or domain statement.
  package static func isOperation(_ kind: StatementKind) -> Bool { kind.phase == .operation }
}
