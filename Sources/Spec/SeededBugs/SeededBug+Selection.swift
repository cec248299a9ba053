#if DMAVERIFY_MUTANTS
  #if canImport(Glibc)
    import Glibc
  #elseif canImport(Darwin)
    import Darwin
  #endif

  /// The seeded bugs a piece of running code sees: a task-local set, so
  /// that tests running in parallel each seed their own; its default is the
  /// process's selection, `DMAVERIFY_SEEDED_BUGS` (names separated by
  /// commas), read once.
  ///
  /// A synchronous `withValue` also binds on a thread outside any task, so
  /// a theorem body, its symbolic run and the replay of its counterexample
  /// see the same bugs as long as they run where ``SeededBug/inject(_:)``
  /// was called; code that hops to another queue sees the process's
  /// selection.
  @usableFromInline
  package struct SeededBugs: Sendable, Equatable, CustomStringConvertible {
    @usableFromInline var bits: UInt64

    package init(_ bugs: some Sequence<SeededBug>) {
      bits = 0
      for bug in bugs { bits |= Self.bit(bug) }
    }

    /// Every case in declaration order, kept so that a bug's bit is found
    /// without building `allCases` on every hook.
    @usableFromInline static let order = SeededBug.allCases

    @usableFromInline static func bit(_ bug: SeededBug) -> UInt64 {
      1 << UInt64(order.firstIndex(of: bug)!)
    }

    @inlinable package func contains(_ bug: SeededBug) -> Bool { bits & Self.bit(bug) != 0 }

    package var bugs: [SeededBug] { SeededBug.allCases.filter(contains) }

    @usableFromInline package var description: String { bugs.isEmpty ? "none" : bugs.map(\.rawValue).joined(separator: ", ") }

    /// The bugs the running code sees.
    @TaskLocal @usableFromInline package static var active = SeededBugs.processSelection

    /// The environment variable a mutant build reads its seeded bugs from.
    package static let environmentVariable = "DMAVERIFY_SEEDED_BUGS"

    /// `DMAVERIFY_SEEDED_BUGS` parsed once. A name that is not a seeded bug
    /// ends the process with a message listing the names: running a
    /// mutation or detection benchmark with a misspelt bug would report
    /// the unmutated code as the bug's score.
    package static let processSelection: SeededBugs = {
      guard let raw = getenv(environmentVariable) else { return SeededBugs([]) }
      switch parse(String(cString: raw)) {
      case .success(let bugs): return bugs
      case .failure(let error):
        let message = Array("\(environmentVariable): \(error.description)\n".utf8)
        _ = message.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
        exit(64)
      }
    }()

    /// Names separated by commas (blanks around them ignored; an empty
    /// text is no bug).
    package static func parse(_ text: String) -> Result<SeededBugs, SelectionError> {
      var chosen: [SeededBug] = []
      for part in text.split(separator: ",", omittingEmptySubsequences: false) {
        let name = part.trimmingBlanks
        if name.isEmpty { if text.contains(",") { return .failure(SelectionError(name: "")) } else { continue } }
        guard let bug = SeededBug(rawValue: name) else { return .failure(SelectionError(name: name)) }
        chosen.append(bug)
      }
      return .success(SeededBugs(chosen))
    }

    /// A name that names no seeded bug.
    package struct SelectionError: Error, CustomStringConvertible {
      package let name: String
      package var description: String {
        (name.isEmpty ? "an empty name" : "unknown seeded bug '\(name)'")
          + "; expected names separated by commas, from: " + SeededBug.allCases.map(\.rawValue).joined(separator: ", ")
      }
    }
  }

  extension SeededBug {
    /// Runs `body` with these bugs seeded (and no other), on this task or
    /// thread.
    package static func inject<R, E: Error>(_ bugs: [SeededBug], _ body: () throws(E) -> R) throws(E) -> R {
      let result: Result<R, E> = SeededBugs.$active.withValue(SeededBugs(bugs)) {
        do throws(E) { return .success(try body()) } catch { return .failure(error) }
      }
      return try result.get()
    }

    /// Runs `body` with this bug seeded (and no other).
    package func inject<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
      try Self.inject([self], body)
    }
  }

  extension Substring {
    fileprivate var trimmingBlanks: String {
      String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
  }
#endif
