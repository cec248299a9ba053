import Foundation
import Scenario
import Spec
import Testing
import TestSupport

@Suite("Scenario runner")
struct ScenarioRunnerTests {
  static let platform = """
    xen 4.15
    ipa-bits 40
    ram 0x40000000 512M
    linux legacy
    smmu smmu0 v2
    device nic smmu smmu0 streams 0x10
    device mmc untranslated
    device sata smmu smmu0 streams 0x20 undescribed
    """

  func run(_ text: String) throws -> ScenarioReport {
    try ScenarioRunner.run(try ScenarioParser.parse(text, file: "t.scn"), file: "t.scn")
  }

  func outcomes(_ report: ScenarioReport) -> [DMAOutcome] { report.steps.compactMap(\.dma?.outcome) }

  /// §6.3: Xen assigns every described device to dom0 while building it;
  /// undescribed ones fault (USFCFG = 1), untranslated ones pass through.
  @Test("direct-mapped dom0: attached ok, undescribed fault, untranslated ok (§3.6 rows 1, §6.4)")
  func directMappedDevices() throws {
    let report = try run(Self.platform + """

      dom0 direct-mapped memory 256M
      dma nic to-device 0x41000000 4K expect ok
      dma sata to-device 0x41000000 4K expect fault
      dma mmc from-device 0x41000000 4K expect ok
      """)
    #expect(outcomes(report) == [.ok, .fault, .ok])
    #expect(report.unmetExpectations.isEmpty)
  }

  /// §2.1 + §8 `04085ec1ac`: before the fix no 1:1 entry exists, so the MFN
  /// that swiotlb-xen programs faults in the SMMU ("Unhandled context fault").
  @Test("Xen 4.14: a grant DMA through swiotlb-xen faults; 4.15: ok (04085ec1ac)", arguments: [("4.14", DMAOutcome.fault), ("4.15", .ok)])
  func grantFixByVersion(version: String, outcome: DMAOutcome) throws {
    let text = Self.platform.replacingOccurrences(of: "xen 4.15", with: "xen \(version)") + """

      dom0 direct-mapped memory 256M
      domu guest id 1 memory 0x50000000 16M base 0x40000000
      grant guest 0x40001000 to dom0 at 0x80000000 rw as g
      dma nic to-device 0x80000000 4K
      """
    #expect(outcomes(try run(text)) == [outcome])
  }

  /// §3.6 row 3: a foreign add_to_physmap page is not in the grant tree, so
  /// swiotlb-xen gives its GFN; a device outside the SMMU then misses it.
  @Test("direct-mapped dom0, add_to_physmap foreign page: attached ok, untranslated corruption (§3.6 row 3)")
  func foreignPage() throws {
    let report = try run(Self.platform + """

      dom0 direct-mapped memory 256M
      domu guest id 1 memory 0x50000000 16M base 0x40000000
      foreign guest 0x40003000 into dom0 at 0x80001000 as f
      dma nic to-device 0x80001000 4K expect ok
      dma mmc to-device 0x80001000 4K expect corruption
      unforeign f
      dma nic to-device 0x80001000 4K
      """)
    #expect(outcomes(report) == [.ok, .corruption])
    #expect(report.unmetExpectations.isEmpty)
    // Once removed, the page is no buffer of dom0's: Linux has nothing to map.
    #expect(report.steps.last?.succeeded == false)
    #expect(report.steps.last?.result.contains("not mapped in dom0's p2m") == true)
  }

  @Test("an unmet expectation is reported, not thrown")
  func unmetExpectation() throws {
    let report = try run(Self.platform + "\ndom0 direct-mapped memory 256M\ndma sata to-device 0x41000000 4K expect ok")
    #expect(report.unmetExpectations.count == 1)
    #expect(report.unmetExpectations.first?.line == 10)
  }

  @Test("a Xen refusal is a failed step with Xen's reason, and the run goes on")
  func refusalIsAStep() throws {
    let report = try run(Self.platform + """

      dom0 direct-mapped memory 256M
      domu guest id 1 memory 0x50000000 16M base 0x40000000
      grant guest 0x60000000 to dom0 at 0x80000000 rw as g
      dma nic to-device 0x80000000 4K expect fault
      """)
    let grant = report.steps[report.steps.count - 2]
    #expect(grant.succeeded == false)
    #expect(grant.result.hasPrefix("refused: "))
    // The DMA of an address dom0 does not map is refused by Linux's model too.
    #expect(report.steps.last?.succeeded == false)
    #expect(report.steps.last?.expectationMet == false)
  }

  /// An SMMUv2's stream-match groups come from `SMMU_IDR0.NUMSMRG` (up to
  /// 128 on an MMU-500): 17 described masters fit an SMMU with 17 entries
  /// and not the model's default 16, where Xen's dom0 build fails.
  @Test("smmu v2 entries N: the stream-match table's size", arguments: [(17, true), (16, false)])
  func streamMatchEntries(entries: Int, fits: Bool) throws {
    var text = "xen 4.16\nipa-bits 40\nram 0x40000000 512M\nlinux legacy\nsmmu s v2 entries \(entries)\n"
    for k in 0..<17 { text += "device d\(k) smmu s streams \(hex(UInt64(0x100 + k)))\n" }
    text += "dom0 direct-mapped memory 256M\ndma d16 to-device 0x41000000 4K\n"
    if fits {
      let report = try run(text)
      #expect(report.steps.last?.dma?.outcome == .ok, "\(report.steps.map(\.result))")
    } else {
      let error = #expect(throws: ScenarioError.self) { try run(text) }
      #expect(error?.message.contains("no free stream map entry") == true, "\(String(describing: error))")
    }
    let parsed = try ScenarioParser.parse(text, file: "t.scn")
    #expect(ScenarioPrinter.print(parsed).contains("smmu s v2 entries \(entries)"))
  }

  @Test("smmu entries: 1 to 128, and only for an SMMUv2", arguments: ["smmu s v2 entries 0", "smmu s v2 entries 129", "smmu s v3 entries 4"])
  func streamMatchEntriesRefused(line: String) {
    #expect(throws: ScenarioError.self) { try ScenarioParser.parse("xen 4.16\n" + line, file: "t.scn") }
  }

  /// Stream map entries (StreamMapEntryTests, in SpecTests) in the
  /// scenario form: a `passthrough` device's entries are allocated at
  /// its first assignment, where a partial overlap is a refused `attach`;
  /// on 4.19 the same assignment gets its own `{id, mask 0}` entry.
  @Test("a passthrough device overlapping dom0's masked SMR: attach refused with -EINVAL on 4.20, accepted on 4.19",
        arguments: [("4.20", false), ("4.19", true)])
  func refusedAttachInScenario(xen: String, accepted: Bool) throws {
    let text = """
      xen \(xen)
      ram 0x40000000 512M
      smmu smmu0 v2
      device nic smmu smmu0 streams 0x10/0xf
      device gpu smmu smmu0 streams 0x18/0x18 passthrough
      dom0 direct-mapped memory 256M
      domu guest id 1 memory 0x50000000 16M base 0x40000000
      attach gpu guest
      dma gpu to-device 0x40100000 4K
      """
    let report = try ScenarioRunner.run(try ScenarioParser.parse(text))
    let attach = try #require(report.steps.first { $0.statement.hasPrefix("attach") })
    #expect(attach.succeeded == accepted, "\(attach.result)")
    if !accepted {
      #expect(attach.result.contains("smr{id 0x18, mask 0x18} partly overlaps SME 0 smr{id 0x10, mask 0xf}"), "\(attach.result)")
    }
    // Refused, the GPU's stream 0x18 still hits the NIC's SMR: dom0's
    // context, so a dom0 buffer is reached as dom0 meant (ok). Accepted on
    // 4.19, it translates through the guest's p2m instead.
    #expect(report.steps.compactMap { $0.dma?.outcome } == [accepted ? .corruption : .ok])
  }

  /// `xen_swiotlb_dma_supported()`: `dma_set_mask()` refuses a mask below
  /// the pool's last bus address, so swiotlb-xen never maps for a 32-bit
  /// device whose dom0 (and pool) lies above 4 GiB; a 64-bit one is fine.
  @Test("swiotlb-xen refuses a DMA mask that cannot reach the bounce pool")
  func maskBelowPool() throws {
    let report = try run("""
      xen 4.15
      ipa-bits 40
      ram 0x100000000 512M
      linux legacy
      smmu smmu0 v2
      device narrow smmu smmu0 streams 0x10 dma-mask 32
      device wide smmu smmu0 streams 0x20
      swiotlb 0x108000000 256K
      dom0 direct-mapped memory 256M
      dma narrow to-device 0x101000000 4K
      dma wide to-device 0x101000000 4K expect ok
      """)
    let narrow = report.steps[report.steps.count - 2]
    #expect(narrow.succeeded == false)
    #expect(narrow.result.contains("xen_swiotlb_dma_supported"), "\(narrow.result)")
    #expect(narrow.result.contains("0x10803ffff"), "\(narrow.result)")
    #expect(report.steps.last?.dma?.outcome == .ok)
  }

  @Test(
    "scenario errors name the line",
    arguments: [
      ("dom0 direct-mapped memory 4K", "t.scn:1:1: error: expected at least one 'ram' bank before dom0"),
      ("ram 0x40000000 16M\ndom0 coloured 0-3 memory 4K", "t.scn:2:1: error: a coloured dom0 needs 'llc-colours <n>' first"),
      ("ram 0x40000000 16M\ndom0 direct-mapped memory 32M", "t.scn:2:1: error: dom0 needs 0x2000000 bytes but host RAM holds less"),
      ("attach nic dom0", "t.scn:1:1: error: expected dom0 to be declared before domains and operations"),
      ("ram 0x40000000 16M\ndom0 direct-mapped memory 4K\nipa-bits 48", "t.scn:3:1: error: expected platform statements before dom0; the system is already running"),
      ("ram 0x40000000 16M\ndom0 direct-mapped memory 4K\nxen 3.2", "t.scn:3:1: error: expected platform statements before dom0; the system is already running"),
      ("ram 0x40000000 16M\ndom0 direct-mapped memory 4K\ndom0 direct-mapped memory 4K", "t.scn:3:1: error: dom0 is already declared"),
      ("ram 0x40000000 16M\ndom0 direct-mapped memory 4K\ndma ghost to-device 0x40000000 4K", "t.scn:3:1: error: device ghost is not declared"),
      ("device d smmu nowhere streams 1", "t.scn:1:1: error: SMMU nowhere is not declared"),
      ("xen 3.2", "t.scn:1:1: error: expected a Xen version 4.12–4.21, found 3.2"),
      ("ram 0x40000000 16M\ndom0 direct-mapped memory 4K\nungrant nope", "t.scn:3:1: error: grant handle nope is not mapped"),
      ("ram 0x40000000 16M\ndom0 direct-mapped memory 4K\nattach nic nobody", "t.scn:3:1: error: domain nobody is not declared"),
    ])
  func scenarioErrors(text: String, message: String) {
    do {
      _ = try run(text)
      Issue.record("expected an error")
    } catch {
      #expect("\(error)".hasPrefix(message), "\(error)")
    }
  }

  /// The parser refuses such a bank; the runner must not trap on a
  /// scenario built in code (the fuzzer's decoder, a device tree).
  @Test("a RAM bank built in code that ends past 2^64 is an error naming its line, not a trap")
  func ramBankPastTheAddressSpace() {
    let scenario = Scenario(statements: [
      Statement(.ram(address: 0x4000_0000, size: 16 << 20), at: SourceLocation(line: 1, column: 1)),
      Statement(.ram(address: 0xFFFF_FFFF_FFFF_F000, size: 0x2000), at: SourceLocation(line: 2, column: 1)),
    ])
    do {
      _ = try ScenarioRunner.run(scenario, file: "t.scn")
      Issue.record("expected an error")
    } catch {
      #expect("\(error)".hasPrefix("t.scn:2:1: error: expected a non-empty RAM bank ending at or below 2^64"), "\(error)")
    }
  }

  /// A bank that ends exactly at 2^64 is still one that exists.
  /// Real boards have tens of GiB; the spec keeps a bank as one run and
  /// reads last-level tables from it, so sizes like these run in a test.
  @Test("a 64 GiB direct-mapped dom0 and a 1 GiB coloured one boot with all their GFNs, and DMA reaches their first and last pages")
  func largeDom0() throws {
    let direct = try run("""
      ipa-bits 40
      ram 0x40000000 80G
      linux global-flag
      smmu smmu0 v2
      device nic smmu smmu0 streams 0x10
      device mmc untranslated
      dom0 direct-mapped memory 64G
      dma nic to-device 0x40000000 4K expect ok
      dma nic from-device 0x103ffff000 4K expect ok
      dma mmc from-device 0x103ffff000 4K expect ok
      """)
    #expect(direct.steps.contains { $0.result.contains("banks 0x40000000+0x1000000000") })
    #expect(outcomes(direct) == [.ok, .ok, .ok])
    #expect(direct.unmetExpectations.isEmpty && direct.refusedSteps.isEmpty)
    let coloured = try run("""
      xen 4.20
      ipa-bits 40
      llc-colours 16
      ram 0x40000000 2G
      linux global-flag
      smmu smmu0 v2
      device nic smmu smmu0 streams 0x10
      dom0 coloured 0-7 memory 1G
      dma nic to-device 0x40000000 8K expect ok
      dma nic from-device 0x7fffe000 8K expect ok
      """)
    #expect(coloured.steps.contains { $0.result.contains("banks 0x40000000+0x40000000") })
    #expect(outcomes(coloured) == [.ok, .ok])
    #expect(coloured.unmetExpectations.isEmpty && coloured.refusedSteps.isEmpty)
  }

  @Test("a RAM bank that ends exactly at 2^64 runs")
  func ramBankAtTheTop() throws {
    let report = try run("ram 0xFFFFFFFFFFFFF000 4K")
    #expect(report.steps.first?.result == "host RAM bank 0xfffffffffffff000–0xffffffffffffffff")
  }

  @Test("XSA-393 by release: 4.16 keeps a removed hardware-invalid entry and says so; 4.17 removes it", arguments: [("4.16", true), ("4.17", false)])
  func removalOfHardwareInvalidEntry(release: String, kept: Bool) throws {
    let report = try run("""
      xen \(release)
      ipa-bits 40
      ram 0x40000000 64M
      iommu off
      dom0 direct-mapped memory 32M
      p2m dom0 map 0x50000000 0x43000000 ram_rw hw-invalid
      p2m dom0 unmap 0x50000000
      """)
    let result = try #require(report.steps.last?.result)
    #expect(result.contains("kept") == kept, "\(result)")
    #expect(result.hasSuffix("unmapped") == !kept, "\(result)")
  }

  @Test("dom0 starts in the lowest RAM bank whatever order the banks are listed in")
  func dom0InTheLowestBank() throws {
    let report = try run("""
      xen 4.15
      ipa-bits 40
      ram 0x80000000 16M
      ram 0x40000000 8M
      dom0 direct-mapped memory 12M
      """)
    #expect(report.steps.last?.result.contains("banks 0x40000000+0x800000, 0x80000000+0x400000") == true, "\(report.steps.last?.result ?? "")")
  }

  @Test("dom0's banks: the first pages of RAM in address order, nil when RAM is short")
  func dom0Banks() {
    let high = MemoryBank(start: MFN(0x80000), pages: 16)
    let low = MemoryBank(start: MFN(0x40000), pages: 8)
    #expect(MemoryBank.dom0Banks(pages: 10, in: [high, low]) == [low, MemoryBank(start: MFN(0x80000), pages: 2)])
    #expect(MemoryBank.dom0Banks(pages: 8, in: [high, low]) == [low])
    #expect(MemoryBank.dom0Banks(pages: 24, in: [high, low]) == [low, high])
    #expect(MemoryBank.dom0Banks(pages: 25, in: [high, low]) == nil)
  }

  /// The corpus stories must keep saying what the seed thread said.
  @Test("the seed stories in corpus/scenarios meet every expectation")
  func seedStories() throws {
    let directory = repository.appendingPathComponent("corpus/scenarios")
    let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".scn") }.sorted()
    #expect(files.count >= 4)
    for file in files {
      let path = directory.appendingPathComponent(file).path
      let report = try ScenarioRunner.run(try ScenarioParser.parse(String(contentsOfFile: path, encoding: .utf8), file: path), file: path)
      #expect(report.dmaCount > 0, "\(file)")
      #expect(report.unmetExpectations.isEmpty, "\(file): \(report.unmetExpectations.map(\.statement))")
    }
  }

  @Test("remove-from-physmap takes an own RAM page out of the p2m and says so in its effects; a hole is refused (-ENOENT) and writes nothing")
  func removeFromPhysmap() throws {
    let text = Self.platform + """

      dom0 direct-mapped memory 2M
      remove-from-physmap dom0 0x40001000
      remove-from-physmap dom0 0x50000000
      """
    var execution = ScenarioExecution()
    let statements = try ScenarioParser.parse(text).statements
    var reports: [StepReport] = []
    for statement in statements { reports.append(try execution.execute(statement)) }
    let removed = try #require(reports.dropLast().last)
    #expect(removed.succeeded && removed.result == "removed d0 gfn:0x40001", "\(removed.result)")
    #expect(execution.xen?.domains[.dom0]?.p2m.lookup(GFN(0x40001)) == nil)
    #expect(removed.effects.p2mWrites.map(\.gfn) == [GFN(0x40001)] && removed.effects.p2mWrites.first?.before(GFN(0x40001))?.mfn == MFN(0x40001))
    let hole = try #require(reports.last)
    #expect(!hole.succeeded && hole.result.hasPrefix("refused"), "\(hole.result)")
    #expect(hole.effects.p2mWrites.first?.before(GFN(0x50000)) == nil)
    #expect(ScenarioPrinter.line(for: statements.last!.kind) == "remove-from-physmap dom0 0x50000000")
  }
}

