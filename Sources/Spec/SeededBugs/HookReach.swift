#if DMAVERIFY_MUTANTS
  #if canImport(Glibc)
    import Glibc
  #elseif canImport(Darwin)
    import Darwin
  #endif
  import Synchronization

  /// Which seeded bugs' hooks a piece of running code evaluated, seeded or
  /// not: what lets `scripts/mutation-score` prove, for each bug, only the
  /// theorems that can see it.
  ///
  /// The argument: a hook is the only place a seeded bug changes the code
  /// (``SeededBug/isActive`` is read nowhere else), and a theorem's run is
  /// deterministic given its seed (the script also fixes Swift's hashing
  /// with `SWIFT_DETERMINISTIC_HASHING`). A run that never evaluates bug
  /// B's hook therefore runs step for step the same with B seeded, so its
  /// result is the unseeded one. Recording is on only when the process's
  /// environment names ``environmentVariable``; it is then what every hook
  /// costs, one relaxed atomic OR.
  ///
  /// A hook evaluated where no scope is bound (on a thread that
  /// ``recording(scope:_:)`` did not bind) is kept in ``unattributed``: a reader
  /// must treat such a bug as reaching every scope, never as reaching none.
  @usableFromInline
  package final class HookReach: Sendable {
    private let bits = Atomic<UInt64>(0)

    package init() {}

    /// The bugs whose hooks ran in this scope, in declaration order.
    package var bugs: [SeededBug] {
      let seen = bits.load(ordering: .acquiring)
      return SeededBug.allCases.filter { seen & SeededBugs.bit($0) != 0 }
    }

    /// The scope hooks on this task or thread report to.
    @TaskLocal @usableFromInline static var current: HookReach?

    /// Hooks evaluated outside every bound scope.
    package static let unattributed = HookReach()

    /// The environment variable that turns recording on; its value is the
    /// file the prove command writes the record to.
    package static let environmentVariable = "DMAVERIFY_HOOK_REACH"

    /// Read once: whether hooks record themselves.
    @usableFromInline static let isRecording = getenv(environmentVariable) != nil

    /// Where the record goes, when recording.
    package static var outputPath: String? {
      getenv(environmentVariable).map { String(cString: $0) }
    }

    @usableFromInline static func note(_ bug: SeededBug) {
      (current ?? unattributed).bits.bitwiseOr(SeededBugs.bit(bug), ordering: .relaxed)
    }

    /// The scopes recorded by name, for the record a run writes.
    private static let scopes = Mutex<[String: HookReach]>([:])

    /// Runs `body` with its hooks reported to the scope named `name`
    /// (made on first use; a second run under one name adds to it).
    package static func recording<R>(scope name: String, _ body: () throws -> R) rethrows -> R {
      let scope = scopes.withLock { scopes in
        if let earlier = scopes[name] { return earlier }
        let fresh = HookReach()
        scopes[name] = fresh
        return fresh
      }
      return try $current.withValue(scope) { try body() }
    }

    /// One line per recorded scope, `name<TAB>bug,bug` (an empty list when
    /// it evaluated no hook), sorted by name, then `*<TAB>bug,bug` for the
    /// unattributed hooks.
    package static var record: String {
      let lines = scopes.withLock { scopes in
        scopes.keys.sorted().map { "\($0)\t" + scopes[$0]!.bugs.map(\.rawValue).joined(separator: ",") }
      }
      return (lines + ["*\t" + unattributed.bugs.map(\.rawValue).joined(separator: ",")]).joined(separator: "\n") + "\n"
    }
  }
#endif

extension SeededBug {
  /// Runs `body`, attributing the hooks it evaluates to `scope` when this
  /// process records hook reach (``HookReach``); otherwise, and in builds
  /// without the hooks, just runs it.
  package static func attributingHooks<R>(to scope: String, _ body: () throws -> R) rethrows -> R {
    #if DMAVERIFY_MUTANTS
      guard HookReach.isRecording else { return try body() }
      return try HookReach.recording(scope: scope, body)
    #else
      return try body()
    #endif
  }

  /// When this process records hook reach: the file it names; nil
  /// otherwise (and in builds without the hooks).
  package static var hookReachPath: String? {
    #if DMAVERIFY_MUTANTS
      HookReach.outputPath
    #else
      nil
    #endif
  }

  /// The record to write there (``HookReach/record``).
  package static var hookReachRecord: String {
    #if DMAVERIFY_MUTANTS
      HookReach.record
    #else
      ""
    #endif
  }
}
