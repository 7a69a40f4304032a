import Foundation
import TestSupport
import XCTest

/// Gated fusion's trained checkpoint loads into its PyTorch module (zoo_modules.GatedFusion inside
/// MultimodalModel) with `load_state_dict(strict=True)` and gives the Swift logits, as
/// CheckpointPyTorchTests checks for the other fusions (its case writer and python runner are reused).
final class ZooGatedTests: MultiRankTestCase {
  func testGatedCheckpointLoadsIntoPyTorchStrict() throws {
    let data = try TestData.synth(samples: 48, to: path("data.h5"))
    var config = RunConfig.small(data: data, runDir: path("run"))
    config["train.epochs"] = "1"
    config["model.fusion"] = "gated"
    config["model.cell"] = "lstm_peephole"
    config["model.bidirectional"] = "true"
    config["model.pooling"] = "attention"
    config["model.fusion_size"] = "5"
    config["model.hidden"] = "{text: 5, audio: 4, vision: 3}"
    config["data.steps"] = "{text: 6, audio: 12, vision: 4}"
    let configPath = try config.write(to: path("gated.yaml"))
    let run = try mmtrain(ranks: 2, ["train", "--config", configPath])
    XCTAssertEqual(run.status, 0, run.transcript)
    guard run.status == 0 else { return }

    let helper = CheckpointPyTorchTests(name: "ZooGatedTests.helper", testClosure: { _ in })
    helper.dir = dir
    let json = try helper.writeCase(
      config: configPath, data: data, checkpoint: path("run") + "/latest", to: path("case.json"), seed: 9)
    let probe = helper.python(["-c", "import torch, h5py"])
    guard probe.status == 0 else {
      throw XCTSkip("python3 cannot import torch and h5py; the PyTorch strict load of gated fusion was not checked")
    }
    let check = helper.python([fixturesDirectory().appendingPathComponent("check_zoo_checkpoint.py").path, json])
    print(check.output)
    XCTAssertEqual(check.status, 0, check.output)
    XCTAssertTrue(
      check.output.contains("gated fusion") && check.output.contains("load_state_dict(strict=True)"), check.output)
  }
}
