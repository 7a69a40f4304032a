import Foundation
import MMData
import MallocInterposerSwift
import MMConfig
import MMDistributed
import MMTraining
import TestSupport
import XCTest

/// A training step allocates nothing: malloc calls are counted (ordo-one/malloc-interposer, linked into the
/// test binary, so it replaces malloc for the whole process) over steps in the middle of an epoch, after a
/// warm-up epoch. Covers batch gathering, forward, loss, backward, the gradient exchange and the optimiser.
final class AllocationTests: XCTestCase {
  var dir: URL!
  override func setUp() { dir = makeTemporaryDirectory("alloc") }
  override func tearDown() { try? FileManager.default.removeItem(at: dir) }

  /// The counter works here: an allocation between hook and unhook is seen (else the test below proves nothing).
  func testCounterSeesAnAllocation() {
    MallocInterposerSwift.initialize()
    MallocInterposerSwift.hook()
    let p = UnsafeMutablePointer<Float>.allocate(capacity: 1000)
    MallocInterposerSwift.unhook()
    p.deallocate()
    XCTAssertGreaterThan(
      MallocInterposerSwift.getStatistics().mallocCount, 0, "the malloc interposer is not active in this process")
  }

  func testTrainingStepsAllocateNothing() throws {
    let systemE = dir.appendingPathComponent("e.h5").path  // an image and token ids (a trained embedding)
    try SynthExample.e.write(samples: 120, seed: 4, to: systemE)
    for extra in [
      ["model.fusion=early", "model.layers=2"], ["model.fusion=late", "model.pooling=mean", "model.dropout=0.2"],
      ["model.fusion=early", "model.hidden=[8, 4]", "model.layers=2", "model.head_hidden=[6, 4]", "model.dropout=0.2"],
      ["task.class_weights=balanced", "train.label_smoothing=0.1"],
      [
        "data.path=\(systemE)", "data.steps={text: 40}", "data.align=pad", "model.fusion=late", "task.kind=binary",
        "model.hidden={text: 8}", "model.encoders={image: {kind: conv, channels: [3]}}",
        "model.embed={text: {freeze: false}}",
      ],
      // dist.world_invariant: the chunks, their exact sums and packings, the per-chunk ledger.
      ["model.fusion=late", "model.dropout=0.2", "dist.world_invariant=true"],
    ] {
      let data = try writeSynthetic(dir, samples: 120)
      let run = dir.appendingPathComponent("run-\(extra.joined(separator: "-"))")
      // 90 training rows, batch 8: 12 steps per epoch; count steps 15...20 (inside epoch 2).
      let config = try makeConfig(data: data, run: run, ["train.epochs=2", "train.batch_size=8"] + extra)
      var options = TrainingSession.Options()
      options.progress = .lines
      options.afterStep = { step in
        if step == 15 { AllocationCount.start() }
        if step == 20 { AllocationCount.stop() }
      }
      try TrainLoop(try TrainingSession(config: config, comm: SingleProcessCommunicator(), options: options)).run()
      XCTAssertEqual(
        AllocationCount.ours, 0, "\(extra): mallocs in 5 training steps, first from:\n\(AllocationCount.firstTrace)")
    }
  }
}

/// Counts allocations between `start` and `stop`, telling apart those made inside OpenBLAS (its small-matrix
/// kernels take scratch memory per call: a library choice, reported apart) from everything else.
enum AllocationCount {
  nonisolated(unsafe) static var ours = 0
  nonisolated(unsafe) static var openBLAS = 0
  nonisolated(unsafe) static var firstTrace = ""

  static func start() {
    ours = 0; openBLAS = 0; firstTrace = ""
    MallocInterposerSwift.initialize()
    MallocInterposerSwift.setAllocationHook { _ in
      MallocInterposerSwift.unhook()  // the classification below allocates
      let stack = Thread.callStackSymbols
      if stack.contains(where: { $0.contains("libopenblas") }) {
        AllocationCount.openBLAS += 1
      } else {
        AllocationCount.ours += 1
        if AllocationCount.firstTrace.isEmpty { AllocationCount.firstTrace = stack.prefix(12).joined(separator: "\n") }
      }
      MallocInterposerSwift.hook()
    }
    MallocInterposerSwift.hook()
  }

  static func stop() {
    MallocInterposerSwift.unhook()
    MallocInterposerSwift.setAllocationHook(nil)
  }
}
