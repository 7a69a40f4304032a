import Foundation
import TestSupport
import XCTest

@testable import MMEval

final class ReportTests: XCTestCase {
  func testJSONRoundTripAndSnakeCaseKeys() throws {
    for (report, predictions) in [SampleReports.classification(), SampleReports.regression(), SampleReports.classification(classes: 4)] {
      let dir = makeTemporaryDirectory("report")
      try ReportFiles.write(report, predictions: predictions, to: dir)
      let back = try ReportFiles.read(dir.appendingPathComponent("report.json"))
      XCTAssertEqual(back, report)
      let text = try String(contentsOf: dir.appendingPathComponent("report.json"), encoding: .utf8)
      for key in ["\"format_version\"", "\"mmtrain_version\"", "\"world_size\"", "\"main_metric\"", "\"n_train\"", "\"ci_low\""] {
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
    XCTAssertTrue(md.contains("| fold | train | validation | test fold | epochs | time | accuracy | balanced_accuracy | macro_f1"))
    XCTAssertEqual(md.components(separatedBy: "\n").filter { $0.hasPrefix("| 3 |") }.count, 1)
    XCTAssertTrue(md.contains("## Modality ablation"))
    XCTAssertTrue(md.contains("| text |"))
    XCTAssertTrue(md.contains("| positive |"), "class names in the per-class table")
  }

  func testPredictionsCSV() {
    let csv = Predictions(
      kind: .classification(classNames: ["a", "b"]),
      rows: [.init(index: 0, group: 7, fold: 1, label: [1], outputs: [0.25, 0.75]), .init(index: 1, group: nil, fold: nil, label: nil, outputs: [0.5, 0.5])]
    ).csv()
    XCTAssertEqual(csv, "index,group,fold,label,prediction,prob_a,prob_b\n0,7,1,1,1,0.25,0.75\n1,,,,0,0.5,0.5\n")
    let reg = Predictions(kind: .regression(columns: 2), rows: [.init(index: 3, group: nil, fold: 0, label: [1, 2], outputs: [1.5, 2.5])]).csv()
    XCTAssertEqual(reg, "index,group,fold,label_0,label_1,prediction_0,prediction_1\n3,,0,1,2,1.5,2.5\n")
  }

  func testHTMLHoldsEveryChartAndNoExternalReference() {
    let (binary, _) = SampleReports.classification(k: 3)
    let html = HTMLReport.render(binary)
    let expected = ["curves-fold-0", "curves-fold-1", "curves-fold-2", "val-accuracy", "main-metric", "confusion-pooled",
                    "confusion-fold-0", "confusion-fold-2", "roc", "ablation"]
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
}
