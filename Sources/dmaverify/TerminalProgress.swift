import Dispatch
import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// A progress line on stderr for runs that take minutes (`prove`, `check`,
/// `search`, `minimize`), shown only when stderr is a terminal: a person
/// waiting wants to see where the run is, while pipes, files and CI logs
/// must get exactly the messages they got before.
///
/// The line is rewritten in place (carriage return, erase to end of line)
/// and erased when the run ends, so nothing of it stays in the scrollback.
final class TerminalProgress: @unchecked Sendable {
  private let enabled: Bool
  private let lock = NSLock()
  private var timer: DispatchSourceTimer?

  /// - Parameter enabled: whether to draw; by default, whether stderr is a
  ///   terminal (`isatty`).
  init(enabled: Bool = isatty(STDERR_FILENO) == 1) {
    self.enabled = enabled
  }

  /// Replaces the progress line with `text`.
  func show(_ text: String) {
    guard enabled else { return }
    lock.withLock { FileHandle.standardError.write(Data("\r\u{1B}[K\(text)".utf8)) }
  }

  /// Shows `label` with the seconds elapsed, once a second, for steps that
  /// report no progress of their own, until ``finish()``.
  func tick(_ label: String) {
    guard enabled else { return }
    let start = ContinuousClock.now
    let timer = DispatchSource.makeTimerSource(queue: .global())
    timer.schedule(deadline: .now() + 1, repeating: 1)
    timer.setEventHandler { [weak self] in
      self?.show("[\(label)] \((ContinuousClock.now - start).components.seconds) s …")
    }
    lock.withLock { self.timer = timer }
    timer.resume()
  }

  /// Runs `body` with `label` and the seconds elapsed ticking on a
  /// terminal's stderr, erased when `body` returns or throws.
  static func ticking<T>(_ label: String, _ body: () throws -> T) rethrows -> T {
    let progress = TerminalProgress()
    progress.tick(label)
    defer { progress.finish() }
    return try body()
  }

  /// Stops any ticking and erases the line.
  func finish() {
    guard enabled else { return }
    lock.withLock {
      timer?.cancel()
      timer = nil
      FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }
  }
}
