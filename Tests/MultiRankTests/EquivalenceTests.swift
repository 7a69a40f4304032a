import Foundation
import TestSupport
import XCTest

/// Data parallelism must not change the math: the global batch is the same whichever rank owns its rows,
/// so 4 ranks train the same model as 1, up to the order in which the gradient all-reduce sums floats
/// (`dist.world_invariant: false`; with it on, the default, WorldInvariantTests asserts the same bits).
final class EquivalenceTests: MultiRankTestCase {
  /// Stated tolerance: float32 sums in a different order over 2 epochs of 4 steps.
  let tolerance = 1e-4

  func testFourRanksTrainTheSameModelAsOne() throws {
    // N = 50 does not split evenly over 4 ranks (13, 13, 12, 12), and 40 training rows make the last global
    // batch of each epoch short (12, 12, 12, 4): uneven shards and a partial batch are both exercised.
    // The 4-rank run is made twice: with the batch balancer (rows moved so every rank processes 3 of a batch of
    // 12; BatchBalance.swift) and without it (MMTRAIN_BALANCE=0: each rank takes the rows it owns).
    let data = try TestData.synth(samples: 50, to: path("data.h5"))
    var runs: [String: (run: MPIRun, dir: String)] = [:]
    for (name, ranks, balance) in [("n1", 1, "1"), ("n4", 4, "1"), ("n4-own-rows", 4, "0")] {
      let runDir = path("run-\(name)")
      var small = RunConfig.small(data: data, runDir: runDir)
      small["dist.world_invariant"] = "false"  // the float all-reduce and the balancer (WorldInvariantTests: on)
      let config = try small.write(to: path("config-\(name).yaml"))
      let run = try mmtrain(ranks: ranks, ["train", "--config", config], environment: ["MMTRAIN_BALANCE": balance])
      XCTAssertEqual(run.status, 0, run.transcript)
      runs[name] = (run, runDir)
    }
    let one = runs["n1"]!
    guard runs.values.allSatisfy({ $0.run.status == 0 }) else { return }
    let reference = try RunOutputs.tensors("/params", of: one.dir + "/latest")
    XCTAssertFalse(reference.isEmpty, "the checkpoint holds no /params")
    let metricsOne = try RunOutputs.metrics(runDir: one.dir)
    XCTAssertEqual(metricsOne.count, 2)
    XCTAssertEqual(metricsOne.last?["world_size"] as? Int, 1)
    XCTAssertEqual(metricsOne.last?["balance_moved"] as? Int, 0, "one rank owns every row: nothing to move")
    // Only rank 0 prints: one line per epoch, not one per rank.
    XCTAssertEqual(one.run.stdoutLines(startingWith: "epoch ").count, 2, one.run.transcript)

    for name in ["n4", "n4-own-rows"] {
      let four = runs[name]!
      XCTAssertEqual(four.run.stdoutLines(startingWith: "epoch ").count, 2, four.run.transcript)
      let parallel = try RunOutputs.tensors("/params", of: four.dir + "/latest")
      XCTAssertEqual(Set(parallel.keys), Set(reference.keys))
      for (tensor, expected) in reference.sorted(by: { $0.key < $1.key }) {
        guard let actual = parallel[tensor], actual.count == expected.count else {
          XCTFail("\(name): /params/\(tensor): missing or of another size in the 4-rank checkpoint"); continue
        }
        let difference = maxRelativeDifference(actual, expected)
        XCTAssertLessThan(difference, tolerance, "\(name): /params/\(tensor) differs between 1 and 4 ranks")
      }
      let metricsFour = try RunOutputs.metrics(runDir: four.dir)
      XCTAssertEqual(metricsFour.count, 2)
      XCTAssertEqual(metricsFour.last?["world_size"] as? Int, 4, "\(name): the 4-rank run did not run on 4 ranks")
      let lossOne = try XCTUnwrap(metricsOne.last?["train_loss"] as? Double)
      let lossFour = try XCTUnwrap(metricsFour.last?["train_loss"] as? Double)
      XCTAssertTrue(
        isClose(lossFour, lossOne, rtol: tolerance, atol: 0),
        "\(name): train_loss: 4 ranks \(lossFour), 1 rank \(lossOne)")
      let moved = try XCTUnwrap(
        metricsFour.last?["balance_moved"] as? Int, "\(name): metrics.jsonl has no balance_moved")
      if name == "n4" {
        XCTAssertGreaterThan(
          moved, 0, "random batches of 12 over 4 shards never split 3/3/3/3 in an epoch: rows must move")
      } else {
        XCTAssertEqual(moved, 0, "MMTRAIN_BALANCE=0 moves no rows")
      }
    }
  }
}
