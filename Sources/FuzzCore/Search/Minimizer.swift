import Scenario
import Spec

/// Zeller and Hildebrandt's ddmin ("Simplifying and Isolating
/// Failure-Inducing Input", IEEE TSE 28(2), 2002): the smallest subsequence
/// of `items` it can find on which `fails` still holds, 1-minimal — removing
/// any single item makes `fails` false.
///
/// - Precondition: `fails(items)`.
/// - Complexity: O(n²) calls of `fails` in the worst case, O(k log n)
///   typically for a k-item result; each subset is tested at most once.
package func ddmin<T>(_ items: [T], _ fails: ([T]) -> Bool) -> [T] {
  var cache: [[Int]: Bool] = [:]
  func test(_ indices: [Int]) -> Bool {
    if let known = cache[indices] { return known }
    let result = fails(indices.map { items[$0] })
    cache[indices] = result
    return result
  }
  var current = Array(items.indices)
  var granularity = 2
  while current.count >= 2 {
    let chunks = stride(from: 0, to: current.count, by: max(1, current.count / granularity)).map {
      Array(current[$0..<min($0 + max(1, current.count / granularity), current.count)])
    }
    var reduced = false
    for chunk in chunks where test(chunk) {
      current = chunk
      granularity = 2
      reduced = true
      break
    }
    if !reduced {
      for chunk in chunks where chunks.count > 2 {
        let complement = current.filter { !chunk.contains($0) }
        if test(complement) {
          current = complement
          granularity = max(granularity - 1, 2)
          reduced = true
          break
        }
      }
    }
    if !reduced {
      if granularity >= current.count { break }
      granularity = min(granularity * 2, current.count)
    }
  }
  // With two chunks the complements are the chunks themselves; make sure
  // no single removal still fails (1-minimality), whatever path led here.
  var index = 0
  while index < current.count && current.count > 1 {
    var without = current
    without.remove(at: index)
    if test(without) { current = without; index = 0 } else { index += 1 }
  }
  if current.count == 1, test([]) { current = [] }
  return current.map { items[$0] }
}

/// Shrinks a failing scenario to a small, readable one that fails the same
/// way: same oracle, same property, same kind of operation (``FuzzFailure/Signature``), so
/// it never drifts to another bug.
///
/// 1. ddmin over the operations (the platform and domain statements stay).
/// 2. Values toward canonical ones: each operation's fields are replaced,
///    one at a time, by the first value of the fuzzer's pool (the first
///    dom0 page, `ram_rw`, hardware-valid, read-write, a page-aligned small
///    to-device DMA by the first device, attached to dom0); and, for a
///    fuzzer platform, each configuration option by its default. A
///    replacement is kept when the failure stays the same.
/// 3. ddmin again, so the result is 1-minimal.
package struct Minimizer {
  let checker: ScenarioChecker

  package init(checker: ScenarioChecker = ScenarioChecker()) {
    self.checker = checker
  }

  package struct Result: Sendable {
    package var scenario: Scenario
    package var failure: FuzzFailure
    /// Scenarios run while minimizing.
    package var tests: Int
  }

  /// - Returns: nil when `scenario` does not fail.
  package func minimize(_ scenario: Scenario) -> Result? {
    guard let original = checker.check(scenario).failure else { return nil }
    let target = original.signature
    var tests = 1
    func fails(_ statements: [Statement]) -> Bool {
      tests += 1
      return checker.check(Scenario(statements: statements)).failure?.signature == target
    }
    let split = FuzzEncoder.platformLength(of: scenario.statements)
    var platform = Array(scenario.statements[..<split])
    var operations = ddmin(Array(scenario.statements[split...])) { fails(platform + $0) }

    if var configuration = FuzzConfiguration(platform: platform.map(\.kind)) {
      for simplify in Self.configurationSteps {
        var candidate = configuration
        simplify(&candidate)
        guard candidate != configuration else { continue }
        let kinds = candidate.platform.map { Statement($0) }
        if fails(kinds + operations) {
          configuration = candidate
          platform = kinds
        }
      }
    }
    let pools = FuzzConfiguration(nearest: platform.map(\.kind))
    var changed = true
    var rounds = 0
    while changed && rounds < 3 {
      changed = false
      rounds += 1
      for position in operations.indices {
        for candidate in Self.simpler(operations[position].kind, pools: pools) {
          var trial = operations
          trial[position] = Statement(candidate)
          if fails(platform + trial) {
            operations = trial
            changed = true
            break
          }
        }
      }
    }
    operations = ddmin(operations) { fails(platform + $0) }
    let final = Scenario(name: scenario.name, statements: platform + operations)
    guard let failure = checker.check(final).failure, failure.signature == target else {
      preconditionFailure("ddmin returned a scenario that does not fail as \(target)")
    }
    return Result(scenario: final, failure: failure, tests: tests)
  }

  /// One default at a time, most simplifying first.
  static let configurationSteps: [@Sendable (inout FuzzConfiguration) -> Void] = [
    { $0.untranslatedMMC = false }, { $0.undescribedDSP = false }, { $0.nonCoherentGPU = false }, { $0.iotlbEntries = nil }, { $0.maskedStreams = false },
    { $0.guestDevice = false }, { $0.tightPool = false },
    { $0.coloured = false; $0.xen = FuzzConfiguration.versions[0] }, { $0.xen = FuzzConfiguration.versions[0] },
    { $0.ipaBits = 40 }, { $0.smmuVersion = .v2 }, { $0.policy = .legacy }, { $0.iommu = true },
    { $0.hypercallCacheFlush = true },
  ]

  /// Simpler versions of one operation, each changing one field to its
  /// canonical value, in the order they are tried.
  static func simpler(_ kind: StatementKind, pools: FuzzConfiguration) -> [StatementKind] {
    var candidates: [StatementKind] = []
    switch kind {
    case .p2mMap(let domain, let gfn, let mfn, let type, let valid, let pages):
      candidates = [
        .p2mMap(domain: domain, gfnAddress: gfn, mfnAddress: mfn, type: type, hardwareValid: valid),
        .p2mMap(domain: domain, gfnAddress: gfn, mfnAddress: mfn, type: type, hardwareValid: valid, pages: min(pages, FuzzDecoder.blockPages)),
        .p2mMap(domain: domain, gfnAddress: gfn, mfnAddress: mfn, type: type, hardwareValid: true, pages: pages),
        .p2mMap(domain: domain, gfnAddress: gfn, mfnAddress: mfn, type: .ramRW, hardwareValid: valid, pages: pages),
        .p2mMap(domain: domain, gfnAddress: gfn, mfnAddress: pools.machineAddresses[0], type: type, hardwareValid: valid, pages: pages),
        .p2mMap(domain: domain, gfnAddress: pools.p2mAddresses[0], mfnAddress: mfn, type: type, hardwareValid: valid, pages: pages),
        .p2mMap(domain: "dom0", gfnAddress: gfn, mfnAddress: mfn, type: type, hardwareValid: valid, pages: pages),
      ].map { FuzzDecoder.aligned($0) }
    case .p2mUnmap(let domain, let gfn, let pages):
      candidates = [
        .p2mUnmap(domain: domain, gfnAddress: gfn), .p2mUnmap(domain: domain, gfnAddress: pools.p2mAddresses[0], pages: pages),
        .p2mUnmap(domain: "dom0", gfnAddress: gfn, pages: pages),
      ].map { FuzzDecoder.aligned($0) }
    case .setWay:
      candidates = [.setWay(domain: "dom0")]
    case .grant(let grant):
      for change in [{ (g: inout GrantStatement) in g.writable = true }, { $0.gfnAddress = pools.guestPages[0] },
                     { $0.hostAddress = pools.hostAddresses[0] }] {
        var simpler = grant
        change(&simpler)
        candidates.append(.grant(simpler))
      }
    case .foreign(let foreign):
      for change in [{ (f: inout ForeignStatement) in f.gfnAddress = pools.guestPages[0] }, { $0.hostAddress = pools.hostAddresses[0] }] {
        var simpler = foreign
        change(&simpler)
        candidates.append(.foreign(simpler))
      }
    case .attach(let device, let domain):
      candidates = [.attach(device: device, domain: "dom0"), .attach(device: pools.deviceNames[0], domain: domain)]
    case .detach:
      candidates = [.detach(device: pools.deviceNames[0])]
    case .dma(let dma):
      for change in [{ (r: inout DMARequest) in r.direction = .toDevice }, { $0.size = FuzzConfiguration.bufferSizes[0] }, { $0.buffer &= ~(pageSize - 1) },
                     { $0.buffer = pools.dom0Pages[0] + ($0.buffer & (pageSize - 1)) }, { $0.device = pools.deviceNames[0] }] {
        var simpler = dma
        change(&simpler.request)
        candidates.append(.dma(simpler))
      }
    default:
      break
    }
    return candidates.filter { $0 != kind }
  }
}
