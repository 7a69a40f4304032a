import Foundation
import TestSupport
import XCTest

@testable import MMEval

/// Every metric against scikit-learn 1.9.1 / scipy values (Tests/Fixtures/make_sklearn_fixtures.py).
final class MetricTests: XCTestCase {
  private func close(_ a: Double?, _ b: Double?, _ what: String, tol: Double = 1e-12) {
    guard let a, let b else {
      return XCTAssertTrue(a == nil && b == nil, "\(what): \(String(describing: a)) vs \(String(describing: b))")
    }
    XCTAssertEqual(a, b, accuracy: tol * max(1, abs(b)), what)
  }

  func testClassificationMatchesSklearn() {
    let cases = SklearnFixture.cases("classification")
    XCTAssertEqual(cases.count, 5)
    for c in cases {
      let name = c.string("name")
      let m = ClassificationMetrics(labels: c.ints("labels")!, probabilities: c.matrix("probabilities"))
      for (key, value) in [
        ("accuracy", m.accuracy), ("balanced_accuracy", m.balancedAccuracy), ("macro_precision", m.macroPrecision),
        ("macro_recall", m.macroRecall), ("macro_f1", m.macroF1), ("weighted_precision", m.weightedPrecision),
        ("weighted_recall", m.weightedRecall), ("weighted_f1", m.weightedF1), ("log_loss", m.logLoss),
        ("roc_auc", m.rocAuc ?? .nan),
      ] {
        close(value, c.double(key), "\(name) \(key)")
      }
      for (key, values) in [("precision", m.precision), ("recall", m.recall), ("f1", m.f1)] {
        for (a, b) in zip(values, c.doubles(key)) { close(a, b, "\(name) \(key)") }
      }
      XCTAssertEqual(m.support, c.ints("support"), name)
      XCTAssertEqual(m.confusion, c.intMatrix("confusion"), name)
      let perClass = c.optionalDoubles("roc_auc_per_class")
      XCTAssertEqual(m.rocAucPerClass.count, perClass.count)
      for (a, b) in zip(m.rocAucPerClass, perClass) { close(a, b, "\(name) roc_auc_per_class") }
      if c["roc_fpr"] != nil {
        XCTAssertEqual(m.roc?.fpr.count, c.doubles("roc_fpr").count, name)
        for (a, b) in zip(m.roc!.fpr, c.doubles("roc_fpr")) { close(a, b, "\(name) fpr") }
        for (a, b) in zip(m.roc!.tpr, c.doubles("roc_tpr")) { close(a, b, "\(name) tpr") }
      }
    }
  }

  func testTiesCountHalf() {
    // one positive and one negative with the same score: AUC 0.5, not 0 or 1
    XCTAssertEqual(ROCCurve.auc(positive: [true, false], scores: [0.3, 0.3]), 0.5)
    XCTAssertEqual(ROCCurve.auc(positive: [true, false, true], scores: [0.9, 0.3, 0.3]), 0.75)
    XCTAssertNil(ROCCurve.auc(positive: [true, true], scores: [0.1, 0.2]))
  }

  func testRegressionMatchesSklearn() {
    for c in SklearnFixture.cases("regression") {
      let name = c.string("name")
      let m = RegressionMetrics(targets: c.matrix("targets"), predictions: c.matrix("predictions"))
      for (key, value) in [("mse", m.mse), ("rmse", m.rmse), ("mae", m.mae), ("r2", m.r2), ("pearson", m.pearson!)] {
        close(value, c.double(key), "\(name) \(key)", tol: 1e-11)
      }
      if let s = c["sentiment"] as? [String: Any] {
        let mine = m.sentiment!
        for (key, value) in [
          ("acc2_has0", mine.acc2Has0), ("f1_has0", mine.f1Has0), ("acc2_non0", mine.acc2Non0!),
          ("f1_non0", mine.f1Non0!), ("acc7", mine.acc7),
        ] {
          close(value, s.double(key), "\(name) \(key)")
        }
      } else {
        XCTAssertNil(m.sentiment, name)
      }
    }
  }

  func testRegressionEdgeCases() {
    // constant target: sklearn's force_finite R² (1 for a perfect fit, else 0); Pearson undefined
    XCTAssertEqual(RegressionMetrics(targets: [[2], [2]], predictions: [[2], [2]]).r2, 1)
    let m = RegressionMetrics(targets: [[2], [2]], predictions: [[1], [3]])
    XCTAssertEqual(m.r2, 0)
    XCTAssertNil(m.pearson)
    // every true score 0: the non-zero Acc-2 is undefined
    XCTAssertNil(RegressionMetrics(targets: [[0], [0]], predictions: [[1], [-1]]).sentiment?.acc2Non0)
    XCTAssertNotNil(RegressionMetrics(targets: [[0], [0]], predictions: [[1], [-1]]).sentiment)
    XCTAssertNil(
      RegressionMetrics(targets: [[0], [4]], predictions: [[1], [-1]]).sentiment, "targets outside [-3, 3]")
  }

  func testStudentTMatchesScipy() {
    let t = SklearnFixture.root["student_t"] as! [String: Any]
    for q in t["quantile_975"] as! [[String: Any]] {
      close(StudentT.quantile(0.975, df: q.double("df")), q.double("t"), "t(0.975, \(q.double("df")))", tol: 1e-10)
    }
    for q in t["quantile_other"] as! [[String: Any]] {
      close(
        StudentT.quantile(q.double("p"), df: q.double("df")), q.double("t"), "t(\(q.double("p")), \(q.double("df")))",
        tol: 1e-10)
    }
    for q in t["cdf"] as! [[String: Any]] {
      close(StudentT.cdf(q.double("x"), df: q.double("df")), q.double("p"), "cdf", tol: 1e-12)
    }
    let s = t["summary"] as! [String: Any]
    let summary = MetricSummary(metric: "accuracy", values: s.doubles("values"))
    close(summary.mean, s.double("mean"), "mean")
    close(summary.std, s.double("std"), "std")
    close(summary.ciLow, s.double("ci_low"), "ci_low", tol: 1e-10)
    close(summary.ciHigh, s.double("ci_high"), "ci_high", tol: 1e-10)
    // undefined folds are left out; one value has no spread
    let partial = MetricSummary(metric: "roc_auc", values: [0.8, nil])
    XCTAssertEqual(partial.n, 1)
    XCTAssertEqual(partial.mean, 0.8)
    XCTAssertNil(partial.std)
    XCTAssertNil(partial.ciLow)
  }
}
