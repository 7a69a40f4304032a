import Foundation
import TestSupport
import XCTest

/// Architecture mistakes: one clear line each, on several ranks.
final class ZooErrorTests: MultiRankTestCase {
  func testPerModalityMapNamingAnUnknownModality() throws {
    let data = try dataFile()
    try expectFailure(
      ranks: 2,
      [
        "--config",
        try config(data: data, ["model.fusion": "late", "model.hidden": "{text: 4, audio: 4, vision: 4, face: 4}"]),
      ],
      saying: "model.hidden names modality 'face', which the run does not use")
    try expectFailure(
      ranks: 2, ["--config", try config(data: data, ["model.fusion": "late", "model.hidden": "{text: 4, audio: 4}"])],
      saying: "model.hidden has no entry for modality 'vision'")
  }

  func testStepsMapWithEarlyFusion() throws {
    try expectFailure(
      ranks: 2, ["--config", try config(data: try dataFile(), ["data.steps": "{text: 4, audio: 8, vision: 4}"])],
      saying: "data.steps is a per-modality map, but model.fusion is early", status: 64)
  }

  func testFusionSizeAndModalityDropoutOutOfRange() throws {
    let data = try dataFile()
    try expectFailure(
      ranks: 2, ["--config", try config(data: data, ["model.fusion": "tensor", "model.fusion_size": "0"])],
      saying: "model.fusion_size must be at least 1", status: 64)
    try expectFailure(
      ranks: 2, ["--config", try config(data: data, ["train.modality_dropout": "1"])],
      saying: "train.modality_dropout must be in [0, 1)", status: 64)
  }

  /// A checkpoint of another architecture names the tensor that does not fit.
  func testCheckpointOfAnotherArchitecture() throws {
    let data = try dataFile()
    let source = try config(data: data, ["checkpoint.dir": RunConfig.quoted(path("early"))], name: "early.yaml")
    let trained = try mmtrain(ranks: 2, ["train", "--config", source])
    XCTAssertEqual(trained.status, 0, trained.transcript)
    let late = try config(
      data: data, ["model.fusion": "late", "checkpoint.dir": RunConfig.quoted(path("late"))], name: "late.yaml")
    try expectFailure(
      ranks: 2, ["--config", late, "--init", path("early") + "/latest"],
      saying: "/params/encoders.audio.lstm.weight_ih_l0 is missing")
  }
}
