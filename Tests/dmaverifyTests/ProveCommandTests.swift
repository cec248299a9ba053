import Foundation
import Testing
import TestSupport

@Suite("dmaverify prove")
struct ProveCommandTests {
  var expectations: String { repository.appendingPathComponent("proofs/expectations.txt").path }

  func temporaryFile(_ text: String) throws -> String {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("dmaverify-\(UUID().uuidString).txt")
    try text.write(to: url, atomically: true, encoding: .utf8)
    return url.path
  }

  @Test("--list names every theorem of the catalogue")
  func list() throws {
    let output = try CommandRunner.run(["prove", "--list"])
    #expect(output.status == 0)
    for name in ["descriptor.roundtrip", "walk.regression", "p2m.regression", "colour.allocation", "dma.matrix.legacy.direct-mapped", "dma.flag-equals-swiotlb"] {
      #expect(output.standardOutput.contains(name), "\(name)")
    }
  }

  @Test("dma.matrix-class.* (every matrix cell, every platform) is listed as --every-platform only, and selectable only with it")
  func everyPlatformTheorems() throws {
    let listing = try CommandRunner.run(["prove", "--list"])
    #expect(listing.standardOutput.contains("dma.matrix-class.global-flag.coloured\t(--every-platform only) every dma.matrix cell"))
    let without = try CommandRunner.run(["prove", "--filter", "dma.matrix-class", "--expectations", expectations])
    #expect(without.status == 64)
    #expect(without.standardError.contains("no theorem matches 'dma.matrix-class'"), "\(without.standardError)")
  }

  @Test("DMAVERIFY_HOOK_REACH records, per theorem, the seeded bugs whose hooks its run evaluated (what mutation-score proves each bug with)")
  func hookReach() throws {
    let record = FileManager.default.temporaryDirectory.appendingPathComponent("dmaverify-reach-\(UUID().uuidString).tsv").path
    let output = try CommandRunner.run(
      ["prove", "--filter", "swiotlb.straddle", "--filter", "smmu.fast-path", "--expectations", expectations, "--jobs", "2"],
      environment: ["DMAVERIFY_HOOK_REACH": record])
    #expect(output.status == 0, "\(output.standardOutput)\(output.standardError)")
    let lines = try String(contentsOfFile: record, encoding: .utf8).split(separator: "\n").map(String.init)
    let reach = Dictionary(uniqueKeysWithValues: lines.map { line in
      let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
      return (String(fields[0]), Set(fields[1].split(separator: ",").map(String.init)))
    })
    #expect(Set(reach.keys) == ["swiotlb.straddle", "smmu.fast-path", "*"], "\(lines)")
    // The straddle theorem runs Linux's check, never the SMMU; the fast
    // path theorem runs the IOTLB, never swiotlb-xen.
    #expect(reach["swiotlb.straddle"]?.contains("straddle-first-boundary-only") == true)
    #expect(reach["swiotlb.straddle"]?.contains("fast-path-ignores-vmid") == false)
    #expect(reach["smmu.fast-path"]?.contains("fast-path-ignores-vmid") == true)
    #expect(reach["smmu.fast-path"]?.contains("straddle-first-boundary-only") == false)
    #expect(reach["*"] == [], "every hook ran inside a theorem's scope")
    let refused = try CommandRunner.run(
      ["prove", "--filter", "swiotlb.straddle", "--expectations", expectations], environment: ["DMAVERIFY_HOOK_REACH": "/proc/no/such/dir/reach.tsv"])
    #expect(refused.status == 73, "\(refused.standardError)")
    #expect(refused.standardError.contains("/proc/no/such/dir/reach.tsv"), "the record is checked before the first proof, and named")
  }

  @Test("a filtered run matching the expectations exits 0 and writes JUnit")
  func filteredRun() throws {
    let junit = FileManager.default.temporaryDirectory.appendingPathComponent("dmaverify-junit-\(UUID().uuidString).xml").path
    let output = try CommandRunner.run(["prove", "--filter", "descriptor.roundtrip", "--expectations", expectations, "--junit", junit])
    #expect(output.status == 0, "\(output.standardOutput)\(output.standardError)")
    #expect(output.standardOutput.contains("descriptor.roundtrip        72      72"))
    #expect(output.standardOutput.contains("Summary: every result matches the expectations"))
    #expect(output.standardError.isEmpty, "no progress when stderr is not a terminal: \(output.standardError)")
    let xml = try String(contentsOfFile: junit, encoding: .utf8)
    #expect(xml.contains("<testsuite name=\"descriptor.roundtrip\" tests=\"72\" failures=\"0\""))
  }

  @Test("a theorem name of 28 characters or more is not cut and stays apart from its counts")
  func longTheoremNames() throws {
    let output = try CommandRunner.run(["prove", "--filter", "grant.one-to-one-permissions", "--expectations", expectations])
    #expect(output.status == 0, "\(output.standardOutput)\(output.standardError)")
    #expect(output.standardOutput.contains("\ngrant.one-to-one-permissions  1 "), "\(output.standardOutput)")
  }

  @Test(
    "an output that cannot be written is found before any proof runs: exit 73 naming the path",
    arguments: [
      (["--junit", "/nonexistent/dir/report.xml"], "/nonexistent/dir/report.xml: error: cannot write the file: No such file or directory"),
      (["--write-expectations", "/dev/null"], "/dev/null: error: cannot write the file: it is a character device"),
      (["--smt-dump-dir", "/dev/null/queries"], "/dev/null/queries: error: cannot write the file: cannot make the directory"),
    ])
  func unwritableOutputs(options: [String], message: String) throws {
    let start = Date()
    // The DMA matrix would take minutes: a quick exit shows nothing ran.
    let output = try CommandRunner.run(["prove", "--filter", "dma.matrix", "--expectations", expectations] + options)
    #expect(output.status == 73)
    #expect(output.standardError.hasPrefix(message), "\(output.standardError)")
    #expect(output.standardOutput.isEmpty)
    #expect(Date().timeIntervalSince(start) < 20)
  }

  @Test("--second-solver on without a Python that has Bitwuzla exits 69 before any proof, saying why; off runs on Z3 and says so")
  func secondSolver() throws {
    let missing = try CommandRunner.run(
      ["prove", "--filter", "dma.matrix", "--second-solver", "on", "--expectations", expectations], environment: ["PATH": "/nonexistent"])
    #expect(missing.status == 69)
    #expect(missing.standardError.contains("--second-solver on: Bitwuzla needs python3 on PATH"), "\(missing.standardError)")
    let off = try CommandRunner.run(["prove", "--filter", "p2m.chunk-order", "--second-solver", "off", "--expectations", expectations])
    #expect(off.status == 0)
    #expect(off.standardOutput.contains("Queries decided by: Z3 "))
    #expect(!off.standardOutput.contains("Bitwuzla"))
    let on = try CommandRunner.run(["prove", "--filter", "p2m.chunk-order", "--second-solver", "on", "--expectations", expectations])
    #expect(on.status == 0)
    #expect(on.standardOutput.contains("Queries decided by: Bitwuzla 0.10.0 2"), "\(on.standardOutput)")
  }

  @Test("a result that differs from the expectations exits 1 and says which")
  func mismatch() throws {
    let wrong = try temporaryFile("descriptor.roundtrip[ram_rw,L3,valid] refuted\n")
    let output = try CommandRunner.run(["prove", "--filter", "descriptor.roundtrip", "--expectations", wrong])
    #expect(output.status == 1)
    #expect(output.standardOutput.contains("descriptor.roundtrip[ram_rw,L3,valid]: proved, expected refuted"))
  }

  @Test("--json reports every claim")
  func json() throws {
    let output = try CommandRunner.run(["prove", "--filter", "colour.allocation", "--expectations", expectations, "--json"])
    #expect(output.status == 0)
    let document = try JSONSerialization.jsonObject(with: Data(output.standardOutput.utf8)) as? [String: Any]
    let theorems = try #require(document?["theorems"] as? [[String: Any]])
    #expect((theorems.first?["findings"] as? [[String: Any]])?.count == 6)
  }

  @Test("bad input: a malformed expectations file exits 65 naming the line; a filter matching nothing is a usage error")
  func badInput() throws {
    let malformed = try temporaryFile("# fine\nsomething proved\n")
    let output = try CommandRunner.run(["prove", "--filter", "colour", "--expectations", malformed])
    #expect(output.status == 65)
    #expect(output.standardError.hasPrefix("\(malformed):2: error: expected '<claim> refuted'"))
    let nothing = try CommandRunner.run(["prove", "--filter", "no.such.theorem"])
    #expect(nothing.status == 64)
    #expect(nothing.standardError.contains("no theorem matches 'no.such.theorem'"))
    #expect(try CommandRunner.run(["prove", "--expectations", "/nonexistent/x.txt", "--filter", "colour"]).status == 66)
  }
}
