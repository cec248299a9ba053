import Foundation
import Testing

@Suite("dmaverify check")
struct CheckCommandTests {
  static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("DeviceTreeTests/Fixtures")
  var quarry: String { Self.fixtures.appendingPathComponent("quarry.dtb").path }

  /// quarry: a macb and an xHCI on mmu-masters, an unprotected AHCI and an
  /// unknown mailbox. The RFC's flag lets the AHCI corrupt memory (Julien's
  /// objection); on a coloured dom0 even its own pages.
  /// The first line of `output` containing `text`, without its indentation.
  static func line(_ output: String, _ text: String) -> String? {
    output.split(separator: "\n").first { $0.contains(text) }.map { $0.trimmingCharacters(in: .whitespaces) }
  }

  @Test("an unprotected AHCI makes the global flag UNSAFE, replayed on the board (exit 1)")
  func unsafe() throws {
    let output = try CommandRunner.run(["check", "--platform", quarry, "--policy", "global-flag"])
    #expect(output.status == 1, "\(output.standardError)")
    #expect(output.standardOutput.contains("not-behind-smmu   /sata@2d000000"))
    #expect(output.standardOutput.contains("UNSAFE  global-flag on a direct-mapped dom0"))
    #expect(output.standardOutput.contains("corruption for grant, foreign pages: /sata@2d000000, /mailbox@2e000000"))
    // The counterexample moved onto quarry: its RAM ends at 0x9000_0000,
    // so the grant lands in the hole above it, done by the AHCI itself.
    // (The minimized values may differ from run to run, and a run may keep
    // the guest's own p2m entry as a first step; the places do not.)
    let grant = Self.line(output.standardOutput, "on this board (grant): ")
    #expect(grant?.contains("grant guest 0x100") == true, "\(grant ?? "none")")
    #expect(grant?.contains(" to dom0 at 0x9000") == true && grant?.contains("; dma sata from-device 0x9000") == true, "\(grant ?? "none")")
    #expect(grant?.hasSuffix("→ CORRUPTION via dma-direct") == true)
    let foreign = Self.line(output.standardOutput, "on this board (foreign): ")
    #expect(foreign?.contains("foreign guest 0x100") == true, "\(foreign ?? "none")")
    #expect(foreign?.contains(" into dom0 at 0x9000") == true && foreign?.hasSuffix("→ CORRUPTION via dma-direct") == true, "\(foreign ?? "none")")
  }

  @Test("the verdict cache: a second run reads every cell this build decided and reports the same; a damaged file is decided again")
  func verdictCache() throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("dmaverify-cache-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: directory) }
    let arguments = ["check", "--platform", quarry, "--policy", "global-flag", "--dom0", "direct", "--cache-dir", directory.path, "--jobs", "2"]
    let first = try CommandRunner.run(arguments)
    #expect(first.status == 1, "\(first.standardError)")
    #expect(Self.line(first.standardOutput, "Cells: ")?.hasPrefix("Cells: 12 decided by the solvers, 0 read from this build's verdict cache (\(directory.path)/matrix-") == true)
    let second = try CommandRunner.run(arguments)
    #expect(second.status == 1)
    #expect(Self.line(second.standardOutput, "Cells: ")?.hasPrefix("Cells: 0 decided by the solvers, 12 read") == true, "\(second.standardOutput)")
    let verdicts = { (output: String) in output.split(separator: "\n").filter { $0.hasPrefix("UNSAFE") || $0.hasPrefix("SAFE") } }
    #expect(verdicts(first.standardOutput) == verdicts(second.standardOutput))
    #expect(!verdicts(second.standardOutput).isEmpty)
    // A damaged file is never trusted: a warning, and every cell decided.
    let file = try #require(FileManager.default.contentsOfDirectory(atPath: directory.path).first { $0.hasPrefix("matrix-") })
    try Data("{\"format\": 1, \"cells\": ".utf8).write(to: directory.appendingPathComponent(file))
    let third = try CommandRunner.run(arguments)
    #expect(third.standardError.contains("check: warning: \(directory.path)/\(file): not a verdict cache this build can read"), "\(third.standardError)")
    #expect(Self.line(third.standardOutput, "Cells: ")?.hasPrefix("Cells: 12 decided") == true)
    // --no-cache decides everything and says so; with --cache-dir, or a
    // --cache-dir that is a file, a usage error.
    let uncached = try CommandRunner.run(["check", "--platform", quarry, "--policy", "global-flag", "--dom0", "direct", "--no-cache"])
    #expect(Self.line(uncached.standardOutput, "Cells: ") == "Cells: every cell decided by the solvers (no verdict cache).")
    #expect(try CommandRunner.run(arguments + ["--no-cache"]).status == 64)
    let notDirectory = try CommandRunner.run(["check", "--platform", quarry, "--cache-dir", quarry])
    #expect(notDirectory.status == 64)
    #expect(notDirectory.standardError.contains("expected --cache-dir to be a directory, found a file"), "\(notDirectory.standardError)")
    let noWorkers = try CommandRunner.run(["check", "--platform", quarry, "--jobs", "0"])
    #expect(noWorkers.status == 64)
    #expect(noWorkers.standardError.contains("expected --jobs to be from 1 to 64, found 0"), "\(noWorkers.standardError)")
  }

  @Test("with every master behind the SMMU the global flag is SAFE on both layouts (exit 0)")
  func safe() throws {
    let output = try CommandRunner.run([
      "check", "--platform", quarry, "--policy", "global-flag", "--assume-no-dma", "sata@2d000000", "--assume-no-dma", "mailbox@2e000000",
    ])
    #expect(output.status == 0, "\(output.standardOutput)\(output.standardError)")
    #expect(output.standardOutput.contains("SAFE    global-flag on a direct-mapped dom0"))
    #expect(output.standardOutput.contains("SAFE    global-flag on a coloured dom0"))
  }

  @Test("--json carries the verdicts")
  func json() throws {
    let output = try CommandRunner.run(["check", "--platform", quarry, "--policy", "legacy", "--dom0", "direct", "--json"])
    let document = try JSONSerialization.jsonObject(with: Data(output.standardOutput.utf8)) as? [String: Any]
    let verdicts = try #require(document?["verdicts"] as? [[String: Any]])
    #expect(verdicts.count == 1)
    #expect(verdicts.first?["safe"] as? Bool == false)
  }

  @Test("--json carries the remedies, the policies SAFE per layout and the source's labels")
  func jsonRemedies() throws {
    let output = try CommandRunner.run(["check", "--platform", Self.fixtures.appendingPathComponent("quarry.dts").path, "--policy", "per-device", "--dom0", "direct", "--json"])
    #expect(output.status == 1, "\(output.standardError)")
    let document = try #require(try JSONSerialization.jsonObject(with: Data(output.standardOutput.utf8)) as? [String: Any])
    let remedies = try #require(document["remedies"] as? [[String: String]])
    #expect(remedies.first == [
      "device": "/sata@2d000000", "class": "not-behind-smmu",
      "remedy": "put it behind an SMMU Xen drives (give the node iommus), or --assume-no-dma sata@2d000000 if it never does DMA",
    ])
    #expect(remedies.count == 2)
    #expect(document["safePolicies"] as? [String: [String]] == ["direct-mapped": []])
    #expect((document["labels"] as? [String: [String]])?["/sata@2d000000"] == ["ahci"])
  }

  @Test("--format markdown: the same report as a document, verdicts in a table first, then remedies, masters and details")
  func markdown() throws {
    let output = try CommandRunner.run(["check", "--platform", quarry, "--policy", "per-device", "--dom0", "direct", "--format", "markdown"])
    #expect(output.status == 1, "\(output.standardError)")
    let lines = output.standardOutput.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    #expect(lines.first == "# dmaverify check: `\(quarry)`")
    let table = try #require(lines.firstIndex(of: "| Verdict | Policy | dom0 | local | grant | foreign | Deciding devices |"))
    #expect(lines[table + 1] == "|---|---|---|---|---|---|---|")
    #expect(lines[table + 2] == "| **UNSAFE** | `per-device` | direct-mapped | ok | ok | **CORRUPTION** | `/sata@2d000000`, `/mailbox@2e000000` |")
    let remedies = try #require(lines.firstIndex(of: "## To make it safe"))
    #expect(lines[remedies + 2] == "- `/sata@2d000000` (not-behind-smmu): put it behind an SMMU Xen drives (give the node iommus), or `--assume-no-dma sata@2d000000` if it never does DMA")
    #expect(lines.contains("- Policies SAFE on a direct-mapped dom0 as the board is: none of those checked"))
    let masters = try #require(lines.firstIndex(of: "## DMA masters"))
    #expect(lines.contains("| not-behind-smmu | `/sata@2d000000` |"))
    let details = try #require(lines.firstIndex(of: "## Details"))
    #expect(table < remedies && remedies < masters && masters < details)
    #expect(lines.contains("### UNSAFE: per-device on a direct-mapped dom0"))
    #expect(lines.contains { $0.hasPrefix("  - Counterexample (`dma.matrix[per-device/direct-mapped/not-behind-smmu/foreign/") })
    #expect(lines.contains("    ```"))
    // No two blank lines in a row, none at the end.
    #expect(!output.standardOutput.contains("\n\n\n"))
    #expect(lines.dropLast().last != "")

    let both = try CommandRunner.run(["check", "--platform", quarry, "--json", "--format", "markdown"])
    #expect(both.status == 64)
    #expect(both.standardError.contains("expected --json or --format markdown, not both (--json is --format json)"))
  }

  @Test(
    "fallow.dts through cpp and dtc: the masters carry the source's labels in text and Markdown",
    .enabled(if: PlatformCommandTests.toolsInstalled, "cpp or dtc is not installed"))
  func labels() throws {
    let source = Self.fixtures.appendingPathComponent("cpp/fallow.dts").path
    let include = Self.fixtures.appendingPathComponent("cpp/include").path
    let text = try CommandRunner.run(["check", "--platform", source, "-I", include, "--policy", "legacy", "--dom0", "direct"])
    #expect(text.status == 1, "\(text.standardError)")
    #expect(text.standardOutput.contains("\n  attached          /usb@2c000000  &usb0\n  not-behind-smmu   /sata@2d000000  &sata0\n"))
    let markdown = try CommandRunner.run(["check", "--platform", source, "-I", include, "--policy", "legacy", "--dom0", "direct", "--format", "markdown"])
    #expect(markdown.standardOutput.contains("| Class | Device | Labels |\n|---|---|---|\n| attached | `/usb@2c000000` | `&usb0` |\n| not-behind-smmu | `/sata@2d000000` | `&sata0` |\n"))
  }

  /// A DTB by hand (devicetree spec v0.4 chapter 5): dtc would refuse the
  /// node name, but a blob from elsewhere can have any printable one.
  static func blob(masterName: String) -> Data {
    var structure: [UInt8] = []
    var strings: [UInt8] = []
    var offsets: [String: Int] = [:]
    func word(_ value: Int, _ bytes: inout [UInt8]) { bytes += [24, 16, 8, 0].map { UInt8((value >> $0) & 0xff) } }
    func pad() { while structure.count % 4 != 0 { structure.append(0) } }
    func begin(_ name: String) { word(1, &structure); structure += Array(name.utf8) + [0]; pad() }
    func end() { word(2, &structure) }
    func property(_ name: String, _ value: [UInt8]) {
      if offsets[name] == nil { offsets[name] = strings.count; strings += Array(name.utf8) + [0] }
      word(3, &structure); word(value.count, &structure); word(offsets[name]!, &structure); structure += value; pad()
    }
    func cells(_ values: [Int]) -> [UInt8] { var bytes: [UInt8] = []; for value in values { word(value, &bytes) }; return bytes }
    begin("")
    property("#address-cells", cells([1]))
    property("#size-cells", cells([1]))
    begin("memory@80000000")
    property("device_type", Array("memory".utf8) + [0])
    property("reg", cells([0x8000_0000, 0x1000_0000]))
    end()
    begin(masterName)
    property("compatible", Array("generic-ahci".utf8) + [0])
    property("reg", cells([0x2d00_0000, 0x1000]))
    end()
    end()
    word(9, &structure)
    var header: [UInt8] = []
    let reservations = [UInt8](repeating: 0, count: 16)
    let structureOffset = 40 + reservations.count
    let stringsOffset = structureOffset + structure.count
    for value in [0xd00d_feed, stringsOffset + strings.count, structureOffset, stringsOffset, 40, 17, 16, 0, strings.count, structure.count] {
      word(value, &header)
    }
    return Data(header + reservations + structure + strings)
  }

  @Test("Markdown escapes what the tree says: a node name with | and ` stays in its table cell and code span")
  func markdownEscaping() throws {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("markup-\(UUID().uuidString).dtb")
    try Self.blob(masterName: "sata|x`y@2d000000").write(to: url)
    defer { try? FileManager.default.removeItem(at: url) }
    let output = try CommandRunner.run(["check", "--platform", url.path, "--policy", "legacy", "--dom0", "direct", "--format", "markdown"])
    #expect(output.status == 1, "\(output.standardError)")
    #expect(output.standardOutput.contains("| not-behind-smmu | ``/sata\\|x`y@2d000000`` |\n"), "\(output.standardOutput)")
    // Outside the tables, no backslash: it would show.
    #expect(output.standardOutput.contains("\n- ``/sata|x`y@2d000000`` (not-behind-smmu): "), "\(output.standardOutput)")
  }

  @Test("dom0 colours past the board's 16 LLC colours are a usage error naming the count, before any proof")
  func colours() throws {
    let start = Date()
    let output = try CommandRunner.run(["check", "--platform", quarry, "--dom0", "coloured:99-100"])
    #expect(output.status == 64)
    #expect(output.standardError.contains("expected --dom0 colours below 16, the board's number of LLC colours, found 99 in 'coloured:99-100'"))
    #expect(Date().timeIntervalSince(start) < 20)
  }

  @Test("bad input: a bad policy is a usage error, a truncated blob exits 65, a missing file 66")
  func badInput() throws {
    #expect(try CommandRunner.run(["check", "--platform", quarry, "--policy", "bounce"]).status == 64)
    let unknownNode = try CommandRunner.run(["check", "--platform", quarry, "--assume-no-dma", "nosuchnode"])
    #expect(unknownNode.status == 64)
    #expect(unknownNode.standardError.contains("expected --assume-no-dma to name a node"))
    let bytes = try Data(contentsOf: URL(fileURLWithPath: quarry))
    let truncated = FileManager.default.temporaryDirectory.appendingPathComponent("truncated-\(UUID().uuidString).dtb")
    try bytes.prefix(100).write(to: truncated)
    let output = try CommandRunner.run(["check", "--platform", truncated.path])
    #expect(output.status == 65)
    #expect(output.standardError.contains("error: offset"))
    #expect(try CommandRunner.run(["check", "--platform", "/nonexistent/board.dtb"]).status == 66)
  }

  var ridge: String { Self.fixtures.appendingPathComponent("ridge.dtb").path }

  @Test("Xen 4.15 with iommus-only masters on an MMU-500: the verdict is Xen's panic at dom0 build, not a fault (exit 1)")
  func panics() throws {
    let output = try CommandRunner.run(["check", "--platform", Self.fixtures.appendingPathComponent("orchard.dtb").path, "--xen", "4.15"])
    #expect(output.status == 1, "\(output.standardError)")
    #expect(output.standardOutput.contains("XEN PANICS at dom0 build, before any DMA policy matters:"))
    #expect(output.standardOutput.contains("/soc/sata@fd0c0000 (disabled, but Xen handles it too) has 'iommus'"))
    #expect(!output.standardOutput.contains("SAFE"))
    let json = try CommandRunner.run(["check", "--platform", Self.fixtures.appendingPathComponent("orchard.dtb").path, "--xen", "4.15", "--json"])
    let document = try #require(try JSONSerialization.jsonObject(with: Data(json.standardOutput.utf8)) as? [String: Any])
    #expect((document["xenPanics"] as? [[String: String]])?.count == 4)
    #expect((document["verdicts"] as? [Any])?.isEmpty == true)
  }

  @Test("ridge: the Rockchip IOMMU's master is iommu-not-xens, the size-0 memory node a warning; --ram replays on the board")
  func ridgeBoard() throws {
    let output = try CommandRunner.run(["check", "--platform", ridge, "--policy", "global-flag", "--dom0", "direct"])
    #expect(output.status == 1, "\(output.standardError)")
    #expect(output.standardOutput.contains("  iommu-not-xens    /soc/video@ff210000"))
    #expect(output.standardOutput.contains("  attached          /soc/ethernet@ff0e0000"))
    #expect(!output.standardOutput.contains("/soc/usb@fe300000"))
    #expect(output.standardOutput.contains("/soc/gpu@fd4b0000 (not-behind-smmu), /soc/video@ff210000 (iommu-not-xens)"))
    #expect(output.standardError.contains("ridge.dtb: warning: offset 0xd0: memory node /memory@0 has no bank of non-zero size"))
    #expect(output.standardError.contains("/sys/firmware/fdt"))
    let bad = try CommandRunner.run(["check", "--platform", ridge, "--ram", "0x1000:0"])
    #expect(bad.status == 64)
    #expect(bad.standardError.contains("expected --ram BASE:SIZE"))
    let overlap = try CommandRunner.run(["check", "--platform", ridge, "--ram", "0:2G", "--ram", "0x40000000:4K"])
    #expect(overlap.status == 64)
    #expect(overlap.standardError.contains("expected --ram banks not to overlap"))
  }

  @Test("--xen-config: iommu=off decides global-flag as legacy; smmuv3=on makes an SMMUv3 Xen's; a bad setting is a usage error")
  func xenConfig() throws {
    let off = try CommandRunner.run(["check", "--platform", quarry, "--policy", "global-flag", "--dom0", "direct", "--xen-config", "iommu=off"])
    #expect(off.standardOutput.contains("global-flag on a direct-mapped dom0 (Xen's IOMMU is off: Linux acts as legacy)"), "\(off.standardOutput)")
    #expect(off.standardOutput.contains("iommu-not-xens    /ethernet@2b000000"))
    let harbour = Self.fixtures.appendingPathComponent("harbour.dtb").path
    let v3 = try CommandRunner.run(["check", "--platform", harbour, "--policy", "legacy", "--dom0", "direct", "--xen-config", "smmuv3=on"])
    #expect(v3.standardOutput.contains("attached          /ethernet@9100000"), "\(v3.standardOutput)")
    #expect(v3.standardOutput.contains("smmuv3=on,iommu=on"))
    let bad = try CommandRunner.run(["check", "--platform", quarry, "--xen-config", "smmuv4=on"])
    #expect(bad.status == 64)
    #expect(bad.standardError.contains("expected --xen-config to be smmuv3=on|off, ipmmu=on|off or iommu=on|off (comma-separated), found 'smmuv4=on'"))
  }

  @Test("--smmu-stream-map-entries: fewer entries than the streams Xen adds is Xen's panic (exit 1); out of 1-128 a usage error")
  func streamMapEntries() throws {
    let output = try CommandRunner.run(["check", "--platform", ridge, "--smmu-stream-map-entries", "16"])
    #expect(output.status == 1)
    #expect(output.standardOutput.contains("/soc/iommu@fd800000 needs 17 stream-map entries for the streams Xen adds (disabled nodes included) but has 16"))
    let bad = try CommandRunner.run(["check", "--platform", ridge, "--smmu-stream-map-entries", "129"])
    #expect(bad.status == 64)
    #expect(bad.standardError.contains("expected --smmu-stream-map-entries to be 1-128 (SMMU_IDR0.NUMSMRG), found 129"))
    let platform = try CommandRunner.run(["platform", ridge])
    #expect(platform.standardOutput.contains("  /soc/iommu@fd800000: 17 stream-map entries used of 128"))
  }

  @Test("the verdict comes first: one line per policy and layout with each page kind's outcome and the deciding devices, then the remedy")
  func verdictFirst() throws {
    let output = try CommandRunner.run(["check", "--platform", quarry, "--policy", "per-device", "--dom0", "direct"])
    let lines = output.standardOutput.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    #expect(lines.count > 4)
    #expect(lines[1] == "Verdicts (per page kind: local, grant, foreign):")
    #expect(lines[2] == "  UNSAFE  per-device on a direct-mapped dom0  local ok, grant ok, foreign CORRUPTION: /sata@2d000000, /mailbox@2e000000")
    #expect(lines[3] == "To make it safe:")
    #expect(lines[4] == "  /sata@2d000000 (not-behind-smmu): put it behind an SMMU Xen drives (give the node iommus), or --assume-no-dma sata@2d000000 if it never does DMA")
    #expect(output.standardOutput.contains("  policies SAFE on a direct-mapped dom0 as the board is: none of those checked"))
    #expect(output.standardOutput.contains("\nDetails:\nUNSAFE  per-device on a direct-mapped dom0\n"))
    #expect(lines.allSatisfy { $0.count < 400 })
  }

  @Test("crest: 18 attached streams, as a ZCU102's: Xen's MMU-500 has room, and the GPU's DMA is replayed on the whole board")
  func eighteenStreams() throws {
    let crest = Self.fixtures.appendingPathComponent("crest.dtb").path
    let output = try CommandRunner.run(["check", "--platform", crest, "--policy", "global-flag", "--dom0", "coloured"])
    #expect(output.status == 1, "\(output.standardError)")
    #expect(!output.standardOutput.contains("XEN PANICS"))
    // Every page kind's counterexample on crest's own addresses (RAM at 0,
    // dom0 coloured 0-7), done by the GPU.
    let local = Self.line(output.standardOutput, "on this board (local): ")
    #expect(local?.contains("dma gpu from-device 0x") == true && local?.hasSuffix("→ CORRUPTION via dma-direct") == true, "\(local ?? "none")")
    for page in ["grant", "foreign"] {
      let line = Self.line(output.standardOutput, "on this board (\(page)): ")
      #expect(line?.contains("to dom0 at 0x8000") == true || line?.contains("into dom0 at 0x8000") == true, "\(line ?? "no \(page) line")")
      #expect(line?.hasSuffix("→ CORRUPTION via dma-direct") == true, "\(line ?? "no \(page) line")")
    }
    let platform = try CommandRunner.run(["platform", crest])
    #expect(platform.standardOutput.contains("  /iommu@fd800000: 18 stream-map entries used of 128"))
  }
}
