#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Reading an input file (a scenario, a device tree) without blocking on
/// what is not a file: a FIFO is opened without waiting for a writer (one
/// that never comes reads as empty; a pipeline's or `<(…)`'s writer is
/// there and is read to its end), a directory or socket is refused, and a
/// device such as `/dev/zero` is read only up to a limit.
package enum InputFile {
  /// Why a file was not read; the reason reads after "cannot read the
  /// file: ".
  package struct Failure: Error, Hashable, Sendable {
    package var reason: String
    /// Whether the path names a directory (some callers say more then).
    package var isDirectory = false
  }

  /// The bytes of `path`, at most `limit` of them.
  package static func read(_ path: String, limit: Int) throws(Failure) -> [UInt8] {
    var status = stat()
    guard stat(path, &status) == 0 else { throw Failure(reason: errnoText()) }
    if let refusal = refusal(mode: status.st_mode) { throw refusal }
    let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
    guard fd >= 0 else { throw Failure(reason: errnoText()) }
    defer { close(fd) }
    // What was opened is what counts (the path may have changed since).
    guard fstat(fd, &status) == 0 else { throw Failure(reason: errnoText()) }
    if let refusal = refusal(mode: status.st_mode) { throw refusal }
    // Blocking reads from here: a pipe's writer is waited for, but a FIFO
    // that no writer has opened reads as its end.
    _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 1 << 16)
    while true {
      let count = Glibc.read(fd, &buffer, buffer.count)
      if count < 0 {
        if errno == EINTR { continue }
        throw Failure(reason: errnoText())
      }
      if count == 0 { return bytes }
      guard bytes.count + count <= limit else {
        throw Failure(reason: "it is larger than \(limit) bytes, the most read from one input")
      }
      bytes += buffer[0..<count]
    }
  }

  private static func refusal(mode: mode_t) -> Failure? {
    switch mode & S_IFMT {
    case S_IFDIR: Failure(reason: "it is a directory, not a file", isDirectory: true)
    case S_IFSOCK: Failure(reason: "it is a socket, not a file")
    default: nil
    }
  }

  private static func errnoText() -> String { String(cString: strerror(errno)) }
}
