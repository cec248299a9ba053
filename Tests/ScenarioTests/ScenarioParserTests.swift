import Scenario
import Spec
import Testing

@Suite("Scenario parser")
struct ScenarioParserTests {
  static let story = """
    scenario "direct-mapped dom0, NIC behind the SMMU, grant via swiotlb-xen"
    xen 4.15            # has the 04085ec1ac fix
    ipa-bits 40
    ram 0x40000000 256M
    iommu on
    hypercall-cflush on
    linux legacy
    smmu smmu0 v2
    device nic smmu smmu0 streams 0x10,0x11 non-coherent dma-mask 40
    device mmc untranslated
    dom0 direct-mapped memory 128M
    swiotlb 0x47000000 1M
    domu guest id 1 memory 0x48000000 16M base 0x40000000

    attach nic dom0
    grant guest 0x40001000 to dom0 at 0x80000000 rw as g1
    dma nic to-device 0x80000000 4K expect ok
    ungrant g1
    foreign guest 0x40002000 into dom0 at 0x80001000 as f1
    unforeign f1
    p2m dom0 map 0x90000000 0x90000000 ram_ro hw-invalid
    p2m dom0 unmap 0x90000000
    detach nic
    """

  @Test("a full scenario parses with locations")
  func parsesEveryStatement() throws {
    let scenario = try ScenarioParser.parse(Self.story, file: "story.scn")
    #expect(scenario.name == "direct-mapped dom0, NIC behind the SMMU, grant via swiotlb-xen")
    #expect(scenario.statements.count == 21)
    #expect(scenario.statements[9].kind == .dom0(.directMapped, size: 128 << 20))
    #expect(scenario.statements[10].kind == .swiotlbPool(address: 0x4700_0000, size: 1 << 20))
    #expect(scenario.statements[0].kind == .xen(version: "4.15"))
    #expect(scenario.statements[3].kind == .iommu(true))
    #expect(scenario.statements[2].kind == .ram(address: 0x4000_0000, size: 256 << 20))
    #expect(
      scenario.statements[7].kind
        == .device(DeviceDeclaration(name: "nic", placement: .smmu(name: "smmu0", streams: [0x10, 0x11], described: true), coherent: false, dmaMaskBits: 40)))
    #expect(scenario.statements[8].kind == .device(DeviceDeclaration(name: "mmc", placement: .untranslated)))
    #expect(scenario.statements[14].kind == .dma(DMAStatement(DMARequest(device: "nic", buffer: 0x8000_0000, size: 4096, direction: .toDevice), expected: .ok)))
    #expect(scenario.statements[18].kind == .p2mMap(domain: "dom0", gfnAddress: 0x9000_0000, mfnAddress: 0x9000_0000, type: .ramRO, hardwareValid: false))
    #expect(scenario.statements[12].location == SourceLocation(line: 15, column: 1))
  }

  /// Each error names file, line and column, and says what was expected.
  @Test(
    "every error kind names the place and what was expected",
    arguments: [
      ("frobnicate", "x:1:1: error: expected a statement (scenario, xen"),
      ("ipa-bits 39", "x:1:10: error: expected an IPA size Xen supports (32, 36, 40, 42, 44, 48), found 39"),
      ("ipa-bits forty", "x:1:10: error: expected the IPA size in bits (decimal or 0x hexadecimal), found 'forty'"),
      ("ipa-bits 9223372036854775808", "x:1:10: error: expected an IPA size Xen supports (32, 36, 40, 42, 44, 48), found 9223372036854775808"),
      ("ipa-bits 18446744073709551615", "x:1:10: error: expected an IPA size Xen supports (32, 36, 40, 42, 44, 48), found 18446744073709551615"),
      ("ram 0xFFFFFFFFFFFFF000 8K", "x:1:24: error: expected the RAM bank to end at or below 2^64, but 0xfffffffffffff000 + 0x2000 ends past it"),
      ("swiotlb 0xFFFFFFFFFFFFF000 8K", "x:1:28: error: expected the bounce pool to end at or below 2^64"),
      ("domu g id 1 memory 0xFFFFFFFFFFFFF000 8K base 0", "x:1:39: error: expected its memory to end at or below 2^64"),
      ("domu g id 1 memory 0x1000 8K base 0xFFFFFFFFFFFFF000", "x:1:35: error: expected its guest memory to end at or below 2^64"),
      ("domu g id 1 coloured 0-3 pages 2 base 0xFFFFFFFFFFFFF000", "x:1:39: error: expected its guest memory to end at or below 2^64"),
      ("p2m dom0 map 0xFFFFFFFFFFFFF000 0x2000 ram_rw size 8K", "x:1:52: error: expected the mapping's guest range to end at or below 2^64"),
      ("p2m dom0 map 0x1000 0xFFFFFFFFFFFFF000 ram_rw size 8K", "x:1:52: error: expected the mapping's machine range to end at or below 2^64"),
      ("dma nic to-device 0xFFFFFFFFFFFFFFFF 2", "x:1:38: error: expected the buffer to end at or below 2^64"),
      ("ram 0x40000001 4K", "x:1:5: error: expected the bank's start address aligned to 4 KiB, found 0x40000001"),
      ("ram 0x40000000 5", "x:1:16: error: expected the bank's size as a non-zero multiple of 4 KiB, found 0x5"),
      ("ram 0x40000000 12Q", "x:1:16: error: expected the bank's size (a number, optionally with K, M or G), found '12Q'"),
      ("ram 0x40000000", "x:1:15: error: expected the bank's size, found the end of the line"),
      ("iommu maybe", "x:1:7: error: expected on or off (on, off), found 'maybe'"),
      ("linux swiotlb", "x:1:7: error: expected a DMA policy (legacy, merged-flags, global-flag, per-device), found 'swiotlb'"),
      ("smmu s0 v4", "x:1:9: error: expected an SMMU version (v2, v3), found 'v4'"),
      ("smmu s0 v2 iotlb 3", "x:1:18: error: expected a power of two for the IOTLB entries, found 3"),
      ("smmu s0 v3 iotlb 0", "x:1:18: error: expected the number of IOTLB entries in 1...16777216, found 0"),
      ("p2m dom0 unmap 0x1000 size 6K", "x:1:28: error: expected a removal size from 4K to 1G in whole pages, found 6K"),
      ("p2m dom0 unmap 0xFFFFFFFFFFFFF000 size 8K", "x:1:40: error: expected the removal's guest range to end at or below 2^64"),
      ("device 9nic untranslated", "x:1:8: error: expected the device's name (letters, digits, - and _, starting with a letter), found '9nic'"),
      ("device nic smmu s0 streams 0x10,,0x11", "x:1:28: error: expected stream IDs such as 0x10,0x11 or 0x10/0xf, found an empty entry in '0x10,,0x11'"),
      ("device nic smmu s0 streams 0x1ffffffff", "x:1:28: error: expected a stream ID or <id>/<mask>, found 0x1ffffffff"),
      ("device nic smmu s0 streams 0x10/0x8000", "x:1:28: error: expected a stream-match mask of at most 15 bits (0x7fff) after '/', found '0x8000'"),
      ("device nic smmu s0 streams 0x10/", "x:1:28: error: expected a stream-match mask of at most 15 bits (0x7fff) after '/', found ''"),
      ("device nic smmu s0 streams 0x10/0x1/0x2", "x:1:28: error: expected a stream ID or <id>/<mask>, found 0x10/0x1/0x2"),
      ("smmu s0 v3\ndevice nic smmu s0 streams 0x20,0x10/0xf", "x:2:28: error: expected a stream ID without a mask: s0 is an SMMUv3, which has no SMRs, found 0x10/0xf"),
      ("device nic untranslated dma-mask 80", "x:1:34: error: expected the DMA mask width in bits in 12...64, found 80"),
      ("device nic untranslated shiny", "x:1:25: error: expected a device property (coherent, non-coherent, dma-mask, passthrough, dma-ranges), found 'shiny'"),
      ("device nic untranslated dma-ranges 0x0:0x0", "x:1:36: error: expected dma-ranges regions <cpu>:<dma>:<size> such as 0x0:0x80000000:0x40000000, found '0x0:0x0'"),
      ("device nic untranslated dma-ranges 0x0:0x0:0", "x:1:36: error: expected a region of non-zero size inside the 64-bit address space, found '0x0:0x0:0'"),
      ("device nic untranslated dma-ranges 0x0:0xffffffffffffffff:2", "x:1:36: error: expected a region of non-zero size inside the 64-bit address space, found '0x0:0xffffffffffffffff:2'"),
      ("dom0 direct-mapped", "x:1:19: error: expected 'memory', found the end of the line"),
      ("dom0 coloured 3-1 memory 4K", "x:1:15: error: expected a colour list such as 0-3,8 (ranges from low to high, no empty entries), found '3-1'"),
      ("dom0 coloured ,2 memory 4K", "x:1:15: error: expected a colour list such as 0-3,8 (ranges from low to high, no empty entries), found ',2'"),
      ("domu g id 0 memory 0x1000 4K base 0", "x:1:11: error: expected a domain id in 1...32751, found 0"),
      ("grant g 0x1000 to dom1 at 0x2000 rw as h", "x:1:19: error: expected 'dom0', found 'dom1'"),
      ("grant g 0x1000 to dom0 at 0x2000 rx as h", "x:1:34: error: expected ro or rw (ro, rw), found 'rx'"),
      ("p2m dom0 map 0x1000 0x2000 ram", "x:1:28: error: expected a p2m type (ram_rw, ram_ro"),
      ("p2m dom0 map 0x1000 0x2000 ram_rw size 6K", "x:1:40: error: expected a mapping size from 4K to 1G in whole pages, found 6K"),
      ("p2m dom0 map 0x1000 0x2000 ram_rw size 2G", "x:1:40: error: expected a mapping size from 4K to 1G in whole pages, found 2G"),
      ("p2m dom0 map 0x1000 0x2000 ram_rw size", "x:1:39: error: expected the mapping's size, found the end of the line"),
      ("dma nic sideways 0x1000 4K", "x:1:9: error: expected a DMA direction (to-device, from-device), found 'sideways'"),
      ("dma nic to-device 0x1000 4K expect fine", "x:1:36: error: expected an outcome (ok, fault, corruption), found 'fine'"),
      ("attach nic dom0 now", "x:1:17: error: expected the end of the line, found 'now'"),
      ("scenario unquoted", "x:1:10: error: expected the scenario's name in double quotes, found 'unquoted'"),
      ("scenario \"open", "x:1:10: error: expected a closing double quote"),
    ])
  func errors(text: String, message: String) {
    do {
      _ = try ScenarioParser.parse(text, file: "x")
      Issue.record("expected an error for: \(text)")
    } catch {
      #expect(error.description.hasPrefix(message), "\(error)")
    }
  }

  /// `arm_smmu_dt_xlate_generic()` (smmu.c) packs a stream's SMR mask
  /// beside its ID; the scenario writes it `<id>/<mask>`, per stream.
  @Test("dma-ranges regions parse in order and print back the same")
  func dmaRanges() throws {
    let line = "device nic untranslated coherent dma-mask 64 dma-ranges 0x40000000:0x0:0x10000000,0x80000000:0x80000000:0x1000"
    let scenario = try ScenarioParser.parse(line)
    guard case .device(let device)? = scenario.statements.first?.kind else {
      Issue.record("not a device: \(scenario.statements)")
      return
    }
    #expect(device.dmaRegions == [
      DMARegion(cpuStart: 0x4000_0000, dmaStart: 0, size: 0x1000_0000), DMARegion(cpuStart: 0x8000_0000, dmaStart: 0x8000_0000, size: 0x1000),
    ])
    let printed = ScenarioPrinter.print(scenario)
    #expect(try ScenarioParser.parse(printed).statements.map(\.kind) == scenario.statements.map(\.kind), "\(printed)")
  }

  @Test("a colour list keeps its order and repeats, as Xen's parse_color_config() does, and prints back the same")
  func colourListOrder() throws {
    let scenario = try ScenarioParser.parse("dom0 coloured 4,2,0-1,2 memory 4K")
    guard case .dom0(.coloured(let colours), _)? = scenario.statements.first?.kind else {
      Issue.record("not a coloured dom0: \(scenario.statements)")
      return
    }
    #expect(colours == [4, 2, 0, 1, 2])
    // Printed with consecutive colours as a range: the same list.
    #expect(ScenarioPrinter.colourText(colours) == "4,2,0-2")
  }

  @Test("a masked stream parses as its ID with the mask beside it, and an SMMUv3 declared later does not refuse it")
  func maskedStreams() throws {
    let text = """
      smmu s0 v2
      device a smmu s0 streams 0x10/0xf,0x20
      device b smmu s0 streams 0x30,0x40
      device c smmu s1 streams 0x10/0x7fff
      smmu s1 v3
      """
    let devices = try ScenarioParser.parse(text).statements.compactMap { statement -> DeviceDeclaration? in
      guard case .device(let device) = statement.kind else { return nil }
      return device
    }
    #expect(devices.map(\.streamMasks) == [[0xF, 0], [], [0x7FFF]])
    guard case .smmu(_, let streams, _) = devices.first?.placement else {
      Issue.record("expected device a behind s0")
      return
    }
    #expect(streams == [0x10, 0x20])
  }

  @Test("a scenario of exactly the statement bound parses; one more statement is an error naming its line")
  func statementBound() throws {
    let limit = ScenarioParser.statementLimit
    let text = "scenario \"bound\"\n# not a statement\n" + String(repeating: "detach nic\n", count: limit)
    #expect(try ScenarioParser.parse(text, file: "b.scn").statements.count == limit)
    #expect(throws: ScenarioError(file: "b.scn", location: SourceLocation(line: limit + 3, column: 1), message: "expected at most \(limit) statements in a scenario (a bound on its time and memory), found more: this is statement \(limit + 1)")) {
      try ScenarioParser.parse(text + "detach nic\n", file: "b.scn")
    }
  }

  @Test("an error on a later line names that line")
  func laterLine() {
    #expect(throws: ScenarioError(file: "s", location: SourceLocation(line: 3, column: 7), message: "expected a device name, found the end of the line")) {
      try ScenarioParser.parse("xen 4.15\n# comment\nattach", file: "s")
    }
  }

  @Test("a second scenario name is refused")
  func duplicateName() {
    #expect(throws: ScenarioError.self) { try ScenarioParser.parse("scenario \"a\"\nscenario \"b\"") }
  }

  @Test("numbers: decimal, hexadecimal, underscores, size suffixes")
  func numbers() throws {
    let scenario = try ScenarioParser.parse("ram 0x4000_0000 1G\nram 4096 0x2000\ndma d to-device 0x10 3")
    #expect(scenario.statements.map(\.kind) == [
      .ram(address: 0x4000_0000, size: 1 << 30), .ram(address: 4096, size: 0x2000),
      .dma(DMAStatement(DMARequest(device: "d", buffer: 0x10, size: 3, direction: .toDevice))),
    ])
  }

  @Test("CRLF line ends are line ends: each statement on its own line")
  func crlf() throws {
    let unix = try ScenarioParser.parse(Self.story, file: "x")
    let windows = try ScenarioParser.parse(Self.story.replacingOccurrences(of: "\n", with: "\r\n"), file: "x")
    #expect(windows.statements == unix.statements)
    #expect(windows.statements.map(\.location) == unix.statements.map(\.location))
  }

  @Test(
    "bytes that are not UTF-8 text are malformed input naming line, column and byte offset",
    arguments: [
      (Array("ram 0x40000000 16M\nsmmu s".utf8) + [0xFF], "x:2:7: error: expected UTF-8 text, found the byte 0xff at byte offset 25"),
      ([0x72, 0x61, 0x6D, 0x00, 0x01], "x:1:4: error: expected text, found a NUL byte (a binary file?) at byte offset 3"),
      ([0xC3], "x:1:1: error: expected UTF-8 text, found the byte 0xc3 at byte offset 0"),
    ])
  func notText(bytes: [UInt8], message: String) {
    do {
      _ = try ScenarioParser.text(bytes, file: "x")
      Issue.record("expected an error")
    } catch {
      #expect(error.description == message)
    }
  }

  @Test("UTF-8 text decodes unchanged")
  func text() throws {
    #expect(try ScenarioParser.text(Array("scenario \"café\"\n".utf8)) == "scenario \"café\"\n")
  }
}
