import Foundation
import TestSupport
import XCTest

@testable import MMEval

/// report.diagnostics against scikit-learn (Tests/Fixtures/sklearn_eval.json, "diagnostics") and the
/// bootstrap's promises: the same interval every time, around the estimate, narrower with more rows.
final class DiagnosticsTests: XCTestCase {
  func testCurvesAreasAndCalibrationMatchSklearn() {
    let cases = SklearnFixture.cases("diagnostics")
    XCTAssertEqual(cases.count, 3)
    for c in cases {
      let name = c.string("name")
      let labels = c.ints("labels")!
      let probs = c.matrix("probabilities")
      for k in c["curves"] as! [[String: Any]] {
        let cls = k.int("class")
        let positive = labels.map { $0 == cls }
        let scores = probs.map { $0[cls] }
        let (fpr, tpr) = ROCCurve.points(positive: positive, scores: scores)!
        assertClose(fpr, k.doubles("roc_fpr"), "\(name) class \(cls) fpr")
        assertClose(tpr, k.doubles("roc_tpr"), "\(name) class \(cls) tpr")
        let pr = PRCurve(positive: positive, scores: scores)!
        assertClose(pr.recall, k.doubles("pr_recall"), "\(name) class \(cls) recall")
        assertClose(pr.precision, k.doubles("pr_precision"), "\(name) class \(cls) precision")
        XCTAssertEqual(pr.averagePrecision, k.double("average_precision"), accuracy: 1e-12, "\(name) AP")
        XCTAssertEqual(
          ROCCurve.auc(positive: positive, scores: scores)!, k.double("auc"), accuracy: 1e-12, "\(name) AUC")
      }
      let cal = Calibration(labels: labels, probabilities: probs)
      let expected = c.dict("calibration")
      XCTAssertEqual(cal.quantity, probs[0].count == 2 ? "positive_probability" : "top_class_confidence")
      XCTAssertEqual(cal.bins.map(\.count), expected.ints("count"), "\(name) bin counts")
      assertClose(cal.bins.compactMap(\.accuracy), expected.doubles("accuracy"), "\(name) bin accuracy")
      assertClose(cal.bins.compactMap(\.confidence), expected.doubles("confidence"), "\(name) bin confidence")
      XCTAssertEqual(cal.ece, expected.double("ece"), accuracy: 1e-12, "\(name) ECE")
    }
  }

  func testDiagnosticsKeepAreasOfTheFullCurvesAndThinTheDrawnOnes() {
    // 3000 distinct scores: the drawn curves are thinned, AUC and AP still come from every point
    var rng = SampleReports.LCG(s: 3)
    let rows = (0..<3000).map { i -> Predictions.Row in
      let y = Int(rng.next() * 3)
      var p = (0..<3).map { _ in rng.next() }
      p[y] += 0.5
      let sum = p.reduce(0, +)
      return .init(index: i, group: i % 7, fold: nil, label: [Double(y)], outputs: p.map { $0 / sum })
    }
    let task = Report.TaskInfo(
      kind: "multiclass", outputs: 3, classNames: ["a", "b", "c"], modalities: [], mainMetric: "accuracy")
    let d = Diagnostics.compute(
      predictions: .init(kind: .classification(classNames: ["a", "b", "c"]), rows: rows), task: task, kind: .cv)!
    XCTAssertNil(d.bootstrap, "cv reports the spread over folds, not a bootstrap")
    XCTAssertEqual(d.classCurves!.map(\.name), ["a", "b", "c"])
    for (c, k) in d.classCurves!.enumerated() {
      let positive = rows.map { Int($0.label![0]) == c }
      let scores = rows.map { $0.outputs[c] }
      XCTAssertEqual(k.auc!, ROCCurve.auc(positive: positive, scores: scores)!, accuracy: 1e-15)
      XCTAssertEqual(
        k.averagePrecision!, PRCurve(positive: positive, scores: scores)!.averagePrecision, accuracy: 1e-15)
      XCTAssertLessThanOrEqual(k.roc!.fpr.count, 200)
      XCTAssertLessThanOrEqual(k.pr!.recall.count, 200)
      XCTAssertEqual(k.roc!.fpr.first, 0)
      XCTAssertEqual(k.roc!.tpr.last, 1)
      XCTAssertEqual(k.pr!.recall.last, 1)
    }
    // groups sorted, each scored on its own rows
    let g = d.groups!
    XCTAssertEqual(g.rows.map(\.group), Array(0..<7))
    XCTAssertEqual(g.rows.map(\.n).reduce(0, +), 3000)
    let group3 = rows.filter { $0.group == 3 }
    let acc3 = ClassificationMetrics(labels: group3.map { Int($0.label![0]) }, probabilities: group3.map(\.outputs))
      .accuracy
    XCTAssertEqual(g.rows[3].value!, acc3, accuracy: 1e-15)
    XCTAssertEqual(g.summary.mean!, g.rows.map { $0.value! }.reduce(0, +) / 7, accuracy: 1e-15)
    // baselines: a uniform guess, and the most frequent label's share
    let counts = (0..<3).map { c in rows.filter { Int($0.label![0]) == c }.count }
    XCTAssertEqual(d.baselines.map(\.name), ["chance", "majority"])
    XCTAssertEqual(d.baselines[0].value, 1.0 / 3, accuracy: 1e-15)
    XCTAssertEqual(d.baselines[1].value, Double(counts.max()!) / 3000, accuracy: 1e-15)
  }

  func testRegressionBaselineIsTheMeanPredictor() {
    let (report, predictions) = SampleReports.regression()
    let d = Diagnostics.compute(predictions: predictions, task: report.task, kind: .cv)!
    let y = predictions.rows.map { $0.label![0] }
    let mean = y.reduce(0, +) / Double(y.count)
    let mae = y.map { abs($0 - mean) }.reduce(0, +) / Double(y.count)
    let rmse = (y.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(y.count)).squareRoot()
    XCTAssertEqual(d.baselines.first { $0.metric == "mae" }!.value, mae, accuracy: 1e-12)
    XCTAssertEqual(d.baselines.first { $0.metric == "rmse" }!.value, rmse, accuracy: 1e-12)
    XCTAssertNil(d.classCurves)
    XCTAssertNil(d.calibration)
    XCTAssertNil(d.groups, "the regression sample has no groups")
  }

  func testBootstrapIsDeterministicContainsTheEstimateAndNarrowsWithMoreRows() {
    func rows(_ n: Int) -> Predictions {
      var rng = SampleReports.LCG(s: 9)
      return Predictions(
        kind: .classification(classNames: ["a", "b"]),
        rows: (0..<n).map { i in
          let y = rng.next() < 0.5 ? 0 : 1
          let p = min(0.95, max(0.05, 0.5 + (y == 1 ? 0.2 : -0.2) + 0.5 * (rng.next() - 0.5)))
          return .init(index: i, group: nil, fold: nil, label: [Double(y)], outputs: [1 - p, p])
        })
    }
    let task = Report.TaskInfo(kind: "binary", outputs: 2, classNames: nil, modalities: [], mainMetric: "accuracy")
    let small = Diagnostics.compute(predictions: rows(100), task: task, kind: .evaluate)!.bootstrap!
    let again = Diagnostics.compute(predictions: rows(100), task: task, kind: .evaluate)!.bootstrap!
    XCTAssertEqual(small, again)
    XCTAssertEqual(small.map(\.metric), EvalMetrics.classificationNames)
    for i in small {
      let v = i.value!
      let lo = i.low!
      let hi = i.high!
      XCTAssertTrue(lo <= v && v <= hi, "\(i.metric): \(v) outside [\(lo), \(hi)]")
      XCTAssertLessThan(lo, hi, i.metric)
      XCTAssertEqual(i.resamples, 1000)
    }
    let large = Diagnostics.compute(predictions: rows(900), task: task, kind: .train)!.bootstrap!
    for (s, l) in zip(small, large) {
      // 9× the rows: about a third of the width
      XCTAssertLessThan(l.high! - l.low!, 0.5 * (s.high! - s.low!), s.metric)
    }
    // a different seed gives a different (but similar) interval: the seed is what makes it repeatable
    let scored = ScoredRows(rows(100).rows, classification: true)
    let other = Bootstrap.intervals(n: 100, seed: 1) { scored.metrics($0) }
    XCTAssertNotEqual(other.map(\.low), small.map(\.low))
  }

  /// Per-step predictions are resampled a sample at a time: when a sample's steps are all right or all wrong,
  /// 30 samples of 10 steps carry the evidence of 30 rows, not 300, and the interval is as wide as 30 rows'.
  func testPerStepPredictionsResampleWholeSamples() {
    let task = Report.TaskInfo(kind: "binary", outputs: 2, classNames: nil, modalities: [], mainMetric: "accuracy")
    var rows: [Predictions.Row] = []
    for sample in 0..<30 {
      let right = sample % 3 != 0  // 2 of 3 samples right at every step
      for step in 0..<10 {
        rows.append(
          .init(
            index: sample, step: step, group: nil, fold: nil, label: [1], outputs: right ? [0.2, 0.8] : [0.8, 0.2]))
      }
    }
    let steps = Diagnostics.compute(
      predictions: Predictions(kind: .classification(classNames: ["a", "b"]), rows: rows, stepCount: 10), task: task,
      kind: .evaluate)!
    let flat = Diagnostics.compute(
      predictions: Predictions(kind: .classification(classNames: ["a", "b"]), rows: rows), task: task, kind: .evaluate)!
    XCTAssertEqual(steps.bootstrapSamples, 30)
    XCTAssertNil(flat.bootstrapSamples)
    let byStep = steps.interval(of: "accuracy")!, byRow = flat.interval(of: "accuracy")!
    XCTAssertEqual(byStep.value, byRow.value)
    XCTAssertGreaterThan(byStep.high! - byStep.low!, 2 * (byRow.high! - byRow.low!))
  }

  func testPercentileIsNumpys() {
    // numpy.percentile([1, 2, 4, 8], [2.5, 97.5]) = [1.075, 7.7]
    XCTAssertEqual(Bootstrap.percentile([1, 2, 4, 8], 2.5), 1.075, accuracy: 1e-12)
    XCTAssertEqual(Bootstrap.percentile([1, 2, 4, 8], 97.5), 7.7, accuracy: 1e-12)
  }

  private func assertClose(
    _ a: [Double], _ b: [Double], _ message: String, file: StaticString = #filePath, line: UInt = #line
  ) {
    XCTAssertEqual(a.count, b.count, message, file: file, line: line)
    for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: 1e-12, message, file: file, line: line) }
  }
}
