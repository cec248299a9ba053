#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// A helper program dmaverify talks to for as long as it needs it (a
/// second SMT solver): a request written to its standard input, an answer
/// line read from its standard output. It is contained as ``ChildProcess``
/// contains a one-shot child: its own process group, killed with it on
/// SIGINT/SIGTERM/SIGHUP and when the value goes away; its standard error
/// goes to /dev/null.
///
/// Both directions are one Unix socket pair rather than two pipes, so a
/// write to a helper that died fails with EPIPE (`MSG_NOSIGNAL`) instead of
/// raising SIGPIPE, which would kill dmaverify.
package final class Coprocess {
  private let pid: pid_t
  private let socket: Int32
  private var buffered: [UInt8] = []
  private var ended = false

  package init(_ executable: String, _ arguments: [String]) throws(ChildProcess.Failure) {
    var pair: [Int32] = [-1, -1]
    guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair) == 0 else {
      throw .cannotStart(executable: executable, reason: String(cString: strerror(errno)))
    }
    let devNull = open("/dev/null", O_WRONLY)
    defer { if devNull >= 0 { close(devNull) } }
    do {
      pid = try ChildProcess.spawn(
        executable, arguments, input: pair[1], output: pair[1], error: devNull >= 0 ? devNull : nil, closing: [pair[0]])
    } catch {
      close(pair[0])
      close(pair[1])
      throw error
    }
    close(pair[1])
    socket = pair[0]
  }

  deinit {
    close(socket)
    if !ended { ChildProcess.abandon(pid) }
  }

  /// Writes all of `bytes`; false when the helper is gone.
  package func send(_ bytes: [UInt8]) -> Bool {
    var offset = 0
    while offset < bytes.count {
      let written = bytes[offset...].withUnsafeBytes { Glibc.send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
      if written < 0 {
        if errno == EINTR { continue }
        return false
      }
      offset += written
    }
    return true
  }

  /// The next line the helper writes (without its newline), waiting at most
  /// `timeout` seconds; nil when it closed its output, or did not answer in
  /// time (then it is killed: a late answer would be read as the next one).
  package func readLine(timeout: Double) -> String? {
    let deadline = ChildProcess.now() + timeout
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
      if let newline = buffered.firstIndex(of: UInt8(ascii: "\n")) {
        let line = String(decoding: buffered[..<newline], as: UTF8.self)
        buffered.removeSubrange(...newline)
        return line
      }
      if ended { return nil }
      let remaining = deadline - ChildProcess.now()
      if remaining <= 0 {
        stop()
        return nil
      }
      var entry = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
      let ready = poll(&entry, 1, Int32(min(remaining * 1000, 1000)) + 1)
      if ready < 0 && errno == EINTR { continue }
      guard ready > 0 else { continue }
      let count = read(socket, &chunk, chunk.count)
      if count < 0 && errno == EINTR { continue }
      if count <= 0 {
        stop()
        return nil
      }
      buffered += chunk[0..<count]
    }
  }

  /// Kills the helper's group and reaps it; later reads answer nil.
  package func stop() {
    guard !ended else { return }
    ended = true
    ChildProcess.abandon(pid)
  }
}
