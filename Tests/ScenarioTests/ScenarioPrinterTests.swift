import Scenario
import Spec
import Testing

/// Random scenarios over every statement kind, for the round-trip property.
struct RandomScenarios {
  var random: SplitMix64
  /// The version each SMMU name was first declared with: the parser refuses
  /// a stream-match mask behind one first declared v3.
  var firstSMMUVersions: [String: SMMUVersion] = [:]

  mutating func pick<T>(_ choices: [T]) -> T { choices[Int(random.next() % UInt64(choices.count))] }
  mutating func page() -> UInt64 { (random.next() % (1 << 28)) << 12 }
  mutating func name() -> String { pick(["nic", "mmc", "sata", "dom0", "guest", "g1", "f-2", "x_y"]) }
  mutating func colours() -> [Int] {
    var result: [Int] = []
    var next = Int(random.next() % 4)
    for _ in 0..<(1 + random.next() % 6) {
      result.append(next)
      next += 1 + Int(random.next() % 3)
    }
    return result
  }

  mutating func statement() -> StatementKind {
    switch random.next() % 22 {
    case 0: return .xen(version: pick(["4.14", "4.15", "4.20"]))
    case 1: return .ipaBits(pick([32, 36, 40, 42, 44, 48]))
    case 2: return .llcColours(pick([2, 16, 64]))
    case 3: return .ram(address: page(), size: (1 + random.next() % 4096) << 12)
    case 4: return .iommu(random.next() % 2 == 0)
    case 5: return .hypercallCacheFlush(random.next() % 2 == 0)
    case 6: return .linuxPolicy(pick(DMAPolicy.allCases))
    case 7:
      let version = pick(SMMUVersion.allCases)
      let name = name()
      if firstSMMUVersions[name] == nil { firstSMMUVersions[name] = version }
      return .smmu(
        name: name, version: version, streamMapEntries: version == .v2 ? pick([nil, 1, 128]) : nil, iotlbEntries: pick([nil, 1, 256, 1 << 24]))
    case 8:
      let smmu = name()
      let streams = (0..<(1 + random.next() % 3)).map { _ in UInt32(random.next() % 0x1_0000) }
      let placement: DeviceDeclaration.Placement =
        random.next() % 2 == 0 ? .untranslated : .smmu(name: smmu, streams: streams, described: random.next() % 2 == 0)
      // Masks (15 bits, at least one non-zero, as the parser gives them)
      // only where the parser would take them: not behind an SMMUv3
      // declared earlier.
      var masks: [UInt32] = []
      if case .smmu = placement, firstSMMUVersions[smmu] != .v3, random.next() % 2 == 0 {
        masks = streams.map { _ in random.next() % 2 == 0 ? 0 : UInt32(random.next() % 0x8000) }
        if !masks.contains(where: { $0 != 0 }) { masks[0] = 1 }
      }
      return .device(DeviceDeclaration(
        name: name(), placement: placement, coherent: random.next() % 2 == 0, dmaMaskBits: 12 + Int(random.next() % 53), streamMasks: masks,
        passthrough: random.next() % 4 == 0))
    case 9: return random.next() % 3 == 0 ? .swiotlbPool(address: page(), size: (1 + random.next() % 256) << 12) : .dom0(random.next() % 2 == 0 ? .directMapped : .coloured(colours: colours()), size: (1 + random.next() % 4096) << 12)
    case 10:
      let memory: DomUDeclaration.Memory =
        random.next() % 2 == 0 ? .at(address: page(), size: (1 + random.next() % 512) << 12) : .coloured(colours: colours(), pages: 1 + random.next() % 1000)
      return .domU(DomUDeclaration(name: name(), id: UInt16(1 + random.next() % 100), memory: memory, base: page()))
    case 11: return .attach(device: name(), domain: name())
    case 12: return .detach(device: name())
    case 13: return .grant(GrantStatement(granter: name(), gfnAddress: page(), hostAddress: page(), writable: random.next() % 2 == 0, handle: name()))
    case 14: return .ungrant(handle: name())
    case 15: return .foreign(ForeignStatement(owner: name(), gfnAddress: page(), hostAddress: page(), handle: name()))
    case 16: return .unforeign(handle: name())
    case 17:
      return .p2mMap(
        domain: name(), gfnAddress: page(), mfnAddress: page(), type: pick(P2MType.allCases.filter(\.isValid)), hardwareValid: random.next() % 2 == 0,
        pages: pick([1, 2, 512, 1 << 18]))
    case 18: return .p2mUnmap(domain: name(), gfnAddress: page(), pages: pick([1, 2, 512, 1 << 18]))
    case 19: return .setWay(domain: name())
    default:
      return .dma(DMAStatement(DMARequest(device: name(), buffer: random.next() >> 16, size: 1 + random.next() % 20000, direction: pick(DMADirection.allCases)), expected: pick([nil] + DMAOutcome.allCases.map(Optional.some))))
    }
  }

  mutating func scenario() -> Scenario {
    firstSMMUVersions = [:]
    return Scenario(
      name: random.next() % 2 == 0 ? nil : "random #\(random.next() % 1000)",
      statements: (0..<(random.next() % 30)).map { _ in Statement(statement()) })
  }
}

@Suite("Scenario printer")
struct ScenarioPrinterTests {
  @Test("parse(print(s)) == s for 500 random scenarios (seed 0x5c3)")
  func roundTrip() throws {
    var generator = RandomScenarios(random: SplitMix64(seed: 0x5c3))
    for _ in 0..<500 {
      let scenario = generator.scenario()
      let text = ScenarioPrinter.print(scenario)
      let parsed = try ScenarioParser.parse(text)
      #expect(parsed == scenario, "\(text)")
      #expect(ScenarioPrinter.print(parsed) == text)
    }
  }

  @Test("sizes print with units when exact, colours as ranges")
  func canonicalForms() {
    #expect(ScenarioPrinter.line(for: .ram(address: 0x4000_0000, size: 256 << 20)) == "ram 0x40000000 256M")
    #expect(ScenarioPrinter.line(for: .dma(DMAStatement(DMARequest(device: "nic", buffer: 0x8000_0800, size: 0x1801, direction: .fromDevice), expected: .fault))) == "dma nic from-device 0x80000800 0x1801 expect fault")
    #expect(ScenarioPrinter.line(for: .dom0(.coloured(colours: [0, 1, 2, 3, 8, 10, 11]), size: 64 << 20)) == "dom0 coloured 0-3,8,10-11 memory 64M")
  }
}
