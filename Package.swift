// swift-tools-version:6.0
// mmtrain: data-parallel LSTM training over MPI on HDF5 multimodal sequences.
//
// Targets follow the data: HDF5 file -> Data (shards, resampling, normalisation) -> Model (LSTM fwd/bwd over
// one parameter arena) -> Distributed (gradient all-reduce) -> Optim -> Checkpoint -> Training (the loop,
// config) -> mmtrain (CLI only).
import Foundation
import PackageDescription

// Release builds compile the Swift code for the build machine's CPU (`-target-cpu native`, as -march=native
// does), so the point-wise gate math, the loss, the optimiser and the exact gradient sums of
// dist.world_invariant use its widest vectors (AVX2 or AVX-512: 8 or 16 floats instead of SSE2's 4), with
// bit-identical results (no fast-math; element-wise loops). The binary then
// needs that CPU's instruction set where it runs. `MMTRAIN_PORTABLE=1 swift build -c release` builds for the
// architecture's baseline (any x86-64), `MMTRAIN_TARGET_CPU=haswell` for a named CPU (the "Running on a cluster" article).
let targetCPU: String? = {
  let env = ProcessInfo.processInfo.environment
  if env["MMTRAIN_PORTABLE"] == "1" { return nil }
  return env["MMTRAIN_TARGET_CPU"].flatMap { $0.isEmpty ? nil : $0 } ?? "native"
}()
// -fno-math-errno: sqrt (Adam, RMSprop, norms) compiles to the sqrt instruction, which vectorises, instead of a
// call that may set errno (nothing here reads errno; sqrt is exact either way).
let hostCPU: [SwiftSetting] = [.unsafeFlags(["-Xcc", "-fno-math-errno"])]
  + (targetCPU.map { [.unsafeFlags(["-target-cpu", $0], .when(configuration: .release))] } ?? [])
// The packed-weight micro-kernel (C, MMKernels) is always optimised (debug builds too: the tests train with it);
// it carries its own AVX-512, AVX2 and SSE2 versions and picks one at run time, whatever the build's target.
let kernelC: [CSetting] = [.unsafeFlags(["-O3"])]

let package = Package(
  name: "mmtrain",
  products: [
    // MARK: - Public products
    .executable(name: "mmtrain", targets: ["mmtrain"]),
    .executable(name: "cellbench", targets: ["cellbench"]),  // a benchmark, not a test: Tests/Fixtures/bench_cells.py
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
    // Tests only: counts malloc calls, to check that a training step allocates nothing.
    .package(url: "https://github.com/ordo-one/malloc-interposer", from: "1.6.1"),
    // Docs only: `swift package generate-documentation --target mmtrain` builds Sources/mmtrain/Documentation.docc.
    .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
  ],
  targets: [
    // MARK: - System libraries (pkg-config; shim.h exposes the C macros Swift cannot import)
    .systemLibrary(
      name: "CMPI", path: "Sources/CMPI", pkgConfig: "ompi-c",
      providers: [.apt(["libopenmpi-dev", "openmpi-bin"])]),
    .systemLibrary(
      name: "CHDF5", path: "Sources/CHDF5", pkgConfig: "hdf5-serial",
      providers: [.apt(["libhdf5-dev"])]),
    .systemLibrary(
      name: "CDeflate", path: "Sources/CDeflate", pkgConfig: "libdeflate",
      providers: [.apt(["libdeflate-dev"])]),
    .systemLibrary(
      name: "COpenBLAS", path: "Sources/COpenBLAS", pkgConfig: "openblas",
      providers: [.apt(["libopenblas-dev"])]),

    // MARK: - Implementation (one module per room the data passes through)
    .target(name: "MMCore"),  // the one error type and exit codes, the console, TaskKind: what every room shares
    .target(name: "MMKernels", cSettings: kernelC),  // C: the recurrent steps' packed-weight products; malloc tuning; the SIGBUS guard of
    // mapped data files (data.mmap)
    .target(name: "MMTensor", dependencies: ["MMCore", "COpenBLAS", "MMKernels"], swiftSettings: hostCPU),
    .target(name: "MMHDF5", dependencies: ["MMCore", "CHDF5", "CDeflate"]),
    .target(name: "MMDistributed", dependencies: ["MMCore", "MMTensor", "CMPI"], swiftSettings: hostCPU),  // ranks: MPI, the watchdog, every exchange
    .target(
      name: "MMData", dependencies: ["MMCore", "MMHDF5", "MMTensor", "MMDistributed", "MMKernels"], swiftSettings: hostCPU),
    .target(name: "MMModel", dependencies: ["MMCore", "MMTensor"], swiftSettings: hostCPU),
    .target(name: "MMOptim", dependencies: ["MMCore", "MMModel"], swiftSettings: hostCPU),
    .target(name: "MMEval", dependencies: ["MMCore", "MMTensor"]),  // folds, metrics, reports (MMTensor for the seeded RNG)
    .target(
      name: "MMConfig",
      dependencies: ["MMCore", "MMData", "MMModel", "MMOptim", "MMEval", "MMDistributed", .product(name: "Yams", package: "Yams")]),
    .target(name: "MMCheckpoint", dependencies: ["MMCore", "MMHDF5", "MMModel", "MMOptim", "MMData"]),
    .target(
      name: "MMTraining",
      dependencies: ["MMCore", "MMConfig", "MMData", "MMModel", "MMOptim", "MMDistributed", "MMCheckpoint", "MMTensor", "MMEval"],
      swiftSettings: hostCPU),
    .target(
      name: "MMCrossValidation",  // k-fold orchestration: the manifest, fold groups, merge, refit, the fold ensemble
      dependencies: ["MMCore", "MMTraining", "MMConfig", "MMCheckpoint", "MMData", "MMDistributed", "MMEval", "MMHDF5"]),
    .executableTarget(
      name: "mmtrain",
      dependencies: [
        "MMCore", "MMTraining", "MMCrossValidation", "MMConfig", "MMCheckpoint", "MMData", "MMDistributed", "MMEval", "MMHDF5", "MMTensor",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]),

    .executableTarget(
      name: "cellbench", dependencies: ["MMModel", "MMTensor", "MMDistributed", "MMCore"], swiftSettings: hostCPU),

    // MARK: - Tests (one target per room; MultiRankTests launch the built binary under mpirun)
    .systemLibrary(name: "CZlib", path: "Tests/CZlib", pkgConfig: "zlib"),  // PNG decoding in the report rendering test
    .target(  // the tests' shared fixtures: tolerances, batches, small data sets and runs
      name: "TestSupport", dependencies: ["MMCore", "MMTensor", "MMModel", "MMData", "MMConfig", "MMDistributed", "MMTraining"],
      path: "Tests/TestSupport"),
    .testTarget(name: "TensorTests", dependencies: ["MMTensor", "TestSupport"]),
    .testTarget(name: "HDF5Tests", dependencies: ["MMCore", "MMHDF5", "TestSupport"]),
    .testTarget(name: "DataTests", dependencies: ["MMCore", "MMData", "MMHDF5", "MMDistributed", "MMConfig", "TestSupport"]),
    .testTarget(name: "ModelTests", dependencies: ["MMCore", "MMModel", "MMOptim", "MMTensor", "TestSupport"]),
    .testTarget(name: "ConfigTests", dependencies: ["MMEval", "MMOptim", "MMModel", "MMData", "MMCore", "MMConfig", "TestSupport"]),
    .testTarget(name: "TrainingTests", dependencies: [
      "MMTraining", "MMCheckpoint", "MMConfig", "MMCore", "MMData", "MMDistributed", "MMModel", "MMOptim", "MMHDF5",
      "MMTensor", "TestSupport",
      .product(name: "MallocInterposerSwift", package: "malloc-interposer"),
    ]),
    .testTarget(name: "EvalTests", dependencies: ["MMCore", "MMEval", "TestSupport", "CZlib"]),
    .testTarget(name: "MultiRankTests", dependencies: ["MMHDF5", "MMData", "MMCheckpoint", "MMConfig", "MMModel", "MMTensor", "MMTraining", "TestSupport"]),
  ],
  swiftLanguageModes: [.v5]
)
