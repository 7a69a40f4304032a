import Foundation
import TestSupport
import XCTest

/// `dist.compress: fp16` rounds every gradient to float16 before the all-reduce and sums in float16. Its accuracy
/// cost, measured: the same 2-rank run with and without it, replicas compared every step.
final class CompressionTests: MultiRankTestCase {
  /// Stated: after 4 epochs (32 SGD steps of 12 rows, hidden 8) the float16 run's parameters stay within 2e-3 (max relative
  /// difference per tensor) of the float32 run's, and its final train loss within 1e-3. Measured when written:
  /// 2.0e-4 and 6e-6 (the test prints both).
  let parameterTolerance = 2e-3, lossTolerance = 1e-3

  func testFP16AllreduceStaysCloseToFloat32() throws {
    let data = try TestData.synth(samples: 120, to: path("data.h5"))
    var params: [String: [String: [Float]]] = [:], losses: [String: Double] = [:]
    for (name, ranks, compress) in [
      ("f32", 2, "none"), ("f16", 2, "fp16"), ("f32-n1", 1, "none"), ("f16-n1", 1, "fp16"),
    ] {
      let runDir = path("run-\(name)")
      var config = RunConfig.small(data: data, runDir: runDir)
      config["train.epochs"] = "4"
      config["dist.compress"] = compress
      config["dist.world_invariant"] = "false"  // the float32 all-reduce that fp16 rounds (the key is on by default)
      config["dist.check_every"] = "1"  // every rank must hold the same float16 sums: replicas compared every step
      let run = try mmtrain(ranks: ranks, ["train", "--config", try config.write(to: path("\(name).yaml"))])
      XCTAssertEqual(run.status, 0, run.transcript)
      guard run.status == 0 else { return }
      params[name] = try RunOutputs.tensors("/params", of: runDir + "/latest")
      losses[name] = try XCTUnwrap(RunOutputs.metrics(runDir: runDir).last?["train_loss"] as? Double)
    }
    var largest = 0.0
    for (tensor, expected) in params["f32"]!.sorted(by: { $0.key < $1.key }) {
      let actual = try XCTUnwrap(params["f16"]![tensor])
      let difference = maxRelativeDifference(actual, expected)
      largest = max(largest, difference)
      XCTAssertLessThan(difference, parameterTolerance, "/params/\(tensor): fp16 all-reduce vs float32")
    }
    XCTAssertGreaterThan(
      largest, 0, "fp16 left every parameter bit-identical: nothing was rounded (is dist.compress read?)")
    let (l32, l16) = (losses["f32"]!, losses["f16"]!)
    XCTAssertTrue(isClose(l16, l32, rtol: lossTolerance, atol: 0), "train_loss: fp16 \(l16), float32 \(l32)")
    print("fp16 all-reduce: max relative parameter difference \(largest), train_loss \(l16) vs \(l32)")
    // One rank sends nothing, so nothing is rounded: the same run bit for bit.
    XCTAssertEqual(params["f16-n1"]!, params["f32-n1"]!, "one rank: dist.compress must change nothing")
  }
}
