import Foundation
import MMCheckpoint
import MMConfig
import MMData
import MMHDF5
import MMModel
import MMOptim
import MMTraining
import TestSupport
import XCTest

final class CheckpointTests: XCTestCase {
  var dir: URL!
  override func setUp() { dir = makeTemporaryDirectory("ckpt") }
  override func tearDown() { try? FileManager.default.removeItem(at: dir) }

  func testRoundTripKeepsParamsOptimizerStateAndPosition() throws {
    let model = ModelSpec.earlyLSTM(input: 5, hidden: 3, layers: 2, outputs: 4, steps: 2).make(maxBatch: 2)
    model.initialize(seed: 1)
    let adam = Adam(parameterCount: model.arena.count, lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0)
    for i in 0..<model.arena.count { model.arena.grads[i] = Float(i % 7) - 3 }
    adam.step(model.arena); adam.step(model.arena)
    let state = Checkpoint.State(epoch: 3, step: 17, stepInEpoch: 0, seed: 99, rngState: [1, 2, 3, UInt64.max])
    let path = dir.appendingPathComponent("c.h5").path
    try Checkpoint.write(
      to: path, arena: model.arena, optimizer: adam, normalization: ([1, 2], [3, 4]), state: state, configYAML: "a: 1\n"
    )
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["c.h5"], "no temp file left behind")

    let c = try Checkpoint.read(path: path)
    XCTAssertEqual(c.state, state)
    XCTAssertEqual(c.configYAML, "a: 1\n")
    XCTAssertEqual(c.optimizer, "adam"); XCTAssertEqual(c.optimizerStep, 2)
    XCTAssertEqual(c.normalization?.mean, [1, 2]); XCTAssertEqual(c.normalization?.std, [3, 4])
    let other = model.spec.make(maxBatch: 2)
    let adam2 = Adam(parameterCount: other.arena.count, lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0)
    try Checkpoint.loadParams(c, into: other.arena)
    try Checkpoint.loadOptimizer(c, into: adam2)
    XCTAssertEqual(other.arena.values.array, model.arena.values.array)
    for (a, b) in zip(adam.state, adam2.state) { XCTAssertEqual(a.buffer.array, b.buffer.array, a.name) }
    XCTAssertEqual(adam2.stepCount, 2)

    // /params holds PyTorch state_dict keys and shapes.
    let f = try HDF5File(path: path)
    XCTAssertEqual(try f.members(ofGroup: "/params").sorted(), model.arena.tensors.map(\.name).sorted())
    XCTAssertEqual(try f.datasetInfo("/params/fusion.lstm.weight_ih_l0").shape, [12, 5])
    XCTAssertEqual(try f.datasetInfo("/params/fusion.lstm.weight_hh_l1").shape, [12, 3])
    XCTAssertEqual(try f.datasetInfo("/params/head.weight").shape, [4, 3])
    XCTAssertEqual(try f.intAttribute("format_version", on: "/"), Checkpoint.formatVersion)
    f.close()
  }

  func testWrongModelShapeAndWrongOptimizerAreNamed() throws {
    let model = ModelSpec.earlyLSTM(input: 5, hidden: 3, layers: 1, outputs: 2, steps: 2).make(maxBatch: 2)
    let sgd = SGD(parameterCount: model.arena.count, lr: 0.1, momentum: 0.9, weightDecay: 0)
    let path = dir.appendingPathComponent("c.h5").path
    try Checkpoint.write(
      to: path, arena: model.arena, optimizer: sgd, normalization: nil,
      state: .init(epoch: 1, step: 1, stepInEpoch: 0, seed: 1, rngState: [0, 0, 0, 0]), configYAML: "")
    let c = try Checkpoint.read(path: path)
    let bigger = ModelSpec.earlyLSTM(input: 5, hidden: 4, layers: 1, outputs: 2, steps: 2).make(maxBatch: 2)
    XCTAssertThrowsError(try Checkpoint.loadParams(c, into: bigger.arena)) { e in
      XCTAssertTrue(
        "\(e)".contains("/params/fusion.lstm.weight_ih_l0 has shape [12, 5], the model needs [16, 5]"), "\(e)")
    }
    let adam = Adam(parameterCount: model.arena.count, lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0)
    XCTAssertThrowsError(try Checkpoint.loadOptimizer(c, into: adam)) { e in
      XCTAssertTrue("\(e)".contains("optimizer 'sgd'"), "\(e)")
    }
  }

  func testProvenanceAndElapsedRoundTrip() throws {
    let model = ModelSpec.earlyLSTM(input: 5, hidden: 3, layers: 1, outputs: 2, steps: 2).make(maxBatch: 2)
    let sgd = SGD(parameterCount: model.arena.count, lr: 0.1, momentum: 0.9, weightDecay: 0)
    let input = InputRecord(
      modalities: [(name: "text", features: 3, steps: 2), (name: "audio", features: 2, steps: 2)], align: "interpolate",
      normalize: "zscore", task: "multiclass", classes: 2)
    XCTAssertEqual(input.modalities.map(\.column), [0, 3])
    let provenance = Provenance(
      input: input, dataPath: "/data/d.h5",
      data: DataFingerprint(size: 1234, mtime: 1.5e9 + 0.25, schemaHash: "00ff00ff00ff00ff"),
      validationRows: [1, 4, 7], validationSeed: 9, validationFraction: 0.25)
    let state = Checkpoint.State(epoch: 2, step: 9, stepInEpoch: 3, seed: 9, rngState: [1, 2, 3, 4], elapsed: 12.5)
    let path = dir.appendingPathComponent("p.h5").path
    try Checkpoint.write(
      to: path, arena: model.arena, optimizer: sgd, normalization: nil, state: state, configYAML: "",
      provenance: provenance)
    let c = try Checkpoint.read(path: path)
    XCTAssertEqual(c.provenance, provenance)
    XCTAssertEqual(c.provenance?.version, MMTrainVersion.string)
    XCTAssertEqual(c.state, state)
    let f = try HDF5File(path: path)
    defer { f.close() }
    XCTAssertEqual(try f.stringAttribute("mmtrain_version", on: "/"), MMTrainVersion.string)
    XCTAssertEqual(try f.readInt64s("/split/validation"), [1, 4, 7])
  }

  func testDataFileIsNotACheckpoint() throws {
    let path = dir.appendingPathComponent("d.h5").path
    let f = try HDF5File(path: path, mode: .truncate)
    try f.writeInt64s("/labels", [0], shape: [1]); f.close()
    XCTAssertThrowsError(try Checkpoint.read(path: path)) { e in
      XCTAssertTrue("\(e)".contains("not an mmtrain checkpoint"), "\(e)")
    }
  }
}
