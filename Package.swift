// swift-tools-version:6.1
import PackageDescription

let package = Package(
  name: "dmaverify",
  products: [
    .executable(name: "dmaverify", targets: ["dmaverify"]),
    // Libraries for the separate Benchmarks/ package (DESIGN.md §6), which
    // depends on this one by path.
    .library(name: "Spec", targets: ["Spec"]),
    .library(name: "P2MImpl", targets: ["P2MImpl"]),
    .library(name: "SMMUImpl", targets: ["SMMUImpl"]),
    .library(name: "DeviceTree", targets: ["DeviceTree"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2")
  ],
  targets: [
    // MARK: - Implementation details

    /// The only door to libz3. Debian's libz3-dev ships z3.pc (DESIGN.md §6).
    .systemLibrary(
      name: "CZ3",
      pkgConfig: "z3",
      providers: [.apt(["libz3-dev"])]
    ),

    // MARK: - Modules

    /// Swift values over the Z3 C API; knows nothing of Xen.
    /// Also reaches a second solver, Bitwuzla, through a helper script it
    /// embeds (SMTLibOracle.swift); SystemIO runs the helper.
    .target(name: "Solver", dependencies: ["CZ3", "SystemIO"], resources: [.embedInCode("bitwuzla-oracle.py")]),
    /// The executable specification and the word protocol it is written in.
    .target(
      name: "Spec",
      swiftSettings: [
        // DMAVERIFY_MUTANTS makes the seeded bugs selectable (SeededBug.swift):
        // on in debug builds (tests), off in release, where every hook is
        // the constant false. The mutation and time-to-detect builds pass
        // `-Xswiftc -DDMAVERIFY_MUTANTS`.
        .define("DMAVERIFY_MUTANTS", .when(configuration: .debug))
      ]),
    /// The scenario language and its interpreter: the statements, the
    /// parser and printer of their text form, and the machine that runs
    /// them on the specification (declaration, then the running system).
    .target(name: "Scenario", dependencies: ["Spec"]),
    /// The symbolic instance of the word protocol: Spec's words as Z3 bit-vectors.
    .target(name: "SymbolicWord", dependencies: ["Solver", "Spec"]),
    /// Xen's p2m as Xen implements it: LPAE tables in a page pool, blocks,
    /// splits, break-before-make, a VMID-tagged TLB. Checked against Spec.
    .target(
      name: "P2MImpl",
      dependencies: ["Spec"],
      swiftSettings: [
        // P2M_INTERNAL_CHECKS compiles in `XenP2M.checkInvariants()` (table
        // reachability, pool ownership, descriptor encodings, TLB coherence).
        // It walks every live table, so it invalidates the performance of
        // anything that calls it; it is on for debug builds (tests, the
        // fuzzer's replay build) and off in release (benchmarks). A fuzz
        // build in release turns it on with `-Xswiftc -DP2M_INTERNAL_CHECKS`.
        .define("P2M_INTERNAL_CHECKS", .when(configuration: .debug))
      ]
    ),
    /// The SMMU as Xen drives it: stream matching (SMR/S2CR or STEs),
    /// context banks, a VMID-tagged IOTLB, walking P2MImpl's tables.
    .target(name: "SMMUImpl", dependencies: ["Spec", "P2MImpl"]),
    /// The claims' vocabulary, without Z3: the DMA matrix's cells and the
    /// expectations file, shared by the proofs and the fuzzer (whose binary
    /// must not need libz3 on a fuzzing engine's runners).
    .target(name: "Claims", dependencies: ["Spec"]),
    /// The theorem catalogue: each theorem runs the program's own generic
    /// code on Z3 terms and reports proved, refuted (replayed) or unknown.
    .target(name: "Proofs", dependencies: ["Spec", "Scenario", "Claims", "Solver", "SymbolicWord", "P2MImpl", "SMMUImpl"]),
    /// Flattened device trees (DTB) read in Swift; the SMMUs, RAM and DMA
    /// masters of a board, and the scenario they make.
    .target(
      name: "DeviceTree", dependencies: ["Spec", "Scenario", "SystemIO"],
      // Which compatibles master the bus: a data file a reader can check,
      // embedded so that the binary needs no resource bundle beside it.
      resources: [.embedInCode("dma-bindings.txt")]),
    /// dmaverify's contact with the operating system: programs it runs
    /// (dtc, the fuzzing build, libFuzzer) with a timeout, in their own
    /// process group killed with them; input files' types checked before
    /// a read that could block; output files written by create-and-rename.
    .target(name: "SystemIO"),
    /// Fuzz input decoding and encoding, the differential and DMA oracles,
    /// the minimizer: everything of the fuzzer that tests can reach without
    /// a fuzzing toolchain (DESIGN.md §5).
    .target(name: "FuzzCore", dependencies: ["Spec", "Scenario", "P2MImpl", "SMMUImpl", "Claims"]),
    /// The libFuzzer target (DESIGN.md §6 recipe): built with
    /// `-sanitize=fuzzer -DFUZZING` it is the fuzzer; built normally it
    /// replays files and directories.
    .executableTarget(name: "fuzz", dependencies: ["FuzzCore", "Spec"]),
    /// The command-line tool.
    .executableTarget(
      name: "dmaverify",
      dependencies: [
        "Spec", "Scenario", "Solver", "SymbolicWord", "Claims", "Proofs", "DeviceTree", "FuzzCore", "SystemIO",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]
    ),

    // MARK: - Tests

    /// What several test targets share: the repository's root.
    .target(name: "TestSupport", path: "Tests/TestSupport"),

    .testTarget(name: "SolverTests", dependencies: ["Solver"]),
    .testTarget(name: "SpecTests", dependencies: ["Spec"]),
    .testTarget(name: "ScenarioTests", dependencies: ["TestSupport", "Scenario", "Spec"]),
    .testTarget(name: "SymbolicWordTests", dependencies: ["SymbolicWord", "Spec", "Solver"]),
    .testTarget(name: "P2MImplTests", dependencies: ["P2MImpl", "Spec"]),
    .testTarget(name: "SMMUImplTests", dependencies: ["SMMUImpl", "P2MImpl", "Spec", "SymbolicWord", "Solver"]),
    .testTarget(name: "ProofsTests", dependencies: ["Proofs", "Claims", "Spec", "Solver", "SymbolicWord", "P2MImpl", "SMMUImpl"]),
    .testTarget(name: "FuzzCoreTests", dependencies: ["TestSupport", "FuzzCore", "Spec", "Scenario", "P2MImpl", "SMMUImpl", "Claims"]),
    .testTarget(name: "dmaverifyTests", dependencies: ["TestSupport", "dmaverify"]),
    .testTarget(name: "SystemIOTests", dependencies: ["SystemIO"]),
    .testTarget(
      name: "DeviceTreeTests", dependencies: ["DeviceTree", "Spec", "Scenario"],
      // Fixtures are read through #filePath, by these tests and by
      // dmaverifyTests, so they are not bundled as resources.
      exclude: ["Fixtures"]),
  ]
)
