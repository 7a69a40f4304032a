import Foundation
import TestSupport
import XCTest

@testable import MMEval

final class ReportTests: XCTestCase {
  func testJSONRoundTripAndSnakeCaseKeys() throws {
    for (report, predictions) in [
      SampleReports.classification(), SampleReports.regression(), SampleReports.classification(classes: 4),
    ] {
      let dir = makeTemporaryDirectory("report")
      try ReportFiles.write(report, predictions: predictions, to: dir)
      let back = try ReportFiles.read(dir.appendingPathComponent("report.json"))
      var expected = report
      expected.diagnostics = Diagnostics.compute(predictions: predictions, task: report.task, kind: report.kind)
      XCTAssertNotNil(expected.diagnostics)
      XCTAssertEqual(back, expected, "write fills the diagnostics from the predictions")
      let text = try String(contentsOf: dir.appendingPathComponent("report.json"), encoding: .utf8)
      for key in [
        "\"format_version\"", "\"mmtrain_version\"", "\"world_size\"", "\"main_metric\"", "\"n_train\"", "\"ci_low\"",
      ] {
        XCTAssertTrue(text.contains(key), key)
      }
      // re-rendering from report.json alone gives the same documents
      let md = try String(contentsOf: dir.appendingPathComponent("report.md"), encoding: .utf8)
      XCTAssertEqual(MarkdownReport.render(back), md)
    }
  }

  func testSummaryAndMarkdownTables() throws {
    let (r, _) = SampleReports.classification(k: 5)
    let acc = r.summary(of: "accuracy")!
    let values = r.folds.map { $0.metrics.classification!.accuracy }
    XCTAssertEqual(acc.n, 5)
    XCTAssertEqual(acc.mean!, values.reduce(0, +) / 5, accuracy: 1e-15)
    // CI half-width = t(0.975, 4) · s / √5 with t(0.975, 4) = 2.7764451051977987 (scipy)
    XCTAssertEqual((acc.ciHigh! - acc.ciLow!) / 2, 2.7764451051977987 * acc.std! / 5.0.squareRoot(), accuracy: 1e-12)
    let md = MarkdownReport.render(r)
    XCTAssertTrue(md.contains("| **accuracy** | \(ReportFormat.meanStd(acc)) | \(ReportFormat.ci(acc)) | 5 |"), md)
    XCTAssertTrue(md.contains("## Per fold"))
    XCTAssertTrue(
      md.contains("| fold | train | validation | test fold | epochs | time | accuracy | balanced_accuracy | macro_f1"))
    XCTAssertEqual(md.components(separatedBy: "\n").filter { $0.hasPrefix("| 3 |") }.count, 1)
    XCTAssertTrue(md.contains("## Modality ablation"))
    XCTAssertTrue(md.contains("| text |"))
    XCTAssertTrue(md.contains("| positive |"), "class names in the per-class table")
  }

  func testPredictionsCSV() {
    let csv = Predictions(
      kind: .classification(classNames: ["a", "b"]),
      rows: [
        .init(index: 0, group: 7, fold: 1, label: [1], outputs: [0.25, 0.75]),
        .init(index: 1, group: nil, fold: nil, label: nil, outputs: [0.5, 0.5]),
      ]
    ).csv()
    XCTAssertEqual(csv, "index,group,fold,label,prediction,prob_a,prob_b\n0,7,1,1,1,0.25,0.75\n1,,,,0,0.5,0.5\n")
    let reg = Predictions(
      kind: .regression(columns: 2), rows: [.init(index: 3, group: nil, fold: 0, label: [1, 2], outputs: [1.5, 2.5])]
    ).csv()
    XCTAssertEqual(reg, "index,group,fold,label_0,label_1,prediction_0,prediction_1\n3,,0,1,2,1.5,2.5\n")
  }

  func testHTMLHoldsEveryChartAndNoExternalReference() {
    let (binary, _) = SampleReports.classification(k: 3)
    let html = HTMLReport.render(binary)
    let expected = [
      "curves-fold-0", "curves-fold-1", "curves-fold-2", "val-accuracy", "main-metric", "confusion-pooled",
      "confusion-fold-0", "confusion-fold-2", "roc", "ablation",
    ]
    for id in expected { XCTAssertTrue(html.contains("data-chart=\"\(id)\""), id) }
    XCTAssertFalse(html.contains("<script"))
    XCTAssertFalse(html.contains("http://") && !html.contains("xmlns=\"http://www.w3.org/2000/svg\""))
    XCTAssertFalse(html.contains("https://"))
    let (reg, _) = SampleReports.regression()
    let rhtml = HTMLReport.render(reg)
    XCTAssertTrue(rhtml.contains("data-chart=\"scatter\""))
    XCTAssertFalse(rhtml.contains("data-chart=\"roc\""))
    XCTAssertFalse(rhtml.contains("data-chart=\"ablation\""))
  }

  func testReadingABadReportNamesTheFile() throws {
    let dir = makeTemporaryDirectory("report")
    let url = dir.appendingPathComponent("report.json")
    try Data("{\"format\": \"mmtrain-report\"}".utf8).write(to: url)
    XCTAssertThrowsError(try ReportFiles.read(url)) {
      XCTAssertTrue("\($0)".hasPrefix("\(url.path): not a valid mmtrain report.json (missing key"), "\($0)")
    }
    XCTAssertThrowsError(try ReportFiles.read(dir.appendingPathComponent("nope.json"))) {
      XCTAssertTrue("\($0)".contains("nope.json: cannot read the report"), "\($0)")
    }
  }

  func testVersion1ReportStillDecodesAndRenders() throws {
    let url = fixturesDirectory().appendingPathComponent("report_demo_cv.json")
    let old = try ReportFiles.read(url)
    XCTAssertEqual(old.formatVersion, 1)
    XCTAssertNil(old.diagnostics)
    XCTAssertNil(old.source)
    XCTAssertNil(old.ensemble)
    XCTAssertTrue(old.folds.allSatisfy { $0.bestEpoch == nil && $0.stoppedEarly == nil })
    let md = MarkdownReport.render(old), html = HTMLReport.render(old)
    XCTAssertTrue(md.contains("## Per fold"))
    XCTAssertTrue(html.contains("data-chart=\"roc\""))
    XCTAssertFalse(html.contains("data-chart=\"calibration\""), "no diagnostics, no calibration chart")
    // re-rendering an old run directory (mmtrain report DIR) writes the pages and leaves report.json as it was
    let dir = makeTemporaryDirectory("old-report")
    try ReportFiles.renderDocuments(old, to: dir)
    XCTAssertEqual(try String(contentsOf: dir.appendingPathComponent("report.md"), encoding: .utf8), md)
  }

  func testNewFieldsRoundTrip() throws {
    var (report, predictions) = SampleReports.ensembleEvaluation()
    report.folds[0].bestEpoch = 4
    report.folds[0].stoppedEarly = false
    XCTAssertEqual(report.formatVersion, 2)
    let dir = makeTemporaryDirectory("report-v2")
    try ReportFiles.write(report, predictions: predictions, to: dir)
    let back = try ReportFiles.read(dir.appendingPathComponent("report.json"))
    XCTAssertEqual(back.source, Report.Source(checkpoint: "runs/demo-cv", data: "runs/demo/demo.h5"))
    XCTAssertEqual(back.ensemble?.map(\.name), ["fold-0", "fold-1", "fold-2"])
    XCTAssertEqual(back.folds[0].bestEpoch, 4)
    XCTAssertEqual(back.folds[0].stoppedEarly, false)
    XCTAssertNotNil(back.diagnostics?.bootstrap)
    let text = try String(contentsOf: dir.appendingPathComponent("report.json"), encoding: .utf8)
    for key in ["\"best_epoch\"", "\"stopped_early\"", "\"class_curves\"", "\"average_precision\"", "\"ece\""] {
      XCTAssertTrue(text.contains(key), key)
    }
    // a newer version than this reader knows is refused with the fix
    let future = text.replacingOccurrences(of: "\"format_version\" : 2", with: "\"format_version\" : 3")
    XCTAssertNotEqual(future, text)
    let url = dir.appendingPathComponent("future.json")
    try Data(future.utf8).write(to: url)
    XCTAssertThrowsError(try ReportFiles.read(url)) { XCTAssertTrue("\($0)".contains("use a newer mmtrain"), "\($0)") }
  }

  func testAblationWordingFollowsTheMetricsDirection() {
    let (reg, _) = SampleReports.regression(ablation: true)
    for text in [MarkdownReport.render(reg), HTMLReport.render(reg)] {
      XCTAssertTrue(text.contains("ncrease of MAE (worse)"), "error metrics get worse upwards")
      XCTAssertFalse(text.contains("rop of mae"))
    }
    let (cls, _) = SampleReports.classification(k: 3)
    for text in [MarkdownReport.render(cls), HTMLReport.render(cls)] {
      XCTAssertTrue(text.contains("rop of accuracy"))
      XCTAssertFalse(text.contains("(worse)"))
    }
  }

  func testSingleRunReportsShowOneResultWithItsInterval() throws {
    let (train, predictions) = SampleReports.train()
    let dir = makeTemporaryDirectory("train-report")
    try ReportFiles.write(train, predictions: predictions, to: dir)
    let written = try ReportFiles.read(dir.appendingPathComponent("report.json"))
    let md = MarkdownReport.render(written), html = HTMLReport.render(written)
    for text in [md, html] {
      XCTAssertFalse(text.contains("all folds"))
      XCTAssertFalse(text.contains("Per fold"))
      XCTAssertFalse(text.contains("per fold"))
    }
    let acc = written.diagnostics!.interval(of: "accuracy")!
    let shown = "\(ReportFormat.value(acc.value)) [\(ReportFormat.value(acc.low)), \(ReportFormat.value(acc.high))]"
    XCTAssertTrue(md.contains("| **accuracy** | \(shown) |"), md)
    XCTAssertTrue(html.contains(shown))
    XCTAssertTrue(md.contains("9 epochs, weights of epoch 6 kept (early stopping ended the run)"), md)
    XCTAssertTrue(html.contains("best epoch 6 (early stop)"))
    XCTAssertEqual(
      HTMLReport.chartIDs(written),
      ["main-metric", "curves", "accuracy", "confusion", "roc-classes", "pr-classes", "calibration", "ablation"])
    XCTAssertTrue(md.contains("| chance | accuracy | 0.1667 |"), "baselines listed")

    let (ens, ensPredictions) = SampleReports.ensembleEvaluation()
    let edir = makeTemporaryDirectory("ensemble-report")
    try ReportFiles.write(ens, predictions: ensPredictions, to: edir)
    let e = try ReportFiles.read(edir.appendingPathComponent("report.json"))
    let emd = MarkdownReport.render(e), ehtml = HTMLReport.render(e)
    XCTAssertTrue(emd.contains("ensemble of 3 fold models (mean of probabilities)"))
    XCTAssertTrue(emd.contains("| **ensemble** | mean of 3 |"))
    XCTAssertTrue(emd.contains("| fold-2 | `runs/demo-cv/fold-2/best.h5` |"))
    XCTAssertTrue(emd.contains("Checkpoint `runs/demo-cv` evaluated on `runs/demo/demo.h5`."))
    XCTAssertTrue(ehtml.contains("<tr class=\"ens\"><td>ensemble</td>"))
    XCTAssertEqual(HTMLReport.chartIDs(e), ["main-metric", "confusion", "roc-classes", "pr-classes", "calibration"])
  }

  func testCVReportDrawsBaselinesAndDiagnostics() throws {
    let names = Array(SampleReports.longClassNames.prefix(4))
    let (r, predictions) = SampleReports.classification(k: 3, classes: 4, classNames: names)
    let dir = makeTemporaryDirectory("cv-diagnostics")
    try ReportFiles.write(r, predictions: predictions, to: dir)
    let written = try ReportFiles.read(dir.appendingPathComponent("report.json"))
    let html = HTMLReport.render(written), md = MarkdownReport.render(written)
    let chart = html.components(separatedBy: "<svg data-chart=\"main-metric\"")[1].components(separatedBy: "</svg>")[0]
    XCTAssertTrue(chart.contains("chance 0.2500"), "the chance line is in the main chart's legend")
    XCTAssertTrue(md.contains("## Per group"))
    XCTAssertTrue(md.contains("## Calibration"))
    XCTAssertTrue(md.contains("| walking_fast | "))
    XCTAssertNil(written.diagnostics?.bootstrap)
  }
}
