import Foundation
import MMData
import TestSupport
import XCTest

/// Each reference system of the model zoo reaches the accuracy its PyTorch module reaches on the same data and
/// recipe (within 0.03), and prints the same parameter count. Tests/Fixtures/make_examples_reference.py trains
/// the PyTorch modules (zoo_modules.py) on `mmtrain synth --example` data and writes examples_reference.json:
/// sizes, seeds, recipe, PyTorch's test accuracy (mean over 3 seeds) and parameter count. Here mmtrain trains
/// configs/examples/<system>.yaml on the same training file (every row: no validation split) and
/// `mmtrain evaluate` scores the same test file.
final class ReferenceAccuracyTests: MultiRankTestCase {
  struct Reference: Decodable {
    let example: String, train_samples: Int, train_seed: UInt64, test_samples: Int, test_seed: UInt64
    let epochs: Int, lr: Double, batch_size: Int, torch_accuracy: Double, torch_parameters: Int
    let sets: [String: String]  // config keys changed for a debug build (smaller widths), PyTorch's too
  }

  func check(_ system: String, file: StaticString = #filePath, line: UInt = #line) throws {
    let url = fixturesDirectory().appendingPathComponent("examples_reference.json")
    let all = try JSONDecoder().decode([String: Reference].self, from: Data(contentsOf: url))
    let r = try XCTUnwrap(all[system], "no \(system) in examples_reference.json", file: file, line: line)
    let example = try XCTUnwrap(SynthExample(rawValue: r.example))
    let train = path("train.h5"), test = path("test.h5"), run = path("run")
    try example.write(samples: r.train_samples, seed: r.train_seed, to: train)
    try example.write(samples: r.test_samples, seed: r.test_seed, to: test)
    let root = packageRoot().path
    let config = "\(root)/configs/examples/\(system).yaml"
    let sets =
      ([
        "data.path=\(train)", "data.validation_fraction=0", "train.epochs=\(r.epochs)", "train.lr=\(r.lr)",
        "train.batch_size=\(r.batch_size)", "checkpoint.dir=\(run)",
      ] + r.sets.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }).flatMap { ["--set", $0] }
    let trained = try mmtrain(ranks: 2, ["train", "--config", config] + sets, timeout: 120, file: file, line: line)
    XCTAssertEqual(trained.status, 0, trained.transcript, file: file, line: line)
    XCTAssertTrue(
      trained.stdout.contains(" \(r.torch_parameters) parameters"),
      "\(system): the parameter count printed is PyTorch's \(r.torch_parameters)\n\(trained.transcript)", file: file,
      line: line)
    let scored = try mmtrain(
      ranks: 2, ["evaluate", "--checkpoint", run, "--data", test, "--out", path("eval")], file: file, line: line)
    XCTAssertEqual(scored.status, 0, scored.transcript, file: file, line: line)
    let report = try JSONSerialization.jsonObject(
      with: Data(contentsOf: URL(fileURLWithPath: path("eval/report.json"))))
    let folds = (report as? [String: Any])?["folds"] as? [[String: Any]]
    let metrics = (folds?.first?["metrics"] as? [String: Any])?["classification"] as? [String: Any]
    let accuracy = try XCTUnwrap(metrics?["accuracy"] as? Double, "no accuracy in report.json", file: file, line: line)
    print(
      String(
        format: "reference system %@: test accuracy mmtrain %.4f, PyTorch %.4f (mean of 3 seeds); %d parameters",
        system,
        accuracy, r.torch_accuracy, r.torch_parameters))
    XCTAssertLessThanOrEqual(
      abs(accuracy - r.torch_accuracy), 0.03, "\(system): mmtrain \(accuracy), PyTorch \(r.torch_accuracy)", file: file,
      line: line)
  }

  func testSystemA() throws { try check("a") }
  func testSystemB() throws { try check("b") }
  func testSystemC() throws { try check("c") }
  func testSystemCWithGRUs() throws { try check("c-gru") }
  func testSystemD() throws { try check("d") }
  func testSystemE() throws { try check("e") }
}
