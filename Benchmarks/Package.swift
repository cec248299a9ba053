// swift-tools-version:6.1
import PackageDescription

// The benchmarks live in their own package so that the main build and CI
// never build package-benchmark (DESIGN.md §6). Run from this directory:
//
//     swift package --allow-writing-to-package-directory benchmark
let package = Package(
  name: "dmaverify-benchmarks",
  platforms: [.macOS(.v13)],
  dependencies: [
    .package(name: "dmaverify", path: ".."),
    .package(url: "https://github.com/ordo-one/package-benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
  ],
  targets: [
    .executableTarget(
      name: "P2MBenchmarks",
      dependencies: [
        .product(name: "Benchmark", package: "package-benchmark"),
        .product(name: "P2MImpl", package: "dmaverify"),
        .product(name: "Spec", package: "dmaverify"),
      ],
      path: "Benchmarks/P2MBenchmarks",
      plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]
    ),
    .executableTarget(
      name: "SMMUBenchmarks",
      dependencies: [
        .product(name: "Benchmark", package: "package-benchmark"),
        .product(name: "SMMUImpl", package: "dmaverify"),
        .product(name: "P2MImpl", package: "dmaverify"),
        .product(name: "Spec", package: "dmaverify"),
      ],
      path: "Benchmarks/SMMUBenchmarks",
      plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]
    ),
    .executableTarget(
      name: "DMABenchmarks",
      dependencies: [
        .product(name: "Benchmark", package: "package-benchmark"),
        .product(name: "Spec", package: "dmaverify"),
      ],
      path: "Benchmarks/DMABenchmarks",
      plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]
    ),
  ]
)
