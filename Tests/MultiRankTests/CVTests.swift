import Foundation
import MMData
import MMHDF5
import TestSupport
import XCTest

/// `mmtrain cv`, `evaluate` and `predict` under mpirun: world-size independence, parallel fold groups,
/// one-job-per-fold plus merge, resume after a signal, no leakage of test rows into the normalisation,
/// and the bad-input lines.
final class CVTests: MultiRankTestCase {
  /// 61 samples: not divisible by 2, 3 or 4 ranks, so exact evaluation without padding is exercised.
  func cvConfig(runDir: String, samples: Int = 61, epochs: Int = 2) throws -> RunConfig {
    let data = path("data.h5")
    if !FileManager.default.fileExists(atPath: data) { _ = try TestData.synth(samples: samples, to: data) }
    var c = RunConfig.small(data: data, runDir: runDir)
    c["train.epochs"] = "\(epochs)"
    c["cv.folds"] = "3"
    c["cv.strategy"] = "stratified"
    c["cv.seed"] = "5"
    c["report.ablation"] = "true"
    return c
  }

  func report(_ runDir: String) throws -> [String: Any] {
    let data = try Data(contentsOf: URL(fileURLWithPath: runDir + "/report/report.json"))
    return try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
  }

  /// Per fold: the classification metrics' scalars.
  func foldMetrics(_ runDir: String) throws -> [[String: Double]] {
    let folds = try XCTUnwrap(try report(runDir)["folds"] as? [[String: Any]])
    return folds.map { f in
      let m = (f["metrics"] as! [String: Any])["classification"] as! [String: Any]
      return m.compactMapValues { ($0 as? NSNumber)?.doubleValue }
    }
  }

  func assertClose(_ a: [[String: Double]], _ b: [[String: Double]], rtol: Double, _ what: String) {
    XCTAssertEqual(a.count, b.count, what)
    for (x, y) in zip(a, b) {
      XCTAssertEqual(Set(x.keys), Set(y.keys), what)
      for (k, v) in x { XCTAssertTrue(isClose(v, y[k]!, rtol: rtol, atol: rtol), "\(what): \(k) \(v) vs \(y[k]!)") }
    }
  }

  func testWorldSizeParallelFoldsAndFoldJobsGiveTheSameResults() throws {
    let one = path("cv-1"), four = path("cv-4"), parallel = path("cv-par"), jobs = path("cv-jobs")
    let c1 = try cvConfig(runDir: one).write(to: path("one.yaml"))
    let r1 = try mmtrain(ranks: 1, ["cv", "--config", c1, "--progress", "lines"])
    XCTAssertEqual(r1.status, 0, r1.transcript)
    XCTAssertEqual(r1.stdoutLines(startingWith: "fold ").filter { $0.contains("done:") }.count, 3, r1.transcript)
    XCTAssertTrue(r1.stdout.contains("summary over 3 folds"), r1.transcript)
    let r4 = try mmtrain(
      ranks: 4, ["cv", "--config", try cvConfig(runDir: four).write(to: path("four.yaml")), "--progress", "lines"])
    XCTAssertEqual(r4.status, 0, r4.transcript)
    var pc = try cvConfig(runDir: parallel)
    pc["cv.parallel_folds"] = "2"
    let rp = try mmtrain(ranks: 4, ["cv", "--config", try pc.write(to: path("par.yaml")), "--progress", "lines"])
    XCTAssertEqual(rp.status, 0, rp.transcript)
    guard r1.status == 0, r4.status == 0, rp.status == 0 else { return }

    // The manifest: rank 0's assignment, the same for every world size, every sample in one test fold.
    let m1 = try Data(contentsOf: URL(fileURLWithPath: one + "/folds.json"))
    let manifest = try XCTUnwrap(try JSONSerialization.jsonObject(with: m1) as? [String: Any])
    XCTAssertEqual(manifest["strategy"] as? String, "stratified")
    XCTAssertEqual(manifest["k"] as? Int, 3)
    XCTAssertEqual(manifest["seed"] as? Int, 5)
    let dataRef = try XCTUnwrap(manifest["data"] as? [String: Any])
    XCTAssertEqual(dataRef["samples"] as? Int, 61)
    XCTAssertNotNil(dataRef["schema_hash"] as? String)
    XCTAssertGreaterThan(dataRef["size_bytes"] as? Int ?? 0, 0)
    let folds = try XCTUnwrap(manifest["folds"] as? [[String: [Int]]])
    XCTAssertEqual(folds.flatMap { $0["test"]! }.sorted(), Array(0..<61))
    for f in folds { XCTAssertEqual(Set(f["test"]!).union(f["train"]!).count, 61) }
    for other in [four, parallel] {
      let m =
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: other + "/folds.json")))
        as! [String: Any]
      XCTAssertEqual(m["folds"] as? [[String: [Int]]], folds, "\(other): folds depend on the world size")
    }

    // Every fold's checkpoints carry its part of the manifest.
    let ckpt = try HDF5File(path: four + "/fold-1/latest", mode: .readOnly)
    let attribute = try ckpt.stringAttribute("cv_manifest", on: "/")
    ckpt.close()
    let part = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(attribute.utf8)) as? [String: Any])
    XCTAssertEqual(part["fold"] as? Int, 1)
    XCTAssertEqual(part["test"] as? [Int], folds[1]["test"])
    XCTAssertEqual(part["train"] as? [Int], folds[1]["train"])

    // Exact test evaluation: predictions.csv holds each sample once, in its test fold.
    let csv = try String(contentsOfFile: one + "/report/predictions.csv", encoding: .utf8).split(separator: "\n")
    XCTAssertEqual(csv.first, "index,group,fold,label,prediction,prob_different,prob_same")
    let rows = csv.dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false) }
    XCTAssertEqual(rows.map { Int($0[0])! }, Array(0..<61))
    for r in rows { XCTAssertTrue(folds[Int(r[2])!]["test"]!.contains(Int(r[0])!)) }
    // pooled out-of-fold accuracy = share of rows of predictions.csv whose prediction is the label
    let pooled = try XCTUnwrap((try report(one)["pooled"] as? [String: Any])?["classification"] as? [String: Any])
    XCTAssertEqual(
      pooled["accuracy"] as? Double ?? -1, Double(rows.filter { $0[3] == $0[4] }.count) / 61, accuracy: 1e-12)
    let m4 = try foldMetrics(four)
    XCTAssertEqual(m4.map { $0["n"]! }, folds.map { Double($0["test"]!.count) })

    // 1 rank = 4 ranks = 2 parallel groups of 2 (SGD; float re-association only).
    let base = try foldMetrics(one)
    assertClose(m4, base, rtol: 1e-4, "4 ranks vs 1")
    assertClose(try foldMetrics(parallel), base, rtol: 1e-4, "parallel folds vs sequential")

    // One job per fold (as Slurm array tasks), then --merge: the one-job report.
    let cj = try cvConfig(runDir: jobs).write(to: path("jobs.yaml"))
    for k in 0..<3 {
      let r = try mmtrain(ranks: 2, ["cv", "--config", cj, "--fold", "\(k)", "--progress", "lines"])
      XCTAssertEqual(r.status, 0, r.transcript)
      XCTAssertTrue(FileManager.default.fileExists(atPath: jobs + "/fold-\(k)/fold-result.json"))
    }
    let other = try mmtrain(ranks: 1, ["cv", "--config", cj, "--fold", "1", "--set", "model.hidden=5"])
    XCTAssertEqual(other.status, 64, "a fold job with another model is refused: \(other.transcript)")
    XCTAssertTrue(
      other.stderr.contains("model.hidden = 5 differs from 8, which the folds of this run train with"), other.transcript
    )
    let merged = try mmtrain(ranks: 1, ["cv", "--merge", jobs])
    XCTAssertEqual(merged.status, 0, merged.transcript)
    assertClose(try foldMetrics(jobs), base, rtol: 1e-4, "fold jobs + merge vs one job")
    XCTAssertEqual(try report(jobs)["summary"].map { "\($0)" }?.isEmpty, false)
    let ablation = try XCTUnwrap(try report(one)["ablation"] as? [[String: Any]])
    XCTAssertEqual(ablation.map { $0["modality"] as? String }, ["audio", "text", "vision"])
    for file in ["report.md", "report.html", "report.json", "predictions.csv"] {
      XCTAssertTrue(FileManager.default.fileExists(atPath: one + "/report/" + file), file)
    }
    // mmtrain report re-renders md and html from report.json
    try FileManager.default.removeItem(atPath: one + "/report/report.md")
    let rerender = try mmtrain(ranks: 1, ["report", one])
    XCTAssertEqual(rerender.status, 0, rerender.transcript)
    XCTAssertTrue(FileManager.default.fileExists(atPath: one + "/report/report.md"))
  }

  func testInterruptedCVResumesWithoutRetrainingFinishedFolds() throws {
    let stopped = path("cv-stopped"), straight = path("cv-straight")
    let cs = try cvConfig(runDir: stopped, epochs: 40).write(to: path("s.yaml"))
    let run = try mmtrain(
      ranks: 2, ["cv", "--config", cs, "--progress", "lines"], timeout: 180, signal: (SIGUSR1, "fold 2/3: "))
    XCTAssertEqual(run.status, 75, run.transcript)
    guard run.status == 75 else { return }
    XCTAssertTrue(FileManager.default.fileExists(atPath: stopped + "/fold-0/fold-result.json"))
    XCTAssertFalse(FileManager.default.fileExists(atPath: stopped + "/fold-1/fold-result.json"))
    let resumed = try mmtrain(ranks: 2, ["cv", "--resume", stopped, "--progress", "lines"], timeout: 180)
    XCTAssertEqual(resumed.status, 0, resumed.transcript)
    XCTAssertTrue(resumed.stdout.contains("fold 0: finished earlier"), resumed.transcript)
    XCTAssertTrue(resumed.stdout.contains("fold 1: resuming from"), resumed.transcript)
    let full = try mmtrain(
      ranks: 2,
      ["cv", "--config", try cvConfig(runDir: straight, epochs: 40).write(to: path("t.yaml")), "--progress", "lines"],
      timeout: 180)
    XCTAssertEqual(full.status, 0, full.transcript)
    guard resumed.status == 0, full.status == 0 else { return }
    // resume is exact: the same test metrics as the run that was never stopped
    assertClose(try foldMetrics(stopped), try foldMetrics(straight), rtol: 0, "stopped + resumed vs straight")

    // Parallel groups (2 groups of 2 ranks): every group stops at its next step with a checkpoint, all exit 75
    // together, and the resumed run equals the straight 2-rank run.
    let par = path("cv-par-stopped")
    var pc = try cvConfig(runDir: par, epochs: 40)
    pc["cv.parallel_folds"] = "2"
    let p = try mmtrain(
      ranks: 4, ["cv", "--config", try pc.write(to: path("p.yaml")), "--progress", "lines"], timeout: 180,
      signal: (SIGUSR1, "epoch 3/40"))
    XCTAssertEqual(p.status, 75, p.transcript)
    guard p.status == 75 else { return }
    XCTAssertEqual(occurrences(of: "cv stopped by a signal", in: p.stderr), 1, p.transcript)
    let pr = try mmtrain(ranks: 4, ["cv", "--resume", par, "--progress", "lines"], timeout: 180)
    XCTAssertEqual(pr.status, 0, pr.transcript)
    guard pr.status == 0 else { return }
    assertClose(try foldMetrics(par), try foldMetrics(straight), rtol: 1e-12, "parallel stopped + resumed vs straight")
  }

  func testGroupAndRegressionFolds() throws {
    // GroupKFold on the synth set's 20 speakers: no speaker in two test folds
    var g = try cvConfig(runDir: path("cv-group"), samples: 60, epochs: 1)
    g["cv.strategy"] = "group"
    g["report.ablation"] = "false"
    let gr = try mmtrain(ranks: 2, ["cv", "--config", try g.write(to: path("g.yaml")), "--progress", "lines"])
    XCTAssertEqual(gr.status, 0, gr.transcript)
    if gr.status == 0 {
      let csv = try String(contentsOfFile: path("cv-group") + "/report/predictions.csv", encoding: .utf8).split(
        separator: "\n"
      ).dropFirst()
      var foldOfGroup: [Substring: Substring] = [:]
      for line in csv {
        let f = line.split(separator: ",", omittingEmptySubsequences: false)
        XCTAssertEqual(foldOfGroup[f[1], default: f[2]], f[2], "group \(f[1]) in two test folds")
        foldOfGroup[f[1]] = f[2]
      }
      XCTAssertEqual(foldOfGroup.count, 20)
    }
    // Regression on sentiment-like scores in [-3, 3]: MAE is the main metric, the MOSI scores are reported
    let n = 45
    let data = try TestData.write(path("senti.h5")) { f in
      try f.writeFloats("/modalities/m", (0..<(n * 3 * 2)).map { Float(($0 * 7) % 11) / 5 - 1 }, shape: [n, 3, 2])
      try f.writeDoubles("/labels", (0..<n).map { Double(($0 * 5) % 13) / 2 - 3 }, shape: [n])
    }
    var r = RunConfig.small(data: data, runDir: path("cv-reg"))
    r["data.steps"] = "3"
    r["task.kind"] = "regression"
    r["cv.folds"] = "3"
    let rr = try mmtrain(ranks: 3, ["cv", "--config", try r.write(to: path("r.yaml")), "--progress", "lines"])
    XCTAssertEqual(rr.status, 0, rr.transcript)
    guard rr.status == 0 else { return }
    let rep = try report(path("cv-reg"))
    XCTAssertEqual((rep["task"] as? [String: Any])?["main_metric"] as? String, "mae")
    let metrics = (rep["summary"] as? [[String: Any]])?.compactMap { $0["metric"] as? String }
    XCTAssertEqual(
      metrics, ["mse", "rmse", "mae", "r2", "pearson", "acc2_has0", "f1_has0", "acc2_non0", "f1_non0", "acc7"])
    XCTAssertEqual(
      try String(contentsOfFile: path("cv-reg") + "/report/predictions.csv", encoding: .utf8).split(separator: "\n")
        .first,
      "index,group,fold,label,prediction")
    let html = try String(contentsOfFile: path("cv-reg") + "/report/report.html", encoding: .utf8)
    XCTAssertTrue(html.contains("data-chart=\"scatter\""))
  }

  /// The normalisation of fold 0 comes from its training rows only: test rows with a large offset do not
  /// move the checkpoint's mean, which differs clearly from the whole file's.
  func testFoldStatisticsComeFromTheFoldsTrainingRowsOnly() throws {
    let n = 30, T = 4, D = 3
    let data = try TestData.write(path("shift.h5")) { f in
      var x = [Float](repeating: 0, count: n * T * D)
      for i in 0..<n {
        for t in 0..<T { for j in 0..<D { x[(i * T + t) * D + j] = Float(i % 7) + Float(j) + (i < 10 ? 100 : 0) } }
      }
      try f.writeFloats("/modalities/m", x, shape: [n, T, D])
      try f.writeInt64s("/labels", (0..<n).map { Int64($0 % 2) }, shape: [n])
    }
    var c = RunConfig.small(data: data, runDir: path("leak"))
    c["data.steps"] = "4"
    c["data.validation_fraction"] = "0"
    c["train.epochs"] = "1"
    c["cv.folds"] = "3"
    c["cv.strategy"] = "kfold"
    c["cv.shuffle"] = "false"
    let r = try mmtrain(ranks: 2, ["cv", "--config", try c.write(to: path("leak.yaml")), "--progress", "lines"])
    XCTAssertEqual(r.status, 0, r.transcript)
    guard r.status == 0 else { return }
    let mean = try XCTUnwrap(try RunOutputs.tensors("/normalization", of: path("leak") + "/fold-0/latest")["mean"])
    // fold 0 tests rows 0..<10 (KFold without shuffle): its training rows 10..<30 have no offset
    for j in 0..<D {
      let train = (10..<n).map { Double($0 % 7) + Double(j) }.reduce(0, +) / 20
      let global = (0..<n).map { Double($0 % 7) + Double(j) + ($0 < 10 ? 100 : 0) }.reduce(0, +) / Double(n)
      XCTAssertEqual(Double(mean[j]), train, accuracy: 1e-4)
      XCTAssertGreaterThan(abs(Double(mean[j]) - global), 30)
    }
    let fold1 = try XCTUnwrap(try RunOutputs.tensors("/normalization", of: path("leak") + "/fold-1/latest")["mean"])
    XCTAssertGreaterThan(abs(Double(fold1[0] - mean[0])), 30, "fold 1 trains on the offset rows: its mean differs")
  }

  func testBadInputGetsOneLine() throws {
    let data = try TestData.synth(samples: 20, to: path("data.h5"))
    func run(_ edits: [String: String], ranks: Int = 2) throws -> MPIRun {
      var c = try cvConfig(runDir: path("bad-\(UUID().uuidString.prefix(6))"))
      c["data.path"] = RunConfig.quoted(data)
      for (k, v) in edits { c[k] = v }
      return try mmtrain(
        ranks: ranks, ["cv", "--config", try c.write(to: path("bad.yaml")), "--progress", "lines"], timeout: 60)
    }
    let tooMany = try run(["cv.folds": "25", "cv.strategy": "kfold"])
    XCTAssertEqual(tooMany.status, 64, tooMany.transcript)
    XCTAssertEqual(tooMany.errorLines.count, 1, tooMany.transcript)
    XCTAssertTrue(tooMany.stderr.contains("cv.folds = 25 is more than the 20 samples"), tooMany.transcript)
    let threeGroups = try TestData.write(path("groups.h5")) { f in
      try f.writeFloats("/modalities/m", [Float](repeating: 1, count: 12 * 2 * 2), shape: [12, 2, 2])
      try f.writeInt64s("/labels", (0..<12).map { Int64($0 % 2) }, shape: [12])
      try f.writeInt64s("/groups", (0..<12).map { Int64($0 % 3) }, shape: [12])
    }
    let groups = try run([
      "data.path": RunConfig.quoted(threeGroups), "data.steps": "2", "cv.folds": "4", "cv.strategy": "group",
    ])
    XCTAssertEqual(groups.status, 64, groups.transcript)
    XCTAssertEqual(groups.errorLines.count, 1, groups.transcript)
    XCTAssertTrue(
      groups.stderr.contains("cv.folds = 4 is more than the 3 distinct groups in /groups"), groups.transcript)
    let divide = try run(["cv.parallel_folds": "2"], ranks: 3)
    XCTAssertEqual(divide.status, 64, divide.transcript)
    XCTAssertEqual(divide.errorLines.count, 1, divide.transcript)
    XCTAssertTrue(divide.stderr.contains("cv.parallel_folds = 2 does not divide the world size 3"), divide.transcript)
    let more = try run(["cv.parallel_folds": "4"], ranks: 4)
    XCTAssertEqual(more.status, 64, more.transcript)
    XCTAssertTrue(more.stderr.contains("cv.parallel_folds = 4 is more than cv.folds = 3"), more.transcript)

    let noGroups = try TestData.write(path("nogroups.h5")) { f in
      try f.writeFloats("/modalities/m", [Float](repeating: 1, count: 12 * 2 * 2), shape: [12, 2, 2])
      try f.writeInt64s("/labels", (0..<12).map { Int64($0 % 2) }, shape: [12])
    }
    let missing = try run([
      "data.path": RunConfig.quoted(noGroups), "data.steps": "2", "cv.strategy": "stratified_group",
    ])
    XCTAssertEqual(missing.status, 1, missing.transcript)
    XCTAssertEqual(missing.errorLines.count, 1, missing.transcript)
    XCTAssertTrue(missing.stderr.contains("needs the dataset /groups"), missing.transcript)

    // A class with fewer members than folds: sklearn's warning, printed once, and the run goes on.
    let rare = try TestData.write(path("rare.h5")) { f in
      try f.writeFloats("/modalities/m", (0..<(12 * 2 * 2)).map { Float($0 % 5) }, shape: [12, 2, 2])
      try f.writeInt64s("/labels", (0..<12).map { $0 < 2 ? 1 : 0 }, shape: [12])
    }
    let warned = try run([
      "data.path": RunConfig.quoted(rare), "data.steps": "2", "report.ablation": "false", "train.epochs": "1",
    ])
    XCTAssertEqual(warned.status, 0, warned.transcript)
    XCTAssertEqual(
      occurrences(of: "has only 2 member(s), fewer than cv.folds = 3", in: warned.stderr), 1, warned.transcript)
  }

  func testEvaluateAndPredictGiveTheSameOutputOnAnyNumberOfRanks() throws {
    var c = RunConfig.small(data: try TestData.synth(samples: 37, to: path("data.h5")), runDir: path("run"))
    c["train.epochs"] = "1"
    let trained = try mmtrain(ranks: 1, ["train", "--config", try c.write(to: path("c.yaml")), "--progress", "lines"])
    XCTAssertEqual(trained.status, 0, trained.transcript)
    guard trained.status == 0 else { return }
    XCTAssertTrue(
      FileManager.default.fileExists(atPath: path("run") + "/report/report.html"), "train writes RUN_DIR/report/")

    var outputs: [String] = []
    for ranks in [1, 3] {
      let e = try mmtrain(
        ranks: ranks, ["evaluate", "--checkpoint", path("run"), "--data", path("data.h5"), "--out", path("ev\(ranks)")])
      XCTAssertEqual(e.status, 0, e.transcript)
      XCTAssertTrue(e.stdout.contains("accuracy"), e.transcript)
      let p = try mmtrain(
        ranks: ranks,
        ["predict", "--checkpoint", path("run"), "--data", path("data.h5"), "--out", path("p\(ranks).csv")])
      XCTAssertEqual(p.status, 0, p.transcript)
      outputs.append(e.stdout.split(separator: "\n").filter { !$0.hasPrefix("report:") }.joined(separator: "\n"))
      outputs.append(try String(contentsOfFile: path("p\(ranks).csv"), encoding: .utf8))
      outputs.append(try String(contentsOfFile: path("ev\(ranks)") + "/predictions.csv", encoding: .utf8))
    }
    XCTAssertEqual(outputs[0], outputs[3], "evaluate: 1 vs 3 ranks")
    XCTAssertEqual(outputs[1], outputs[4], "predict: 1 vs 3 ranks")
    XCTAssertEqual(outputs[2], outputs[5], "evaluate predictions: 1 vs 3 ranks")
    XCTAssertEqual(outputs[1].split(separator: "\n").count, 38)

    // train's own report: the validation split's metrics and the curves
    let trainReport = try report(path("run"))
    XCTAssertEqual(trainReport["kind"] as? String, "train")
    let trainFold = try XCTUnwrap((trainReport["folds"] as? [[String: Any]])?.first)
    XCTAssertEqual(trainFold["n_test"] as? Int, 7, "round(37 * 0.2) validation rows")
    XCTAssertEqual((trainFold["curves"] as? [Any])?.count, 1)

    // predict to .h5: the same classes and probabilities as the CSV
    let h5 = try mmtrain(
      ranks: 3, ["predict", "--checkpoint", path("run"), "--data", path("data.h5"), "--out", path("p.h5")])
    XCTAssertEqual(h5.status, 0, h5.transcript)
    if h5.status == 0 {
      let f = try HDF5File(path: path("p.h5"), mode: .readOnly)
      let classes = try f.readInt64s("/prediction"), probabilities = try f.readDoubles("/probabilities")
      f.close()
      let csvRows = outputs[1].split(separator: "\n").dropFirst().map {
        $0.split(separator: ",", omittingEmptySubsequences: false)
      }
      XCTAssertEqual(classes.map(String.init), csvRows.map { String($0[4]) })
      XCTAssertEqual(probabilities.count, 37 * 2)
      for (i, row) in csvRows.enumerated() { XCTAssertEqual(probabilities[2 * i + 1], Double(row[6])!, accuracy: 1e-8) }
    }

    // predict on data without /labels: the same predictions, empty label column
    let unlabeled = path("unlabeled.h5")
    _ = try TestData.write(unlabeled) { out in
      let src = try HDF5File(path: path("data.h5"), mode: .readOnly)
      defer { src.close() }
      for m in ["audio", "text", "vision"] {
        let info = try src.datasetInfo("/modalities/\(m)")
        try out.writeFloats("/modalities/\(m)", try src.readFloats("/modalities/\(m)"), shape: info.shape)
        if src.isDataset("/lengths/\(m)") {
          try out.writeInt64s("/lengths/\(m)", try src.readInt64s("/lengths/\(m)"), shape: [37])
        }
      }
    }
    let p = try mmtrain(
      ranks: 2, ["predict", "--checkpoint", path("run"), "--data", unlabeled, "--out", path("u.csv")])
    XCTAssertEqual(p.status, 0, p.transcript)
    if p.status == 0 {
      let labeled = outputs[1].split(separator: "\n").dropFirst().map {
        $0.split(separator: ",", omittingEmptySubsequences: false)
      }
      let plain = try String(contentsOfFile: path("u.csv"), encoding: .utf8).split(separator: "\n").dropFirst()
        .map { $0.split(separator: ",", omittingEmptySubsequences: false) }
      XCTAssertEqual(plain.map { $0[3] }, [Substring](repeating: "", count: 37))
      XCTAssertEqual(plain.map { Array($0[4...]) }, labeled.map { Array($0[4...]) })
    }

    // predict on files whose modalities or feature counts differ from the checkpoint's: one clear line each
    var spec = SynthSpec()
    spec.samples = 10; spec.steps = TestData.steps; spec.textFeatures = 9; spec.audioFeatures = 8;
    spec.visionFeatures = 2
    try Synth.write(spec, to: path("wider.h5"))
    let textOnly = try TestData.write(path("other.h5")) { f in
      try f.writeFloats("/modalities/text", [Float](repeating: 0, count: 5 * 6 * 8), shape: [5, 6, 8])
    }
    for (file, expected) in [
      (
        path("wider.h5"),
        "the checkpoint does not fit this run: modality 'text' has 9 features in this data, 8 in the checkpoint's"
      ),
      (textOnly, "data.modalities names 'audio', which \(textOnly) does not have"),
    ] {
      let bad = try mmtrain(ranks: 2, ["predict", "--checkpoint", path("run"), "--data", file, "--out", path("x.csv")])
      XCTAssertEqual(bad.status, 1, bad.transcript)
      XCTAssertEqual(bad.errorLines.count, 1, bad.transcript)
      XCTAssertTrue(bad.stderr.contains(expected), bad.transcript)
    }
  }
}
