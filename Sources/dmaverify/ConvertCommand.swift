import ArgumentParser
import Foundation
import FuzzCore
import Scenario
import Spec
import SystemIO

extension DMAVerify {
  /// `dmaverify convert FILE`: scenario text ↔ fuzz input bytes.
  struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Convert a scenario to fuzz input bytes, or fuzz input bytes to a scenario.",
      discussion: """
        A .scn scenario is encoded as fuzz input bytes (written to --output), so a
        human-written story can seed the fuzzer; it must use the fuzzer's platform
        and pools (the error names the first statement that does not). Any other
        file is decoded and printed as a scenario.

        Exit status: 0 on success, 65 for a malformed or unencodable scenario, 66
        when a file cannot be read or written.
        """)

    @Argument(help: "A .scn scenario or a raw fuzz input.", completion: .file())
    var file: String

    @Option(name: .shortAndLong, help: "Where to write the bytes of an encoded scenario.", completion: .file())
    var output: String?

    @Flag(help: "Encode DMAs without their 'expect' (the fuzzer's oracles judge DMAs).")
    var dropExpectations = false

    func validate() throws {
      if file.hasSuffix(".scn") && output == nil {
        throw ValidationError("encoding a scenario needs --output FILE for the bytes")
      }
    }

    func run() throws {
      let input: FuzzInput
      do { input = try FuzzInput.load(file) } catch {
        FileHandle.standardError.write(Data("\(error)\n".utf8))
        throw ExitCode(error.unreadable ? 66 : 65)
      }
      switch input {
      case .bytes(let bytes):
        print(ScenarioPrinter.print(FuzzDecoder.decode(bytes)), terminator: "")
      case .scenario(let scenario):
        let bytes: [UInt8]
        do { bytes = try FuzzEncoder.encode(scenario, droppingExpectations: dropExpectations) } catch {
          var located = error
          located.file = file
          FileHandle.standardError.write(Data("\(located)\n".utf8))
          throw ExitCode(65)
        }
        guard let output else { throw ValidationError("encoding a scenario needs --output FILE for the bytes") }
        do { try OutputFile.write(bytes, to: output) } catch {
          FileHandle.standardError.write(Data("\(error)\n".utf8))
          throw ExitCode(66)
        }
        print("\(output): \(bytes.count) bytes, \((bytes.count - 2) / FuzzDecoder.recordSize) operations")
      }
    }
  }
}
