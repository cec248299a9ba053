import Foundation

/// Runs the built `dmaverify` executable, as a user would.
struct CommandRunner {
  struct Output {
    var status: Int32
    var standardOutput: String
    var standardError: String
  }

  /// The products directory: the test bundle sits beside the executables.
  static var executable: URL {
    URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
      .deletingLastPathComponent().appendingPathComponent("dmaverify")
  }

  /// The tests' own cache directory (`check`'s verdict cache), so that a
  /// test run never reads or fills the user's.
  static let cacheHome = FileManager.default.temporaryDirectory.appendingPathComponent("dmaverify-tests-\(getpid())").path

  /// `environment` entries are added to this process's environment (with
  /// XDG_CACHE_HOME set to ``cacheHome`` unless given).
  static func run(_ arguments: [String], in directory: URL? = nil, environment: [String: String] = [:]) throws -> Output {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    process.environment = ProcessInfo.processInfo.environment.merging(["XDG_CACHE_HOME": cacheHome]) { $1 }.merging(environment) { $1 }
    if let directory { process.currentDirectoryURL = directory }
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return Output(
      status: process.terminationStatus,
      standardOutput: String(decoding: outData, as: UTF8.self),
      standardError: String(decoding: errData, as: UTF8.self))
  }
}
