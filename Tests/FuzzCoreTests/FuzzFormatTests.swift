import FuzzCore
import Foundation
import Scenario
import Spec
import Testing
import TestSupport

/// The input format's versions: the second (``FuzzConfiguration/Format/v2``)
/// adds what the fuzzer learned to reach without changing what any first-
/// format input means.
@Suite("Fuzz input format")
struct FuzzFormatTests {
  static let corpus = repository.appendingPathComponent("corpus/fuzz")

  static func committedInputs() throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: corpus.path).filter { !$0.hasPrefix(".") }.sorted()
  }

  @Test("every committed input decodes to the scenario its seed states, and none begins with the v2 marker")
  func committedInputsKeepTheirMeaning() throws {
    let names = try Self.committedInputs()
    #expect(names.count >= 8)
    for name in names {
      let bytes = [UInt8](try Data(contentsOf: Self.corpus.appendingPathComponent(name)))
      #expect(!bytes.starts(with: FuzzConfiguration.v2Marker), "corpus/fuzz/\(name) would now read as v2")
      let seed = repository.appendingPathComponent("corpus/fuzz-seeds/\(name).scn")
      let stated = try ScenarioParser.parse(try String(contentsOf: seed, encoding: .utf8), file: seed.path)
      #expect(FuzzDecoder.decode(bytes).statements == stated.statements, "corpus/fuzz/\(name)")
    }
  }

  @Test("a dictionary word in front of a v1 input makes a v2 input with the same platform and operations (bit 5 aside)")
  func prefixKeepsRecords() throws {
    var random = SplitMix64(seed: 0xF022_0201)
    for _ in 0..<50 {
      var v1 = (0..<(2 + 3 * 8)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
      // Opcode bit 5 is what v2 reads and v1 ignores.
      for opcode in stride(from: 2, to: v1.count, by: FuzzDecoder.recordSize) { v1[opcode] &= ~0x20 }
      #expect(FuzzDecoder.decode(FuzzConfiguration.v2Marker + [0] + v1) == FuzzDecoder.decode(v1))
    }
  }

  @Test("a v1 input's opcode bit 5 is ignored; behind the v2 marker it makes a raw unmap remove a 2 MiB block")
  func unmapRange() {
    // p2m unmap of pool address 12 (the domU's page 4, 0x80004000) from
    // the guest, with bit 5 set.
    let record: [UInt8] = [0x21, 0x80 | 12, 0]
    let v1 = FuzzDecoder.decode([0, 0] + record).statements.last?.kind
    #expect(v1 == .p2mUnmap(domain: "guest", gfnAddress: 0x8000_4000))
    let v2 = FuzzDecoder.decode(FuzzConfiguration.v2Marker + [0, 0, 0] + record).statements.last?.kind
    #expect(v2 == .p2mUnmap(domain: "guest", gfnAddress: 0x8000_0000, pages: 512))
  }

  @Test("v2's byte 2 chooses the SMMUs' IOTLB size, stated in the platform; v1 and v2 without it boot the same platform")
  func iotlbSize() throws {
    for (index, size) in FuzzConfiguration.iotlbSizes.enumerated() {
      let configuration = FuzzConfiguration(header: FuzzConfiguration.v2Marker + [UInt8(index), 0, 0x80])
      #expect(configuration.format == .v2 && configuration.iotlbEntries == size && configuration.gpuBehindSecondSMMU)
      let smmus = configuration.platform.compactMap { kind -> Int?? in
        if case .smmu(_, _, _, let iotlb) = kind { iotlb } else { nil }
      }
      #expect(smmus == [size, size], "both SMMUs")
      #expect(FuzzConfiguration(header: configuration.bytes) == configuration, "round trip")
    }
    #expect(FuzzConfiguration(header: FuzzConfiguration.v2Marker + [0, 0, 0]).platform == FuzzConfiguration().platform)
    // Reserved bits are ignored.
    #expect(FuzzConfiguration(header: FuzzConfiguration.v2Marker + [0xFD, 0, 0]).iotlbEntries == FuzzConfiguration.iotlbSizes[1])
  }

  @Test("the encoder writes v1 where v1 can say it, and v2 for an IOTLB size or a 2 MiB unmap")
  func encoderChoosesTheFirstFormat() throws {
    let v1 = FuzzConfiguration().platform.map { Statement($0) } + [Statement(.p2mUnmap(domain: "dom0", gfnAddress: 0x4000_0000))]
    #expect(try FuzzEncoder.encode(Scenario(statements: v1)).prefix(2) == [0, 0])
    let unmap = FuzzConfiguration().platform.map { Statement($0) } + [Statement(.p2mUnmap(domain: "guest", gfnAddress: 0x8000_0000, pages: 512))]
    let bytes = try FuzzEncoder.encode(Scenario(statements: unmap))
    #expect(bytes.starts(with: FuzzConfiguration.v2Marker))
    #expect(FuzzDecoder.decode(bytes) == Scenario(statements: unmap))
    var small = FuzzConfiguration()
    small.iotlbEntries = 4
    let sized = small.platform.map { Statement($0) }
    #expect(FuzzDecoder.decode(try FuzzEncoder.encode(Scenario(statements: sized))) == Scenario(statements: sized))
    let odd = FuzzConfiguration().platform.map { Statement($0) } + [Statement(.p2mUnmap(domain: "guest", gfnAddress: 0x8000_0000, pages: 3))]
    #expect(throws: FuzzEncodingError.self) { try FuzzEncoder.encode(Scenario(statements: odd)) }
  }

  @Test("behind the v2 marker, opcode bit 5 makes a raw map 1 GiB, GFN and MFN aligned down; v1 ignores it")
  func gigabyteMap() throws {
    // p2m map: pool address 12 (0x80004000) for the guest-side bit clear
    // (dom0), machine address 2 (0x40800000), ram_rw.
    let record: [UInt8] = [0x20, 12, 2]
    #expect(FuzzDecoder.decode([0, 0] + record).statements.last?.kind
      == .p2mMap(domain: "dom0", gfnAddress: 0x8000_4000, mfnAddress: 0x4080_0000, type: .ramRW, hardwareValid: true))
    let kind = FuzzDecoder.decode(FuzzConfiguration.v2Marker + [0, 0, 0] + record).statements.last?.kind
    #expect(kind == .p2mMap(domain: "dom0", gfnAddress: 0x8000_0000, mfnAddress: 0x4000_0000, type: .ramRW, hardwareValid: true, pages: 1 << 18))
    let scenario = FuzzDecoder.decode(FuzzConfiguration.v2Marker + [0, 0, 0] + record)
    #expect(FuzzDecoder.decode(try FuzzEncoder.encode(scenario)) == scenario)
  }

  @Test("v2's bit 2 masks the NIC's stream and adds a passthrough device inside it; the platform round-trips")
  func maskedStreams() throws {
    let configuration = FuzzConfiguration(header: FuzzConfiguration.v2Marker + [1 << 2, 0, 0])
    #expect(configuration.maskedStreams && configuration.deviceNames.last == "pt")
    #expect(FuzzConfiguration(platform: configuration.platform) == configuration)
    #expect(FuzzConfiguration(header: configuration.bytes) == configuration)
    let nic = configuration.platform.compactMap { kind -> DeviceDeclaration? in
      if case .device(let device) = kind, device.name == "nic" { device } else { nil }
    }
    #expect(nic.first?.streamMasks == [0xF])
  }

  @Test("v2's bit 3 assigns a passthrough device vf to the guest at boot; a DMA's opcode bit 5 reaches devices 4 and 5; the scenario round-trips")
  func guestDevice() throws {
    let configuration = FuzzConfiguration(header: FuzzConfiguration.v2Marker + [1 << 3 | 1 << 2, 0, 0x30])
    #expect(configuration.guestDevice && configuration.deviceNames == ["nic", "gpu", "dsp", "mmc", "pt", "vf"])
    #expect(configuration.platform.last == FuzzConfiguration.guestDeviceAssignment)
    #expect(FuzzConfiguration(platform: configuration.platform) == configuration)
    // DMA records: device index 1 without bit 5 (gpu), with it 5 (vf); and
    // 0 with bit 5 (pt, device 4).
    let bytes = configuration.bytes + [0x08, 0x01, 0x00, 0x28, 0x01, 0x00, 0x28, 0x00, 0x00]
    let scenario = FuzzDecoder.decode(bytes)
    let devices = scenario.statements.compactMap { statement -> String? in
      if case .dma(let dma) = statement.kind { dma.request.device } else { nil }
    }
    #expect(devices == ["gpu", "vf", "pt"])
    #expect(try FuzzEncoder.encode(scenario) == bytes)
    #expect(FuzzDecoder.decode(Array(bytes.dropFirst(FuzzConfiguration.v2Marker.count + 1))).statements.compactMap { statement -> String? in
      if case .dma(let dma) = statement.kind { dma.request.device } else { nil }
    } == ["gpu", "gpu", "nic"], "in v1 a DMA's bit 5 is ignored")
    // A spec run boots with vf in the guest's context.
    let result = ScenarioChecker().check(scenario)
    #expect(result.passed, "\(result)")
  }

  @Test("v2's bit 4 sizes the guest's p2m pool tightly (its RAM's tables and one more); the platform round-trips")
  func tightPool() throws {
    let configuration = FuzzConfiguration(header: FuzzConfiguration.v2Marker + [1 << 4, 0, 0])
    #expect(configuration.tightPool)
    let pools = configuration.platform.compactMap { kind -> Int? in
      if case .domU(let domain) = kind { domain.p2mPoolPages } else { nil }
    }
    #expect(pools == [configuration.tightPoolPages])
    #expect(FuzzConfiguration(platform: configuration.platform) == configuration)
    #expect(FuzzConfiguration(header: configuration.bytes) == configuration)
    #expect(!FuzzConfiguration(header: FuzzConfiguration.v2Marker + [0, 0, 0]).platform.contains { kind in
      if case .domU(let domain) = kind { domain.p2mPoolPages != nil } else { false }
    })
  }

  @Test("a statement the input format has no record for is refused by the encoder, by name")
  func encoderNamesMissingRecord() throws {
    let scenario = Scenario(statements: FuzzConfiguration().platform.map { Statement($0) } + [Statement(.removeFromPhysmap(domain: "dom0", gfnAddress: 0x4000_1000))])
    #expect(throws: FuzzEncodingError.self) { try FuzzEncoder.encode(scenario) }
    do { _ = try FuzzEncoder.encode(scenario) } catch {
      #expect(error.message.contains("no record for remove-from-physmap; its operations are p2m, setway, grant"), "\(error)")
    }
  }
}

