import Foundation
import MMHDF5
import TestSupport
import XCTest

/// The paths that once gave a wrong result or lost data with exit 0 (issue 22): a cv resumed with other
/// settings, two runs in one run directory, an output path that was a directory, a grouped cv whose inner
/// split mixed subjects, inference on data without the lengths the model was trained with. Each test failed
/// on the code before the fix.
final class TrustTests: MultiRankTestCase {
  func data(_ samples: Int = 60) throws -> String {
    let p = path("data.h5")
    if !FileManager.default.fileExists(atPath: p) { _ = try TestData.synth(samples: samples, to: p) }
    return p
  }

  func cvConfig(_ runDir: String, epochs: Int = 1) throws -> RunConfig {
    var c = RunConfig.small(data: try data(), runDir: runDir)
    c["train.epochs"] = "\(epochs)"
    c["cv.folds"] = "3"
    return c
  }

  func report(_ dir: String) throws -> [String: Any] {
    let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/report.json"))
    return try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
  }

  /// The same data without /lengths and without the class_names attribute.
  func strippedCopy() throws -> String {
    let source = try HDF5File(path: try data(), mode: .readOnly)
    defer { source.close() }
    return try TestData.write(path("stripped.h5")) { out in
      for name in try source.members(ofGroup: "/modalities") {
        let ds = "/modalities/\(name)"
        try out.writeFloats(ds, try source.readFloats(ds), shape: try source.datasetInfo(ds).shape)
      }
      try out.writeInt64s(
        "/labels", try source.readInt64s("/labels"), shape: [try source.datasetInfo("/labels").shape[0]])
    }
  }

  // MARK: - 1. cv --resume / --fold follow the resume rule

  func testCVResumeRefusesChangedSettingsAndTheReportTellsWhatEachFoldUsed() throws {
    let run = path("cv-x")
    let c = try cvConfig(run).write(to: path("cv.yaml"))
    let first = try mmtrain(
      ranks: 1, ["cv", "--config", c, "--fold", "0", "--set", "train.epochs=1", "--progress", "lines"])
    XCTAssertEqual(first.status, 0, first.transcript)
    for change in ["model.hidden=16", "cv.folds=4", "cv.strategy=stratified", "data.steps=4"] {
      let r = try mmtrain(ranks: 1, ["cv", "--resume", run, "--set", change])
      XCTAssertEqual(r.status, 64, "\(change) must be refused: \(r.transcript)")
      let key = String(change.split(separator: "=")[0])
      XCTAssertEqual(r.errorLines.count, 1, r.transcript)
      XCTAssertTrue(r.errorLines.first?.contains("\(key) = ") ?? false, r.transcript)
      XCTAssertFalse(FileManager.default.fileExists(atPath: run + "/fold-1"), "nothing trained by a refused resume")
    }
    let job = try mmtrain(ranks: 1, ["cv", "--config", c, "--fold", "1", "--set", "model.hidden=16"])
    XCTAssertEqual(job.status, 64, "a --fold job with another model: \(job.transcript)")
    // A key that only shapes the future may change; the report says which folds used which value.
    let resumed = try mmtrain(ranks: 2, ["cv", "--resume", run, "--set", "train.epochs=2", "--progress", "lines"])
    XCTAssertEqual(resumed.status, 0, resumed.transcript)
    guard resumed.status == 0 else { return }
    let r = try report(run + "/report")
    let warnings = try XCTUnwrap(r["warnings"] as? [String])
    XCTAssertTrue(warnings.contains { $0.contains("train.epochs: 1 (fold 0); 2 (folds 1, 2)") }, "\(warnings)")
    XCTAssertTrue(resumed.stderr.contains("the folds trained with different train.epochs"), resumed.transcript)
    XCTAssertTrue((r["config"] as? String)?.contains("hidden: 8") ?? false, "the config the folds trained with")
    XCTAssertEqual(r["title"] as? String, "cv-x (cv.yaml)")
  }

  // MARK: - 2. one run per run directory

  func testASecondRunInTheSameRunDirectoryIsRefused() throws {
    let run = path("busy")
    var c = RunConfig.small(data: try data(), runDir: run)
    c["train.epochs"] = "100000"  // runs until the signal below, however fast the machine
    let config = try c.write(to: path("busy.yaml"))
    var second: MPIRun? = nil
    var cvJob: MPIRun? = nil
    let first = try mmtrain(
      ranks: 2, ["train", "--config", config, "--progress", "lines"], timeout: 300,
      action: (
        "epoch 2/100000",
        { pid in
          second = try? self.mmtrain(ranks: 1, ["train", "--config", config])
          cvJob = try? self.mmtrain(ranks: 0, ["cv", "--config", config, "--fold", "0"])
          kill(pid, SIGUSR1)  // the first run stops with a checkpoint
        }
      ))
    XCTAssertEqual(first.status, 75, first.transcript)
    let refused = try XCTUnwrap(second)
    XCTAssertEqual(refused.status, 1, refused.transcript)
    XCTAssertEqual(refused.errorLines.count, 1, refused.transcript)
    XCTAssertTrue(
      refused.errorLines.first?.contains(
        "is in use by another run (mmtrain train --config \(config) --progress lines, pid ") ?? false,
      refused.transcript)
    let fold = try XCTUnwrap(cvJob)
    XCTAssertEqual(fold.status, 1, "a cv fold job in a running train's directory: \(fold.transcript)")
    XCTAssertTrue(fold.stderr.contains("is in use by another run"), fold.transcript)
    // The first run's record is whole: one line per epoch, in order, and its run goes on with --resume.
    let epochs = try RunOutputs.metrics(runDir: run).map { $0["epoch"] as? Int ?? 0 }
    XCTAssertGreaterThanOrEqual(epochs.count, 2)
    XCTAssertEqual(epochs, Array(1...max(1, epochs.count)))
    XCTAssertFalse(FileManager.default.fileExists(atPath: run + "/fold-0"), "the refused fold job wrote nothing")
  }

  // MARK: - 6. outputs never replace a directory

  func testOutputPathsNeverDeleteWhatIsThere() throws {
    let run = path("run")
    let config = try RunConfig.small(data: try data(), runDir: run).write(to: path("c.yaml"))
    XCTAssertEqual(try mmtrain(ranks: 1, ["train", "--config", config]).status, 0)
    let out = path("out.csv")
    try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: false)
    try "notes".write(toFile: out + "/notes.txt", atomically: true, encoding: .utf8)
    let p = try mmtrain(ranks: 1, ["predict", "--checkpoint", run, "--data", try data(), "--out", out])
    XCTAssertEqual(p.status, 64, p.transcript)
    XCTAssertTrue(p.stderr.contains("--out \(out) is a directory"), p.transcript)
    XCTAssertEqual(try String(contentsOfFile: out + "/notes.txt", encoding: .utf8), "notes")
    let h5 = path("out.h5")
    try FileManager.default.createDirectory(atPath: h5, withIntermediateDirectories: false)
    XCTAssertEqual(
      try mmtrain(ranks: 0, ["predict", "--checkpoint", run, "--data", try data(), "--out", h5]).status, 64)
    XCTAssertEqual(try mmtrain(ranks: 0, ["synth", "--out", h5, "--samples", "4"]).status, 64)
    XCTAssertTrue(FileManager.default.fileExists(atPath: h5), "synth left the directory")
    let missing = try mmtrain(
      ranks: 0, ["predict", "--checkpoint", run, "--data", try data(), "--out", path("nowhere/p.csv")])
    XCTAssertEqual(missing.status, 64, missing.transcript)
    XCTAssertTrue(missing.stderr.contains("--out's folder \(path("nowhere")) does not exist"), missing.transcript)
    try "x".write(toFile: path("file"), atomically: true, encoding: .utf8)
    let evaluate = try mmtrain(
      ranks: 0, ["evaluate", "--checkpoint", run, "--data", try data(), "--out", path("file")])
    XCTAssertEqual(evaluate.status, 64, evaluate.transcript)
    XCTAssertEqual(try String(contentsOfFile: path("file"), encoding: .utf8), "x")
    // report takes report.json itself without doubling the path
    let rerender = try mmtrain(ranks: 0, ["report", run + "/report/report.json"])
    XCTAssertEqual(rerender.status, 0, rerender.transcript)
    XCTAssertTrue(rerender.stdout.contains("report: \(run)/report/report.md"), rerender.transcript)
  }

  // MARK: - 7. grouped inner split

  func testGroupedCVHoldsOutWholeSubjectsInItsInnerSplit() throws {
    let run = path("grouped")
    var c = try cvConfig(run)
    c["cv.strategy"] = "group"
    c["data.validation_fraction"] = "0.25"
    let r = try mmtrain(ranks: 2, ["cv", "--config", try c.write(to: path("g.yaml")), "--progress", "lines"])
    XCTAssertEqual(r.status, 0, r.transcript)
    guard r.status == 0 else { return }
    let file = try HDF5File(path: try data(), mode: .readOnly)
    let groups = try file.readInt64s("/groups")
    file.close()
    let manifest =
      try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: run + "/folds.json")))
      as! [String: Any]
    let folds = manifest["folds"] as! [[String: [Int]]]
    for k in 0..<3 {
      let split =
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(run)/fold-\(k)/split.json")))
        as! [String: Any]
      let validation = Set(split["validation_rows"] as! [Int])
      XCTAssertEqual(split["split"] as? String, "group")
      XCTAssertFalse(validation.isEmpty)
      let inner = folds[k]["train"]!.filter { !validation.contains($0) }
      let shared = Set(validation.map { groups[$0] }).intersection(inner.map { groups[$0] })
      XCTAssertTrue(
        shared.isEmpty, "fold \(k): subjects \(shared.sorted()) in both the inner training and validation rows")
    }
    // train with data.split: group
    var t = RunConfig.small(data: try data(), runDir: path("grouped-train"))
    t["data.split"] = "group"
    XCTAssertEqual(try mmtrain(ranks: 1, ["train", "--config", try t.write(to: path("gt.yaml"))]).status, 0)
    let split =
      try JSONSerialization.jsonObject(
        with: Data(contentsOf: URL(fileURLWithPath: path("grouped-train") + "/split.json"))) as! [String: Any]
    let validation = Set(split["validation_rows"] as! [Int])
    let trainGroups = Set((0..<groups.count).filter { !validation.contains($0) }.map { groups[$0] })
    XCTAssertTrue(Set(validation.map { groups[$0] }).isDisjoint(with: trainGroups))
  }

  // MARK: - 5. inference on data without lengths; class names; labels

  func testInferenceSaysWhatWouldSilentlyChangeTheResult() throws {
    let run = path("run")
    let config = try RunConfig.small(data: try data(), runDir: run).write(to: path("c.yaml"))
    XCTAssertEqual(try mmtrain(ranks: 1, ["train", "--config", config]).status, 0)
    let stripped = try strippedCopy()
    let warned = try mmtrain(ranks: 2, ["evaluate", "--checkpoint", run, "--data", stripped, "--out", path("ev")])
    XCTAssertEqual(warned.status, 0, warned.transcript)
    for modality in ["audio", "text", "vision"] {
      XCTAssertEqual(occurrences(of: "no lengths for modality '\(modality)'", in: warned.stderr), 1, warned.transcript)
    }
    XCTAssertTrue(warned.stderr.contains("mean valid length of "), warned.transcript)
    let strict = try mmtrain(ranks: 2, ["evaluate", "--checkpoint", run, "--data", stripped, "--strict"])
    XCTAssertEqual(strict.status, 1, strict.transcript)
    XCTAssertEqual(strict.errorLines.count, 1, strict.transcript)
    // the checkpoint's class names name the columns, whatever the data file holds
    let p = try mmtrain(ranks: 1, ["predict", "--checkpoint", run, "--data", stripped, "--out", path("p.csv")])
    XCTAssertEqual(p.status, 0, p.transcript)
    let header = try String(contentsOfFile: path("p.csv"), encoding: .utf8).split(separator: "\n")[0]
    XCTAssertEqual(header, "index,group,fold,label,prediction,prob_different,prob_same")
    // evaluate without labels points to predict
    let unlabelled = try TestData.write(path("unlabelled.h5")) { out in
      try out.writeFloats("/modalities/text", [Float](repeating: 0, count: 4 * 6 * 8), shape: [4, 6, 8])
      try out.writeFloats("/modalities/audio", [Float](repeating: 0, count: 4 * 12 * 8), shape: [4, 12, 8])
      try out.writeFloats("/modalities/vision", [Float](repeating: 0, count: 4 * 6 * 2), shape: [4, 6, 2])
    }
    let e = try mmtrain(ranks: 1, ["evaluate", "--checkpoint", run, "--data", unlabelled])
    XCTAssertEqual(e.status, 1, e.transcript)
    XCTAssertTrue(e.errorLines.first?.contains("mmtrain predict --checkpoint") ?? false, e.transcript)
    // a classifier on float labels is refused, naming both
    let floats = try TestData.write(path("floats.h5")) { out in
      try out.writeFloats("/modalities/text", [Float](repeating: 0, count: 4 * 6 * 8), shape: [4, 6, 8])
      try out.writeFloats("/modalities/audio", [Float](repeating: 0, count: 4 * 12 * 8), shape: [4, 12, 8])
      try out.writeFloats("/modalities/vision", [Float](repeating: 0, count: 4 * 6 * 2), shape: [4, 6, 2])
      try out.writeDoubles("/labels", [0.5, 1.5, 2.5, 3.5], shape: [4])
    }
    let mismatch = try mmtrain(ranks: 1, ["evaluate", "--checkpoint", run, "--data", floats])
    XCTAssertEqual(mismatch.status, 1, mismatch.transcript)
    XCTAssertTrue(
      mismatch.errorLines.first?.contains("is a multiclass classifier, but /labels") ?? false, mismatch.transcript)
  }

  // MARK: - evaluate the k fold models; refit

  func testEvaluateOnACVRunIsTheEnsembleOfItsFolds() throws {
    let run = path("cv-e")
    var c = try cvConfig(run, epochs: 2)
    c["cv.refit"] = "true"
    let r = try mmtrain(ranks: 2, ["cv", "--config", try c.write(to: path("e.yaml")), "--progress", "lines"])
    XCTAssertEqual(r.status, 0, r.transcript)
    guard r.status == 0 else { return }
    XCTAssertTrue(r.stdout.contains("refit: one model on all 60 samples for 2 epochs"), r.transcript)
    XCTAssertTrue(FileManager.default.fileExists(atPath: run + "/final/latest"))
    XCTAssertEqual(try RunOutputs.metrics(runDir: run + "/final").count, 2)
    let e = try mmtrain(ranks: 2, ["evaluate", "--checkpoint", run, "--data", try data()])
    XCTAssertEqual(e.status, 0, e.transcript)
    for k in 0..<3 { XCTAssertTrue(e.stdout.contains("fold-\(k) "), e.transcript) }
    XCTAssertTrue(e.stdout.contains("ensemble (mean of probabilities)"), e.transcript)
    XCTAssertTrue(FileManager.default.fileExists(atPath: run + "/evaluate-data/report.json"), e.transcript)
    // predict's ensemble = the mean of the fold models' own predictions
    XCTAssertEqual(
      try mmtrain(ranks: 1, ["predict", "--checkpoint", run, "--data", try data(), "--out", path("ens.csv")]).status, 0)
    var mean: [[Double]] = []
    for k in 0..<3 {
      let out = path("f\(k).csv")
      XCTAssertEqual(
        try mmtrain(ranks: 1, ["predict", "--checkpoint", "\(run)/fold-\(k)", "--data", try data(), "--out", out])
          .status, 0)
      let probs = try csvProbabilities(out)
      mean = mean.isEmpty ? probs.map { $0.map { $0 / 3 } } : zip(mean, probs).map { zip($0, $1).map { $0 + $1 / 3 } }
    }
    for (a, b) in zip(try csvProbabilities(path("ens.csv")), mean) {
      for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: 1e-8) }
    }
  }

  func csvProbabilities(_ path: String) throws -> [[Double]] {
    try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").dropFirst().map { line in
      line.split(separator: ",", omittingEmptySubsequences: false).suffix(2).map { Double($0)! }
    }
  }

  func testRefitTrainsForTheFoldsMeanBestEpoch() throws {
    let run = path("cv-r")
    var c = try cvConfig(run, epochs: 6)
    c["cv.refit"] = "true"
    c["train.early_stopping"] = "{metric: val_loss, patience: 1}"
    let r = try mmtrain(ranks: 1, ["cv", "--config", try c.write(to: path("r.yaml")), "--progress", "lines"])
    XCTAssertEqual(r.status, 0, r.transcript)
    guard r.status == 0 else { return }
    var best: [Int] = []
    for k in 0..<3 {
      let outcome =
        try JSONSerialization.jsonObject(
          with: Data(contentsOf: URL(fileURLWithPath: "\(run)/fold-\(k)/fold-result.json"))) as! [String: Any]
      best.append(try XCTUnwrap(outcome["best_epoch"] as? Int))
    }
    let epochs = max(1, Int((Double(best.reduce(0, +)) / 3).rounded()))
    XCTAssertTrue(r.stdout.contains("for \(epochs) epochs (the folds' mean best epoch)"), r.transcript)
    XCTAssertEqual(try RunOutputs.metrics(runDir: run + "/final").count, epochs)
  }
}
