import ArgumentParser
import Foundation
import FuzzCore

/// `--expectations FILE` for the commands that run the fuzzer's oracles:
/// the DMA properties they require are the ones the proofs establish, read
/// from the file `prove` checks (``DMAClaims``).
struct ClaimsOption: ParsableArguments {
  @Option(
    help: "The proofs' expectations file; a DMA in a dma.matrix cell must meet every property it does not list as refuted.",
    completion: .file())
  var expectations = DMAClaims.defaultPath

  /// The claims; an unreadable file exits 66, a malformed one 65, each
  /// with the file's name (and line).
  func load() throws -> DMAClaims {
    do { return try DMAClaims.load(expectations) } catch {
      FileHandle.standardError.write(Data("\(error.description)\n".utf8))
      throw ExitCode(error.unreadable ? 66 : 65)
    }
  }
}
