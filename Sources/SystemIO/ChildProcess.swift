#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif
import Foundation

/// A program run by dmaverify (dtc, the fuzzing build, libFuzzer), bounded
/// and contained: it starts in a process group of its own, so that a
/// timeout kills it with everything it started (`swift build`'s compilers, a
/// shell's background jobs); while it runs, SIGINT, SIGTERM or SIGHUP sent
/// to dmaverify kills that group (SIGKILL: a shell's background jobs
/// ignore SIGINT) before dmaverify dies of the signal, so that an
/// interrupted dmaverify leaves no child behind. (SIGKILL cannot
/// be caught: a child outlives a `kill -9` of dmaverify.) Its standard input
/// is /dev/null, so a child in a background group never stops on a read
/// from the terminal.
///
/// Foundation's `Process` puts the child in a new session that nothing
/// kills, and has no timeout, which is why this is `posix_spawn`.
package enum ChildProcess {
  /// How the child ended.
  package enum Termination: Hashable, Sendable, CustomStringConvertible {
    case exited(Int32)
    case signalled(Int32)

    package var description: String {
      switch self {
      case .exited(let status): "exit status \(status)"
      case .signalled(let signal): "killed by signal \(signal)"
      }
    }

    /// The shell's convention: the exit status, or 128 + the signal.
    package var status: Int32 {
      switch self {
      case .exited(let status): status
      case .signalled(let signal): 128 + signal
      }
    }
  }

  /// A captured run: how it ended, and what it wrote.
  package struct Captured: Sendable {
    package var termination: Termination
    package var output: [UInt8]
    package var errorOutput: [UInt8]
  }

  /// Why the child did not run to its end; the child's group is killed in
  /// every case but ``cannotStart(executable:reason:)``.
  package enum Failure: Error, Hashable, Sendable, CustomStringConvertible {
    case cannotStart(executable: String, reason: String)
    /// It was still running after `seconds`; `errorOutput` is what it had
    /// written to stderr by then.
    case timedOut(executable: String, seconds: Double, errorOutput: [UInt8])
    /// Its standard output passed `limit` bytes.
    case outputTooLarge(executable: String, limit: Int)

    package var description: String {
      switch self {
      case .cannotStart(let executable, let reason):
        return "cannot run \(executable): \(reason)"
      case .timedOut(let executable, let seconds, let errorOutput):
        let said = ChildProcess.text(errorOutput)
        return "\(executable) did not finish within \(ChildProcess.secondsText(seconds)) s; it was killed with its process group"
          + (said.isEmpty ? "" : " (it had said: \(said))")
      case .outputTooLarge(let executable, let limit):
        return "\(executable) wrote more than \(limit) bytes; it was killed with its process group"
      }
    }
  }

  /// Runs `executable` (a path) with `arguments`, captures its standard
  /// output (at most `outputLimit` bytes) and error, and waits at most
  /// `timeout` seconds. Leftovers of its group (a background job still
  /// holding the pipes) are killed when it exits.
  package static func run(
    _ executable: String, _ arguments: [String], timeout: Double, outputLimit: Int = 1 << 26
  ) throws(Failure) -> Captured {
    var outputPipe: [Int32] = [-1, -1]
    var errorPipe: [Int32] = [-1, -1]
    guard pipe(&outputPipe) == 0 else { throw .cannotStart(executable: executable, reason: errnoText()) }
    guard pipe(&errorPipe) == 0 else {
      close(outputPipe[0])
      close(outputPipe[1])
      throw .cannotStart(executable: executable, reason: errnoText())
    }
    let pid: pid_t
    do {
      pid = try spawn(executable, arguments, output: outputPipe[1], error: errorPipe[1], closing: [outputPipe[0], errorPipe[0]])
    } catch {
      for fd in outputPipe + errorPipe { close(fd) }
      throw error
    }
    close(outputPipe[1])
    close(errorPipe[1])
    defer {
      close(outputPipe[0])
      close(errorPipe[0])
    }

    let deadline = now() + timeout
    var output: [UInt8] = []
    var errorOutput: [UInt8] = []
    var open = [outputPipe[0]: true, errorPipe[0]: true]
    var termination: Termination?
    // After the child's exit, how long to wait for the pipes' last bytes
    // (a grandchild in another group may still hold them).
    var drainDeadline = Double.infinity
    var buffer = [UInt8](repeating: 0, count: 1 << 16)
    while open.values.contains(true) || termination == nil {
      if termination == nil, let ended = reap(pid, wait: false) {
        termination = ended
        drainDeadline = now() + 1
        // Whatever it left running (and holding the pipes) goes with it.
        kill(-pid, SIGKILL)
      }
      if termination != nil && now() > drainDeadline { break }
      let remaining = deadline - now()
      if termination == nil && remaining <= 0 {
        abandon(pid)
        throw .timedOut(executable: executable, seconds: timeout, errorOutput: errorOutput)
      }
      var fds = open.filter(\.value).keys.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
      if fds.isEmpty {
        // Both pipes are closed but the child has not been reaped yet.
        usleep(5_000)
        continue
      }
      let slice = Int32(max(1, min(50, remaining * 1000)))
      let ready = poll(&fds, nfds_t(fds.count), termination == nil ? slice : 50)
      if ready < 0 && errno == EINTR { continue }
      for entry in fds where entry.revents != 0 {
        let count = read(entry.fd, &buffer, buffer.count)
        if count <= 0 {
          if count < 0 && errno == EINTR { continue }
          open[entry.fd] = false
          continue
        }
        if entry.fd == outputPipe[0] {
          output += buffer[0..<count]
          if output.count > outputLimit {
            if termination == nil { abandon(pid) }
            throw .outputTooLarge(executable: executable, limit: outputLimit)
          }
        } else if errorOutput.count < 1 << 20 {
          errorOutput += buffer[0..<count]
        }
      }
    }
    return Captured(termination: termination ?? .exited(0), output: output, errorOutput: errorOutput)
  }

  /// Runs `executable` with dmaverify's own standard output and error (its
  /// progress goes straight to the terminal) and waits for it, at most
  /// `timeout` seconds when one is given.
  package static func runInheritingOutput(_ executable: String, _ arguments: [String], timeout: Double?) throws(Failure) -> Termination {
    let pid = try spawn(executable, arguments, output: nil, error: nil, closing: [])
    let deadline = timeout.map { now() + $0 }
    while true {
      if let ended = reap(pid, wait: false) {
        kill(-pid, SIGKILL)
        return ended
      }
      if let deadline, let timeout, now() >= deadline {
        abandon(pid)
        throw .timedOut(executable: executable, seconds: timeout, errorOutput: [])
      }
      usleep(20_000)
    }
  }

  /// The first executable called `name` in `PATH`'s directories.
  package static func executable(named name: String, environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
    let directories = (environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":")
    return directories.map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
  }

  // MARK: - Spawning

  /// Starts the child in a new process group (its pid), signals at their
  /// defaults and unblocked, stdin from `input` (nil: /dev/null);
  /// `output`/`error` nil inherit dmaverify's. The interrupt signals are
  /// blocked from before the spawn until the group is registered, so none
  /// can fall in between.
  static func spawn(
    _ executable: String, _ arguments: [String], input: Int32? = nil, output: Int32?, error: Int32?, closing: [Int32]
  ) throws(Failure) -> pid_t {
    installHandlers()
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    if let input {
      posix_spawn_file_actions_adddup2(&actions, input, 0)
    } else {
      posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    }
    if let output { posix_spawn_file_actions_adddup2(&actions, output, 1) }
    if let error { posix_spawn_file_actions_adddup2(&actions, error, 2) }
    // A descriptor dup2'ed to two of 0/1/2 is closed once, after both.
    for fd in Set(closing + [input, output, error].compactMap({ $0 })) where fd > 2 {
      posix_spawn_file_actions_addclose(&actions, fd)
    }
    // Nothing else of dmaverify's leaks into the child: an inherited
    // descriptor (a pipe's write end, a file being written) would stay
    // open as long as the child, or a child of it, lives.
    if let closeFrom { _ = closeFrom(&actions, 3) }

    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var defaults = sigset_t()
    sigemptyset(&defaults)
    for signal in forwarded + [SIGPIPE, SIGCHLD] { sigaddset(&defaults, signal) }
    var empty = sigset_t()
    sigemptyset(&empty)
    posix_spawnattr_setsigdefault(&attributes, &defaults)
    posix_spawnattr_setsigmask(&attributes, &empty)
    posix_spawnattr_setpgroup(&attributes, 0)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

    var blocked = sigset_t()
    sigemptyset(&blocked)
    for signal in forwarded { sigaddset(&blocked, signal) }
    var previous = sigset_t()
    pthread_sigmask(SIG_BLOCK, &blocked, &previous)
    defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }

    var pid = pid_t()
    let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
    defer { for pointer in argv { free(pointer) } }
    // ETXTBSY: another thread's child, between its fork and its exec,
    // still holds a descriptor that was writing this executable (a script
    // just written); it goes away within milliseconds (Linux execve(2),
    // ETXTBSY), so the spawn is tried again a few times.
    var status = posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
    for _ in 0..<20 where status == ETXTBSY {
      usleep(10_000)
      status = posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
    }
    guard status == 0 else { throw .cannotStart(executable: executable, reason: String(cString: strerror(status))) }
    register(pid)
    return pid
  }

  /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34 and later),
  /// which Swift's Glibc module does not import; nil on an older libc,
  /// whose children then inherit descriptors not marked close-on-exec.
  private static let closeFrom: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? = {
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else { return nil }
    return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
  }()

  /// The exit of `pid`, once; unregisters its group.
  static func reap(_ pid: pid_t, wait: Bool) -> Termination? {
    var status: Int32 = 0
    var result: pid_t
    repeat { result = waitpid(pid, &status, wait ? 0 : WNOHANG) } while result < 0 && errno == EINTR
    guard result == pid else { return nil }
    unregister(pid)
    // WIFEXITED / WEXITSTATUS / WTERMSIG, which Swift does not import.
    return status & 0x7f == 0 ? .exited((status >> 8) & 0xff) : .signalled(status & 0x7f)
  }

  /// Kills the child's group and reaps the child.
  static func abandon(_ pid: pid_t) {
    kill(-pid, SIGKILL)
    _ = reap(pid, wait: true)
  }

  // MARK: - Passing dmaverify's interrupts on

  /// The signals that kill the children's groups before dmaverify.
  static let forwarded: [Int32] = [SIGINT, SIGTERM, SIGHUP]

  /// Process groups of running children, 0 for a free slot; written with
  /// the interrupt signals blocked, read by the handler, which may only
  /// make async-signal-safe calls.
  private nonisolated(unsafe) static let groups: UnsafeMutablePointer<pid_t> = {
    let slots = UnsafeMutablePointer<pid_t>.allocate(capacity: slotCount)
    slots.initialize(repeating: 0, count: slotCount)
    return slots
  }()
  private static let slotCount = 64

  private static func register(_ pid: pid_t) {
    for index in 0..<slotCount where groups[index] == 0 {
      groups[index] = pid
      return
    }
  }

  private static func unregister(_ pid: pid_t) {
    blockingInterrupts {
      for index in 0..<slotCount where groups[index] == pid { groups[index] = 0 }
    }
  }

  private static func blockingInterrupts(_ body: () -> Void) {
    var blocked = sigset_t()
    sigemptyset(&blocked)
    for signal in forwarded { sigaddset(&blocked, signal) }
    var previous = sigset_t()
    pthread_sigmask(SIG_BLOCK, &blocked, &previous)
    body()
    pthread_sigmask(SIG_SETMASK, &previous, nil)
  }

  /// Installed once, on the first spawn: each forwarded signal kills
  /// every registered group, then dmaverify takes the signal's default
  /// action (it dies of it, as it would have without children). A signal
  /// dmaverify was started ignoring (a background job's SIGINT, `nohup`'s
  /// SIGHUP) stays ignored; one it inherited blocked (Foundation's
  /// `Process` passes its own mask on) is unblocked in this thread, or an
  /// interrupt would wait until the child ended.
  private static let handlers: Void = {
    var unblock = sigset_t()
    sigemptyset(&unblock)
    for signal in forwarded {
      var current = sigaction()
      sigaction(signal, nil, &current)
      if unsafeBitCast(current.__sigaction_handler.sa_handler, to: Int.self) == unsafeBitCast(SIG_IGN, to: Int.self) { continue }
      sigaddset(&unblock, signal)
      var action = sigaction()
      action.__sigaction_handler.sa_handler = { received in
        for index in 0..<ChildProcess.slotCount {
          let group = ChildProcess.groups[index]
          if group > 0 { kill(-group, SIGKILL) }
        }
        Glibc.signal(received, SIG_DFL)
        raise(received)
      }
      sigemptyset(&action.sa_mask)
      action.sa_flags = 0
      sigaction(signal, &action, nil)
    }
    pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
  }()

  private static func installHandlers() { _ = handlers }

  // MARK: - Helpers

  static func now() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
  }

  private static func errnoText() -> String { String(cString: strerror(errno)) }

  /// A child's message as one line of text: trimmed, at most 2000
  /// characters. (Callers escape it for the terminal.)
  package static func text(_ bytes: [UInt8]) -> String {
    let text = String(decoding: bytes, as: UTF8.self).trimmingWhitespace()
    return text.count > 2000 ? String(text.prefix(2000)) + "…" : text
  }

  static func secondsText(_ seconds: Double) -> String {
    seconds == seconds.rounded() && seconds < 1e15 ? String(Int(seconds)) : String(seconds)
  }
}

extension String {
  fileprivate func trimmingWhitespace() -> String {
    let scalars = unicodeScalars
    guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
      let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })
    else { return "" }
    return String(scalars[first...last])
  }
}
