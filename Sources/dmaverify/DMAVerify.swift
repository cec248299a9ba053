import ArgumentParser
import Foundation
import Spec

/// The `dmaverify` command: decides whether dom0 on Xen/ARM may DMA with
/// guest-physical addresses through the SMMU instead of swiotlb-xen.
@main
struct DMAVerify: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "dmaverify",
    abstract: "Decide whether dom0 on Xen/ARM may DMA through the SMMU instead of swiotlb-xen.",
    discussion: """
      dmaverify judges each Linux DMA policy of dom0 (swiotlb-xen, dma-direct
      under XENFEAT_ARM_dom0_iommu, per-device) against an executable
      specification of Xen's p2m, the SMMU and Linux's DMA paths: scenarios
      run on it ('run'), Z3 proves or refutes the DMA matrix and the
      optimized p2m and SMMU code ('prove', and 'check' for a board's device
      tree), and libFuzzer compares the implementation with it ('fuzz',
      'replay', 'minimize').
      """,
    subcommands: [Run.self, Prove.self, Check.self, PlatformCommand.self, Replay.self, Minimize.self, Convert.self, Fuzz.self, Search.self]
  )

  /// Says which seeded bugs a mutant build runs with before anything else
  /// (``SeededBug/processAnnouncement``), then parses and runs as usual.
  static func main() {
    if let note = SeededBug.processAnnouncement { FileHandle.standardError.write(Data("dmaverify: \(note)\n".utf8)) }
    Self.main(nil)
  }

  @Flag(help: "Print the release, the git commit built and the Z3 version, and exit.")
  var version = false

  /// `dmaverify --version`; with no subcommand and no flag, the help.
  /// (ArgumentParser's own `version:` is a constant string, and finding
  /// the commit runs git, which only `--version` should pay for.)
  func run() throws {
    if version {
      print(Version.text())
    } else {
      print(Self.helpMessage())
    }
  }
}
