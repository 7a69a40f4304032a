import Foundation
import TestSupport
import XCTest

/// Data parallelism must not change the math: the global batch is the same whichever rank owns its rows,
/// so 4 ranks train the same model as 1, up to the order in which the gradient all-reduce sums floats.
final class EquivalenceTests: MultiRankTestCase {
  /// Stated tolerance: float32 sums in a different order over 2 epochs of 4 steps.
  let tolerance = 1e-4

  func testFourRanksTrainTheSameModelAsOne() throws {
    // N = 50 does not split evenly over 4 ranks (13, 13, 12, 12), and 40 training rows make the last global
    // batch of each epoch short (12, 12, 12, 4): uneven shards and a partial batch are both exercised.
    let data = try TestData.synth(samples: 50, to: path("data.h5"))
    var runs: [Int: (run: MPIRun, dir: String)] = [:]
    for ranks in [1, 4] {
      let runDir = path("run-n\(ranks)")
      let config = try RunConfig.small(data: data, runDir: runDir).write(to: path("config-n\(ranks).yaml"))
      let run = try mmtrain(ranks: ranks, ["train", "--config", config])
      XCTAssertEqual(run.status, 0, run.transcript)
      runs[ranks] = (run, runDir)
    }
    let (one, four) = (runs[1]!, runs[4]!)
    guard one.run.status == 0, four.run.status == 0 else { return }

    // Only rank 0 prints: one line per epoch, not one per rank.
    XCTAssertEqual(four.run.stdoutLines(startingWith: "epoch ").count, 2, four.run.transcript)
    XCTAssertEqual(one.run.stdoutLines(startingWith: "epoch ").count, 2, one.run.transcript)

    let reference = try RunOutputs.tensors("/params", of: one.dir + "/latest")
    let parallel = try RunOutputs.tensors("/params", of: four.dir + "/latest")
    XCTAssertFalse(reference.isEmpty, "the checkpoint holds no /params")
    XCTAssertEqual(Set(parallel.keys), Set(reference.keys))
    for (name, expected) in reference.sorted(by: { $0.key < $1.key }) {
      guard let actual = parallel[name], actual.count == expected.count else {
        XCTFail("/params/\(name): missing or of another size in the 4-rank checkpoint"); continue
      }
      let difference = maxRelativeDifference(actual, expected)
      XCTAssertLessThan(difference, tolerance, "/params/\(name) differs between 1 and 4 ranks")
    }

    let metricsOne = try RunOutputs.metrics(runDir: one.dir), metricsFour = try RunOutputs.metrics(runDir: four.dir)
    XCTAssertEqual(metricsOne.count, 2); XCTAssertEqual(metricsFour.count, 2)
    XCTAssertEqual(metricsOne.last?["world_size"] as? Int, 1)
    XCTAssertEqual(metricsFour.last?["world_size"] as? Int, 4, "the 4-rank run did not run on 4 ranks")
    let lossOne = try XCTUnwrap(metricsOne.last?["train_loss"] as? Double)
    let lossFour = try XCTUnwrap(metricsFour.last?["train_loss"] as? Double)
    XCTAssertTrue(isClose(lossFour, lossOne, rtol: tolerance, atol: 0), "train_loss: 4 ranks \(lossFour), 1 rank \(lossOne)")
  }
}
