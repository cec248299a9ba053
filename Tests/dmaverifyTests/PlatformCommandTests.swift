import Foundation
import Testing
import TestSupport

@Suite("dmaverify platform")
struct PlatformCommandTests {
  static let fixtures = repository.appendingPathComponent("Tests/DeviceTreeTests/Fixtures")

  static func fixture(_ name: String) -> String { fixtures.appendingPathComponent(name).path }

  static var dtcInstalled: Bool {
    (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":")
      .contains { FileManager.default.isExecutableFile(atPath: "\($0)/dtc") }
  }

  static var cppInstalled: Bool {
    (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":")
      .contains { FileManager.default.isExecutableFile(atPath: "\($0)/cpp") }
  }

  static var toolsInstalled: Bool { dtcInstalled && cppInstalled }

  /// A file of `Fixtures/cpp`: sources that need the C preprocessor.
  static func cppFixture(_ name: String) -> String { fixtures.appendingPathComponent("cpp").appendingPathComponent(name).path }

  func temporaryPath(_ suffix: String) -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("dmaverify-\(UUID().uuidString).\(suffix)").path
  }

  @Test("grove: the bindings rule behind a master is shown; --assume-dma adds a master; --bindings adds the user's rules first")
  func bindingsAndAssumptions() throws {
    let plain = try CommandRunner.run(["platform", Self.fixture("grove.dtb")])
    #expect(plain.status == 0, "\(plain.standardError)")
    #expect(plain.standardOutput.contains("  UNPROTECTED  /soc/axi/ethernet@ff0e0000 (cdns,gem)"))
    #expect(plain.standardOutput.contains("               dma-coherent inherited from /soc/axi"))
    #expect(plain.standardOutput.contains("               bindings rule dma-bindings.txt:"))
    #expect(plain.standardOutput.contains("Untranslated DMA (unsafe for dma-direct with guest-physical addresses): /soc/axi/ethernet@ff0e0000, /soc/accelerator@fe100000"))

    let assumed = try CommandRunner.run(["platform", Self.fixture("grove.dtb"), "--assume-dma", "serial@ff000000"])
    #expect(assumed.status == 0, "\(assumed.standardError)")
    #expect(assumed.standardOutput.contains("               --assume-dma: the user says it masters the bus"))
    #expect(assumed.standardOutput.contains("): /soc/serial@ff000000, /soc/axi/ethernet@ff0e0000, /soc/accelerator@fe100000"))
    let refused = try CommandRunner.run(["platform", Self.fixture("grove.dtb"), "--assume-dma", "pcie@fd0e0000"])
    #expect(refused.status == 64)
    #expect(refused.standardError.contains("expected --assume-dma to name an unknown device or one that is not a DMA master"))

    let file = temporaryPath("txt")
    defer { try? FileManager.default.removeItem(atPath: file) }
    try "# mine\nnot-master acme,widget-* widget: a register block | acme's datasheet\n".write(toFile: file, atomically: true, encoding: .utf8)
    let user = try CommandRunner.run(["platform", Self.fixture("grove.dtb"), "--bindings", file, "--json"])
    #expect(user.status == 0, "\(user.standardError)")
    let report = try #require(try JSONSerialization.jsonObject(with: Data(user.standardOutput.utf8)) as? [String: Any])
    #expect(report["unsafe"] as? [String] == ["/soc/axi/ethernet@ff0e0000"])
  }

  @Test("a malformed --bindings file is exit 65 with file:line; an unreadable one 66")
  func malformedBindings() throws {
    let file = temporaryPath("txt")
    defer { try? FileManager.default.removeItem(atPath: file) }
    try "# mine\n\nmaster acme,widget-* widget DMAs | x\n".write(toFile: file, atomically: true, encoding: .utf8)
    for command in [["platform", Self.fixture("grove.dtb")], ["check", "--platform", Self.fixture("grove.dtb")]] {
      let output = try CommandRunner.run(command + ["--bindings", file])
      #expect(output.status == 65)
      #expect(output.standardError.contains("\(file):3: error: expected 'FAMILY: REASON', found 'widget DMAs'"))
    }
    let missing = try CommandRunner.run(["platform", Self.fixture("grove.dtb"), "--bindings", file + ".none"])
    #expect(missing.status == 66)
    #expect(missing.standardError.contains("\(file).none: error: cannot read the file:"))
  }

  @Test("a DTB: SMMUs, RAM, each device with its class and evidence, and the unsafe ones (exit 0)")
  func orchard() throws {
    let output = try CommandRunner.run(["platform", Self.fixture("orchard.dtb")])
    #expect(output.status == 0, "\(output.standardError)")
    let text = output.standardOutput
    #expect(text.contains("  /soc/iommu@fd800000  arm,mmu-500  smmu-v2  #iommu-cells 1"))
    #expect(text.contains("  0x40000000–0x5fffffff  512M  /memory@40000000"))
    #expect(text.contains("  protected    /soc/ethernet@ff0b0000 (cdns,gem)"))
    #expect(text.contains("iommus: stream 0x874 on /soc/iommu@fd800000"))
    #expect(text.contains("  UNPROTECTED  /soc/dma-controller@fd500000 (arm,pl330)"))
    #expect(text.contains("               #dma-cells (a DMA controller)"))
    #expect(text.contains("  UNKNOWN      /soc/accelerator@fe000000 (acme,frobnicator-2)"))
    #expect(text.contains("Summary: 3 protected, 1 unprotected, 1 unknown; 11 not DMA masters, 1 disabled (--all lists them)"))
    #expect(text.contains("Untranslated DMA (unsafe for dma-direct with guest-physical addresses): /soc/dma-controller@fd500000, /soc/accelerator@fe000000"))
    #expect(!text.contains("sata@fd0c0000"))
  }

  @Test("--all adds the non-masters with their reasons and the disabled nodes")
  func all() throws {
    let output = try CommandRunner.run(["platform", "--all", Self.fixture("harbour.dtb")])
    #expect(output.status == 0)
    #expect(output.standardOutput.contains("  /cpus") == false)
    #expect(output.standardOutput.contains("  /iommu@9050000: an IOMMU: it translates other masters' DMA; whether Xen drives it is in Xen's view"))
    #expect(output.standardOutput.contains("  /pcie@40000000: status \"disabled\"; would be protected"))
    #expect(output.standardOutput.contains("  /offbus/sata@9300000: under disabled /offbus; would be unprotected DMA master"))
    #expect(output.standardOutput.contains("iommu-map: RIDs 0x0–0xff → streams 0x1000… on /iommu@9050000"))
  }

  @Test("--assume-no-dma takes the device out of the unsafe list; a node the tree lacks is a usage error (64)")
  func assumptions() throws {
    let output = try CommandRunner.run(["platform", Self.fixture("orchard.dtb"), "--assume-no-dma", "accelerator@fe000000"])
    #expect(output.status == 0)
    #expect(output.standardOutput.contains("assumed DMA-free (--assume-no-dma): left out of scenarios"))
    #expect(output.standardOutput.contains("Untranslated DMA (unsafe for dma-direct with guest-physical addresses): /soc/dma-controller@fd500000\n"))
    let unknown = try CommandRunner.run(["platform", Self.fixture("orchard.dtb"), "--assume-no-dma", "nothing"])
    #expect(unknown.status == 64)
    #expect(unknown.standardError.contains("expected --assume-no-dma to name a node (a path or a node name), found 'nothing'"))
  }

  @Test("--json: devices with classification, evidence and streams, and the unsafe list")
  func json() throws {
    let output = try CommandRunner.run(["platform", "--json", Self.fixture("quarry.dtb")])
    #expect(output.status == 0)
    let document = try #require(try JSONSerialization.jsonObject(with: Data(output.standardOutput.utf8)) as? [String: Any])
    #expect(document["unsafe"] as? [String] == ["/sata@2d000000", "/mailbox@2e000000"])
    let devices = try #require(document["devices"] as? [[String: Any]])
    let byPath = Dictionary(uniqueKeysWithValues: devices.compactMap { d in (d["path"] as? String).map { ($0, d) } })
    #expect(byPath["/usb@2c000000"]?["classification"] as? String == "protected")
    let streams = try #require(byPath["/usb@2c000000"]?["streams"] as? [[String: Any]])
    #expect(streams.first?["binding"] as? String == "mmu-masters")
    #expect(streams.first?["streamIDs"] as? [Int] == [0x200, 0x201])
    #expect(byPath["/sata@2d000000"]?["classification"] as? String == "unprotected DMA master")
    #expect(byPath["/mailbox@2e000000"]?["classification"] as? String == "unknown")
    let iommus = try #require(document["iommus"] as? [[String: Any]])
    #expect(iommus.first?["kind"] as? String == "smmu-v2")
  }

  @Test("--scenario writes a file that 'dmaverify run' executes: the AHCI corrupts a coloured dom0 under global-flag, the macb does not")
  func scenario() throws {
    let out = temporaryPath("scn")
    defer { try? FileManager.default.removeItem(atPath: out) }
    let output = try CommandRunner.run([
      "platform", Self.fixture("quarry.dtb"), "--scenario", out, "--dom0", "coloured:0-3", "--policy", "global-flag", "--xen", "4.20",
    ])
    #expect(output.status == 0, "\(output.standardError)")
    #expect(output.standardOutput.contains("Scenario: wrote \(out) (4 devices, 1 SMMU; 1 note as comments)"))
    var text = try String(contentsOfFile: out, encoding: .utf8)
    #expect(text.hasPrefix("# /mailbox@2e000000 has no DMA evidence either way"))
    #expect(text.contains("device sata untranslated non-coherent dma-mask 64\n"))
    #expect(text.contains("dom0 coloured 0-3 memory 64M\n"))
    text += "dma sata from-device 0x81000000 4K expect corruption\ndma ethernet from-device 0x81000000 4K expect ok\n"
    try text.write(toFile: out, atomically: true, encoding: .utf8)
    let run = try CommandRunner.run(["run", out])
    #expect(run.status == 0, "\(run.standardOutput)")
    #expect(run.standardOutput.contains("→ CORRUPTION via dma-direct"))
    #expect(run.standardOutput.contains("2 expectations met, 0 not met"))
  }

  @Test("a malformed DTB exits 65 naming the file and the offset; a missing file exits 66")
  func malformed() throws {
    var blob = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.fixture("quarry.dtb"))))
    blob[0x3b] = 0x7
    let file = temporaryPath("dtb")
    try Data(blob).write(to: URL(fileURLWithPath: file))
    defer { try? FileManager.default.removeItem(atPath: file) }
    let output = try CommandRunner.run(["platform", file])
    #expect(output.status == 65)
    #expect(output.standardError == "\(file): error: offset 0x38: expected FDT_BEGIN_NODE (0x1), found 0x7\n")
    #expect(output.standardOutput.isEmpty)
    let missing = try CommandRunner.run(["platform", "/nonexistent/board.dtb"])
    #expect(missing.status == 66)
    #expect(missing.standardError.hasPrefix("/nonexistent/board.dtb: error: cannot read the file"))
  }

  @Test("a reference error in an otherwise well-formed tree exits 65 with the property's offset")
  func danglingReference() throws {
    var blob = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.fixture("orchard.dtb"))))
    // Point the GEM's iommus phandle at a phandle no node has.
    let marker: [UInt8] = [0x00, 0x00, 0x08, 0x74]
    let index = try #require((0..<blob.count - 8).first { Array(blob[$0 + 4..<$0 + 8]) == marker })
    blob[index + 3] = 0x63
    let file = temporaryPath("dtb")
    try Data(blob).write(to: URL(fileURLWithPath: file))
    defer { try? FileManager.default.removeItem(atPath: file) }
    let output = try CommandRunner.run(["platform", file])
    #expect(output.status == 65)
    #expect(output.standardError.hasPrefix("\(file): error: offset 0x"))
    #expect(output.standardError.contains("expected 'iommus' of /soc/ethernet@ff0b0000 to reference a node, found phandle 0x63 which no node has"))
  }

  @Test("options the model cannot meet are usage errors (64)")
  func usage() throws {
    let dtb = Self.fixture("orchard.dtb")
    let policy = try CommandRunner.run(["platform", dtb, "--policy", "swiotlb"])
    #expect(policy.status == 64)
    #expect(policy.standardError.contains("The value 'swiotlb' is invalid for '--policy <policy>'. Please provide one of 'legacy', 'merged-flags', 'global-flag' or 'per-device'."))
    let colouring = try CommandRunner.run(["platform", dtb, "--dom0", "coloured:0-3", "--xen", "4.15"])
    #expect(colouring.status == 64)
    #expect(colouring.standardError.contains("expected --xen 4.20 or later for a coloured dom0"))
    let colours = try CommandRunner.run(["platform", dtb, "--dom0", "coloured:3-1", "--xen", "4.20"])
    #expect(colours.status == 64)
    #expect(try CommandRunner.run(["platform"]).status == 64)
  }

  @Test("a scenario that cannot be written exits 73")
  func unwritable() throws {
    let output = try CommandRunner.run(["platform", Self.fixture("quarry.dtb"), "--scenario", "/nonexistent/dir/out.scn"])
    #expect(output.status == 73)
    #expect(output.standardError.hasPrefix("/nonexistent/dir/out.scn: error: cannot write the scenario"))
  }

  @Test("the scenario path is checked before the tree is read: a device node, a symbolic link or a missing directory exits 73 and nothing is written")
  func unwritableBeforeWork() throws {
    let device = try CommandRunner.run(["platform", "/nonexistent/board.dtb", "--scenario", "/dev/null"])
    #expect(device.status == 73)
    #expect(device.standardError == "/dev/null: error: cannot write the scenario: it is a character device, which dmaverify does not write to or replace\n")
    var status = stat()
    #expect(stat("/dev/null", &status) == 0 && status.st_mode & S_IFMT == S_IFCHR)

    let target = temporaryPath("target")
    try "precious\n".write(toFile: target, atomically: true, encoding: .utf8)
    let link = temporaryPath("scn")
    try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target)
    defer { for path in [target, link] { try? FileManager.default.removeItem(atPath: path) } }
    let linked = try CommandRunner.run(["platform", Self.fixture("quarry.dtb"), "--scenario", link])
    #expect(linked.status == 73)
    #expect(linked.standardError.contains("it is a symbolic link, which dmaverify does not follow or replace"))
    #expect(linked.standardOutput.isEmpty)
    #expect(try String(contentsOfFile: target, encoding: .utf8) == "precious\n")
  }

  @Test("an existing scenario file is replaced whole")
  func replaces() throws {
    let path = temporaryPath("scn")
    try String(repeating: "# old\n", count: 10_000).write(toFile: path, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(atPath: path) }
    let output = try CommandRunner.run(["platform", Self.fixture("quarry.dtb"), "--scenario", path])
    #expect(output.status == 0, "\(output.standardError)")
    let text = try String(contentsOfFile: path, encoding: .utf8)
    #expect(!text.contains("# old") && text.contains("device sata untranslated"))
  }

  @Test("names and strings from the tree are printed with control characters escaped, one line each")
  func escapedOutput() throws {
    // quarry with the AHCI's compatible ("generic-ahci", 12 bytes) replaced
    // by as many bytes holding a newline and a terminal escape.
    var blob = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.fixture("quarry.dtb"))))
    let original = Array("generic-ahci".utf8)
    let hostile: [UInt8] = Array("ah".utf8) + [0x0a, 0x1b] + Array("[31mci!!".utf8)
    #expect(hostile.count == original.count)
    let start = try #require((0...(blob.count - original.count)).first { Array(blob[$0..<($0 + original.count)]) == original })
    blob.replaceSubrange(start..<(start + original.count), with: hostile)
    let path = temporaryPath("dtb")
    try Data(blob).write(to: URL(fileURLWithPath: path))
    defer { try? FileManager.default.removeItem(atPath: path) }
    let output = try CommandRunner.run(["platform", path])
    #expect(output.status == 0, "\(output.standardError)")
    #expect(output.standardOutput.contains("/sata@2d000000 (ah\\n\\x1b[31mci!!)"))
    #expect(!output.standardOutput.unicodeScalars.contains { $0.value == 0x1b })
    #expect(!output.standardOutput.split(separator: "\n").contains { $0.hasPrefix("[31m") })
  }

  /// A directory with a fake `dtc` for PATH, and a `board.dts` for it.
  func fakeCompiler(_ body: String) throws -> URL {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fake-dtc-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let script = directory.appendingPathComponent("dtc")
    try ("#!/bin/sh\n" + body).write(to: script, atomically: true, encoding: .utf8)
    try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: script.path)
    try "/dts-v1/;\n/ { };\n".write(to: directory.appendingPathComponent("board.dts"), atomically: true, encoding: .utf8)
    return directory
  }

  static func isGone(_ pid: Int32) -> Bool {
    kill(pid, 0) != 0 || (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8))?.contains(") Z ") == true
  }

  @Test("a dtc that spins is killed after --dtc-timeout: exit 65 naming the file, the timeout and what dtc said")
  func dtcTimeout() throws {
    let directory = try fakeCompiler("echo 'still thinking' >&2; sleep 300\n")
    defer { try? FileManager.default.removeItem(at: directory) }
    let start = Date()
    let output = try CommandRunner.run(
      ["platform", "board.dts", "--dtc-timeout", "1"], in: directory, environment: ["PATH": directory.path + ":/usr/bin:/bin"])
    #expect(output.status == 65)
    #expect(output.standardError.hasPrefix("board.dts: error: dtc could not compile the source: \(directory.path)/dtc did not finish within 1 s; it was killed with its process group (it had said: still thinking)"))
    #expect(Date().timeIntervalSince(start) < 20)
    #expect(try CommandRunner.run(["platform", "board.dts", "--dtc-timeout", "nan"]).status == 64)
    #expect(try CommandRunner.run(["check", "--platform", "board.dts", "--dtc-timeout", "0"]).status == 64)
  }

  @Test("dmaverify interrupted while dtc runs: dtc's whole process group goes with it")
  func interrupted() throws {
    let directory = try fakeCompiler("sleep 300 & echo $! > \"$(dirname \"$0\")/grandchild\"; echo $$ > \"$(dirname \"$0\")/child\"; sleep 300\n")
    defer { try? FileManager.default.removeItem(at: directory) }
    for signal in [SIGTERM, SIGINT] {
      for file in ["child", "grandchild"] { try? FileManager.default.removeItem(at: directory.appendingPathComponent(file)) }
      let process = Process()
      process.executableURL = CommandRunner.executable
      process.arguments = ["platform", "board.dts"]
      process.currentDirectoryURL = directory
      process.environment = ProcessInfo.processInfo.environment.merging(["PATH": directory.path + ":/usr/bin:/bin"]) { $1 }
      process.standardOutput = FileHandle.nullDevice
      process.standardError = FileHandle.nullDevice
      try process.run()
      var pids: [Int32] = []
      for _ in 0..<200 where pids.count < 2 {
        usleep(50_000)
        pids = ["child", "grandchild"].compactMap {
          (try? String(contentsOf: directory.appendingPathComponent($0), encoding: .utf8)).flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        }
      }
      #expect(pids.count == 2, "the fake dtc did not start")
      kill(process.processIdentifier, signal)
      process.waitUntilExit()
      #expect(process.terminationReason == .uncaughtSignal && process.terminationStatus == signal)
      var gone = false
      for _ in 0..<100 where !gone {
        gone = pids.allSatisfy(Self.isGone)
        if !gone { usleep(50_000) }
      }
      #expect(gone, "signal \(signal): dtc's group outlived dmaverify")
      for pid in pids where !Self.isGone(pid) { kill(pid, SIGKILL) }
    }
  }

  @Test("a source named like a dtc option is compiled as a file: dtc writes nothing", .enabled(if: PlatformCommandTests.dtcInstalled, "dtc (device-tree-compiler) is not installed"))
  func optionLikeName() throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("dash-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let source = try String(contentsOfFile: Self.fixture("quarry.dts"), encoding: .utf8)
    try source.write(to: directory.appendingPathComponent("-owritten.dts"), atomically: true, encoding: .utf8)
    let output = try CommandRunner.run(["platform", "--", "-owritten.dts"], in: directory)
    #expect(output.status == 0, "\(output.standardError)")
    #expect(output.standardOutput.contains("/sata@2d000000"))
    #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["-owritten.dts"])
  }

  @Test("a DTS goes through dtc", .enabled(if: PlatformCommandTests.dtcInstalled, "dtc (device-tree-compiler) is not installed"))
  func source() throws {
    let output = try CommandRunner.run(["platform", Self.fixture("harbour.dts")])
    #expect(output.status == 0, "\(output.standardError)")
    #expect(output.standardOutput.contains("  UNPROTECTED  /display@9200000 (arm,hdlcd)"))
  }

  @Test(
    "fallow: a DTS with #include, a header from -I and #define macros goes through cpp then dtc; the source's labels are shown",
    .enabled(if: PlatformCommandTests.toolsInstalled, "cpp or dtc is not installed"))
  func preprocessed() throws {
    let include = Self.cppFixture("include")
    for spelling in [["-I", include], ["-I\(include)"], ["--include-dir", include]] {
      let output = try CommandRunner.run(["platform", Self.cppFixture("fallow.dts")] + spelling)
      #expect(output.status == 0, "\(spelling): \(output.standardError)")
      #expect(output.standardOutput.contains("  UNPROTECTED  /sata@2d000000 (generic-ahci)  &sata0\n"))
      #expect(output.standardOutput.contains("               iommus: stream 0x860 on /iommu@2b400000"))
      #expect(output.standardOutput.contains("  /iommu@2b400000  arm,mmu-500  smmu-v2  #iommu-cells 1  &smmu\n"))
      #expect(output.standardOutput.contains("  attached          /usb@2c000000  &usb0\n"))
    }
    // A label names the node for --assume-no-dma, as the source refers to it.
    let assumed = try CommandRunner.run(["platform", Self.cppFixture("fallow.dts"), "-I", include, "--assume-no-dma", "&sata0"])
    #expect(assumed.status == 0, "\(assumed.standardError)")
    #expect(assumed.standardOutput.contains("               assumed DMA-free (--assume-no-dma): left out of scenarios"))
    let unknown = try CommandRunner.run(["platform", Self.cppFixture("fallow.dts"), "-I", include, "--assume-no-dma", "&nothing"])
    #expect(unknown.status == 64)
    #expect(unknown.standardError.contains("expected --assume-no-dma '&nothing' to be a label of the source, found none called 'nothing'"))
    let dtb = try CommandRunner.run(["platform", Self.fixture("quarry.dtb"), "--assume-dma", "&ahci"])
    #expect(dtb.status == 64)
    #expect(dtb.standardError.contains("(the tree has no /__symbols__: a .dts has them, a .dtb only when compiled with dtc -@)"))
    let json = try CommandRunner.run(["platform", Self.cppFixture("fallow.dts"), "-I", include, "--json"])
    let document = try JSONSerialization.jsonObject(with: Data(json.standardOutput.utf8)) as? [String: Any]
    let devices = try #require(document?["devices"] as? [[String: Any]])
    #expect(devices.first { $0["path"] as? String == "/sata@2d000000" }?["labels"] as? [String] == ["sata0"])
  }

  @Test(
    "cpp and dtc errors name the file and line: a missing #include the .dts's line, a syntax error in a .dtsi that file's line (exit 65)",
    .enabled(if: PlatformCommandTests.toolsInstalled, "cpp or dtc is not installed"))
  func preprocessedErrors() throws {
    let missing = try CommandRunner.run(["platform", "missing-include.dts"], in: Self.fixtures.appendingPathComponent("cpp"))
    #expect(missing.status == 65)
    #expect(missing.standardError.hasPrefix("missing-include.dts: error: cpp could not preprocess the source: missing-include.dts:5:"))
    #expect(missing.standardError.contains("absent-soc.dtsi"))
    let broken = try CommandRunner.run(["platform", "broken-include.dts"], in: Self.fixtures.appendingPathComponent("cpp"))
    #expect(broken.status == 65)
    #expect(broken.standardError.hasPrefix("broken-include.dts: error: dtc could not compile the source: Error: broken-soc.dtsi:7."))
    #expect(!broken.standardError.contains("preprocessed"))
    let header = try CommandRunner.run(["check", "--platform", "fallow.dts"], in: Self.fixtures.appendingPathComponent("cpp"))
    #expect(header.status == 65)
    #expect(header.standardError.contains("fallow-soc.dtsi:4:"))
  }

  @Test("-I names a directory that is not one: a usage error before anything runs (exit 64)")
  func includeDirectoryNotThere() throws {
    let output = try CommandRunner.run(["platform", Self.fixture("quarry.dtb"), "-I", "/nonexistent/include"])
    #expect(output.status == 64)
    #expect(output.standardError.contains("expected --include-dir to be a directory of device tree includes, found '/nonexistent/include' (no such directory)"))
    let check = try CommandRunner.run(["check", "--platform", Self.fixture("quarry.dtb"), "--include-dir", Self.fixture("quarry.dtb")])
    #expect(check.status == 64)
    #expect(check.standardError.contains("(not a directory)"))
  }

  @Test(
    "a DTS with #include and no cpp on PATH: the message says to install cpp, exit 65 as for a missing dtc",
    .enabled(if: PlatformCommandTests.dtcInstalled, "dtc (device-tree-compiler) is not installed"))
  func missingPreprocessor() throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("only-dtc-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let dtc = try #require(
      (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map { "\($0)/dtc" }.first { FileManager.default.isExecutableFile(atPath: $0) })
    try FileManager.default.createSymbolicLink(atPath: directory.appendingPathComponent("dtc").path, withDestinationPath: dtc)
    let output = try CommandRunner.run(["platform", Self.cppFixture("fallow.dts")], environment: ["PATH": directory.path])
    #expect(output.status == 65)
    #expect(output.standardError.contains("need the C preprocessor cpp, which is not installed; install it (Debian/Ubuntu: apt-get install cpp) or pass a compiled .dtb"))
    // A plain DTS still needs only dtc.
    let plain = try CommandRunner.run(["platform", Self.fixture("quarry.dts")], environment: ["PATH": directory.path])
    #expect(plain.status == 0, "\(plain.standardError)")
  }

  @Test("platform --help documents the classes and the exit status")
  func help() throws {
    let output = try CommandRunner.run(["platform", "--help"])
    #expect(output.status == 0)
    #expect(output.standardOutput.contains("Exit status: 0 when the tree was read, 64 on a usage error, 65 when the"))
    #expect(output.standardOutput.contains("--assume-no-dma <node>"))
    #expect(output.standardOutput.contains("Xen 4.15 reads"))
    #expect(output.standardOutput.contains("-I, --include-dir <dir>"))
    #expect(output.standardOutput.contains("#include or #define"))
  }

  @Test("ridge: Xen's view per release and build; placeholders warned on stderr; --ram replaces the RAM; --json carries it")
  func xenView() throws {
    let output = try CommandRunner.run(["platform", Self.fixture("ridge.dtb"), "--xen", "4.15", "--all"])
    #expect(output.status == 0, "\(output.standardError)")
    #expect(output.standardOutput.contains("Xen 4.15 (smmuv3=off,iommu=on)"))
    #expect(output.standardOutput.contains("  /soc/iommu@ff200000: not Xen's: no Xen 4.15 driver matches rockchip,iommu"))
    #expect(output.standardOutput.contains("  XEN PANICS: Xen 4.15 panics building dom0: /soc/sata@fd0c0000 (disabled, but Xen handles it too)"))
    #expect(output.standardOutput.contains("  /soc/usb@fe300000: xen,passthrough (a guest's); would be protected"))
    #expect(output.standardOutput.contains("  Untranslated by Xen (unsafe for dma-direct with guest-physical addresses): /soc/gpu@fd4b0000, /soc/video@ff210000"))
    #expect(output.standardError.contains("warning: offset 0xd0: memory node /memory@0 has no bank of non-zero size"))

    let scenario = temporaryPath("scn")
    defer { try? FileManager.default.removeItem(atPath: scenario) }
    let noRAM = try CommandRunner.run(["platform", Self.fixture("ridge.dtb"), "--scenario", scenario])
    #expect(noRAM.status == 65)
    #expect(noRAM.standardError.contains("expected at least one memory node"))
    let json = try CommandRunner.run(["platform", Self.fixture("ridge.dtb"), "--ram", "0:2G", "--json", "--scenario", scenario])
    #expect(json.status == 0, "\(json.standardError)")
    #expect(!json.standardError.contains("warning"))
    let report = try #require(try JSONSerialization.jsonObject(with: Data(json.standardOutput.utf8)) as? [String: Any])
    let xen = try #require(report["xen"] as? [String: Any])
    #expect((xen["placements"] as? [String: String])?["/soc/video@ff210000"] == "iommu-not-xens")
    #expect(xen["iommuEnabled"] as? Bool == true)
    #expect((report["ram"] as? [[String: Any]])?.first?["node"] as? String == "--ram")
    #expect(try String(contentsOfFile: scenario, encoding: .utf8).contains("ram 0x0 2G"))
  }
}
