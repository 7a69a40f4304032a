import Foundation
import MMCheckpoint
import MMConfig
import MMDistributed
import MMHDF5
import MMTraining
import TestSupport
import XCTest

/// Every training control against PyTorch float64: Tests/Fixtures/make_controls_reference.py trains the
/// early-fusion LSTM for 20 full-batch steps per control (each optimiser, each schedule with warm-up,
/// clipping, L1, class weights, label smoothing, each regression loss) and stores the data, the initial
/// weights, the lr / loss / pre-clip gradient norm of every step and the final weights. The Swift trainer
/// starts from the same weights through --init (a checkpoint that holds them) and must land on the same ones.
///
/// Tolerance: 1e-4 relative to the largest magnitude of each final tensor (and of each step's loss and
/// gradient norm). The Swift side computes in float32, the reference in float64, so the tolerance must sit
/// well above what float32 arithmetic alone drifts in 20 steps. The generator measures that drift with
/// PyTorch's own float32 run from the same start (`torch_float32_drift`, 1.6e-7 to 6.9e-7 for these cases);
/// the Swift run lands within 4.7e-7 of float64 (printed below), 200 times inside the tolerance.
/// Why the Adam family needs this care: Adam, AdamW and RMSprop divide by sqrt(v) + eps, which turns a
/// gradient element into an update of size ~lr whatever its scale, so an element's update carries the
/// RELATIVE error of its own gradient (large for elements near float32 noise), where SGD scales it by |g|.
/// In an unstable regime that is amplified step after step: RMSprop at lr 0.01, alpha 0.9 on this model
/// drifts 3.6e-4 in PyTorch float32 itself, so no float32 implementation could meet 1e-4 there; the cases use
/// settings where the float32 trajectory is stable (drift < 1e-6), which the stored drift documents.
/// (Computing 1 − β2 in float32 instead of rounding the double value biased v by 1.3e-5 and gave 2.7e-6.)
final class ControlsReferenceTests: XCTestCase {
  struct Tensor: Decodable { let shape: [Int]; let data: [Double] }
  struct Case: Decodable {
    let name: String, kind: String, outputs: Int
    let set: [String]
    let x: [Double], lengths: [Int], labels: [Double]
    let `init`: [String: Tensor], final: [String: Tensor]
    let lr: [Double], loss: [Double], grad_norm: [Double]
    let torch_float32_drift: Double
  }
  struct Fixture: Decodable { let steps: Int, N: Int, T: Int, D: Int, H: Int; let cases: [Case] }

  let tolerance = 1e-4
  var dir: URL!
  override func setUp() { dir = makeTemporaryDirectory("controls") }
  override func tearDown() { try? FileManager.default.removeItem(at: dir) }

  func testEveryControlMatchesPyTorch() throws {
    let url = fixturesDirectory().appendingPathComponent("controls_reference.json")
    let f = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    XCTAssertEqual(f.cases.count, 20)
    var report: [String] = []
    for c in f.cases { report.append(try check(c, f)) }
    print(
      "controls vs PyTorch float64 (max relative difference over final tensors / per-step loss / grad_norm):\n"
        + report.joined(separator: "\n"))
  }

  /// Trains one case and compares; returns its line for the printout.
  func check(_ c: Case, _ f: Fixture) throws -> String {
    let caseDir = dir.appendingPathComponent(c.name)
    try FileManager.default.createDirectory(at: caseDir, withIntermediateDirectories: true)
    let data = caseDir.appendingPathComponent("data.h5").path
    let file = try HDF5File(path: data, mode: .truncate)
    try file.writeFloats("/modalities/x", c.x.map(Float.init), shape: [f.N, f.T, f.D])
    try file.writeInt64s("/lengths", c.lengths.map(Int64.init), shape: [f.N])
    if c.kind == "regression" {
      try file.writeFloats("/labels", c.labels.map(Float.init), shape: [f.N, c.outputs])
    } else {
      try file.writeInt64s("/labels", c.labels.map { Int64($0) }, shape: [f.N])
    }
    try file.flush(); file.close()

    let common = [
      "data.path=\(data)", "data.steps=\(f.T)", "data.align=truncate", "data.normalize=none",
      "data.validation_fraction=0",
      "model.hidden=\(f.H)", "task.kind=\(c.kind)", "train.batch_size=\(f.N)", "train.epochs=\(f.steps)",
      "checkpoint.every_epochs=\(f.steps)",
    ]
    func config(_ run: String) throws -> TrainConfig {
      try TrainConfig.parse(
        yaml: "", source: "controls.yaml",
        overrides: common + c.set + ["checkpoint.dir=\(caseDir.appendingPathComponent(run).path)"])
    }

    // --init: a checkpoint holding the reference's initial weights.
    let seedRun = try TrainingSession(config: try config("init"), comm: SingleProcessCommunicator())
    for t in seedRun.model.arena.tensors {
      let given = try XCTUnwrap(c.`init`[t.name], "\(c.name): no initial \(t.name)")
      XCTAssertEqual(given.shape, t.shape, "\(c.name): \(t.name)")
      seedRun.model.arena.setValues(given.data.map(Float.init), of: t)
    }
    let initPath = caseDir.appendingPathComponent("init.h5").path
    try Checkpoint.write(
      to: initPath, arena: seedRun.model.arena, optimizer: seedRun.optimizer, normalization: nil,
      state: .init(epoch: 0, step: 0, stepInEpoch: 0, seed: 0, rngState: []), configYAML: "")
    var options = TrainingSession.Options()
    options.initFrom = try Checkpoint.read(path: initPath)
    options.progress = .lines
    let t = TrainLoop(
      try TrainingSession(config: try config("run"), comm: SingleProcessCommunicator(), options: options))
    try t.run()

    XCTAssertEqual(t.history.count, f.steps, "\(c.name): one step per epoch")
    var lossDiff = 0.0, normDiff = 0.0
    for (s, epoch) in t.history.enumerated() {
      XCTAssertTrue(
        isClose(epoch.lr, c.lr[s], rtol: 1e-12, atol: 0), "\(c.name) step \(s): lr \(epoch.lr) vs \(c.lr[s])")
      lossDiff = max(lossDiff, abs(epoch.trainLoss - c.loss[s]) / abs(c.loss[s]))
      normDiff = max(normDiff, abs(epoch.gradNorm - c.grad_norm[s]) / abs(c.grad_norm[s]))
    }
    XCTAssertLessThan(lossDiff, tolerance, "\(c.name): per-step loss")
    XCTAssertLessThan(normDiff, tolerance, "\(c.name): per-step grad_norm")
    var paramDiff = 0.0
    for tensor in t.session.model.arena.tensors {
      let expected = try XCTUnwrap(c.final[tensor.name], "\(c.name): no final \(tensor.name)")
      let d = maxRelativeDifference(t.session.model.arena.values(of: tensor), expected.data)
      XCTAssertLessThan(d, tolerance, "\(c.name): final \(tensor.name)")
      paramDiff = max(paramDiff, d)
    }
    XCTAssertLessThan(
      c.torch_float32_drift, tolerance / 10,
      "\(c.name): the case must be float32-stable for the tolerance to be meaningful")
    return String(
      format: "  %-30@ params %.2e  loss %.2e  grad_norm %.2e  (torch float32 drift %.1e)", c.name as NSString,
      paramDiff, lossDiff, normDiff, c.torch_float32_drift)
  }
}
