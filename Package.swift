// swift-tools-version:6.1
import PackageDescription

let package = Package(
  name: "dmaverify",
  products: [
    .executable(name: "dmaverify", targets: ["dmaverify"])
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
    .target(name: "Solver", dependencies: ["CZ3"]),
    /// The executable specification and the word protocol it is written in.
    .target(name: "Spec"),
    /// The symbolic instance of the word protocol: Spec's words as Z3 bit-vectors.
    .target(name: "SymbolicWord", dependencies: ["Solver", "Spec"]),
    /// The command-line tool.
    .executableTarget(
      name: "dmaverify",
      dependencies: [
        "Spec", "Solver", "SymbolicWord",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]
    ),

    // MARK: - Tests

    .testTarget(name: "SolverTests", dependencies: ["Solver"]),
    .testTarget(name: "SpecTests", dependencies: ["Spec"]),
    .testTarget(name: "SymbolicWordTests", dependencies: ["SymbolicWord", "Spec", "Solver"]),
    .testTarget(name: "dmaverifyTests", dependencies: ["dmaverify"]),
  ]
)
