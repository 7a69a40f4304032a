import Foundation
import TestSupport
import XCTest

@testable import MMEval

/// report.html in a real browser: headless Chromium (Debian's `chromium`; launch/test.sh installs it)
/// renders it; the screenshot must not be blank, the DOM must hold every chart's SVG, and the page must
/// log nothing to the console. MMTRAIN_SCREENSHOT=path keeps the demo report's screenshot (README's:
/// MMTRAIN_SCREENSHOT=$PWD/Tests/Fixtures/report-screenshot.png swift test --filter ReportRenderingTests).
final class ReportRenderingTests: XCTestCase {
  struct Rendered {
    var dom: String
    var consoleLines: [String]
    var screenshot: PNGImage
    var pngPath: URL
  }

  private func chromiumPath() throws -> String {
    for p in ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]
    where FileManager.default.isExecutableFile(atPath: p) {
      return p
    }
    XCTFail("headless Chromium not found: install Debian's chromium (bash launch/test.sh does)")
    throw XCTSkip("no chromium")
  }

  private func run(_ args: [String], in dir: URL) throws -> (out: String, err: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: try chromiumPath())
    // A fresh profile per run: parallel test runs never share one.
    p.arguments =
      [
        "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
        "--user-data-dir=\(dir.appendingPathComponent("profile-\(UUID().uuidString)").path)",
      ] + args
    let outURL = dir.appendingPathComponent("chromium-\(UUID().uuidString).out")
    let errURL = dir.appendingPathComponent("chromium-\(UUID().uuidString).err")
    XCTAssertTrue(FileManager.default.createFile(atPath: outURL.path, contents: nil), "cannot create \(outURL.path)")
    XCTAssertTrue(FileManager.default.createFile(atPath: errURL.path, contents: nil), "cannot create \(errURL.path)")
    p.standardOutput = try FileHandle(forWritingTo: outURL)
    p.standardError = try FileHandle(forWritingTo: errURL)
    try p.run()
    let deadline = Date().addingTimeInterval(90)
    while p.isRunning && Date() < deadline { usleep(50_000) }
    if p.isRunning {
      p.terminate()
      XCTFail("chromium did not finish in 90 s")
    }
    p.waitUntilExit()
    return (try String(contentsOf: outURL, encoding: .utf8), try String(contentsOf: errURL, encoding: .utf8))
  }

  private func render(_ html: URL, height: Int = 3400) throws -> Rendered {
    let dir = html.deletingLastPathComponent()
    let png = dir.appendingPathComponent("\(html.deletingPathExtension().lastPathComponent).png")
    let shot = try run(
      [
        "--enable-logging=stderr", "--v=0", "--window-size=1360,\(height)", "--screenshot=\(png.path)",
        html.absoluteString,
      ], in: dir)
    let dom = try run(["--dump-dom", html.absoluteString], in: dir).out
    // Console messages (console.*, uncaught exceptions) are logged as INFO:CONSOLE lines.
    let console = shot.err.split(separator: "\n").map(String.init).filter { $0.contains(":CONSOLE") }
    let image = try PNGImage(data: try Data(contentsOf: png))
    return Rendered(dom: dom, consoleLines: console, screenshot: image, pngPath: png)
  }

  func testReportsRenderInHeadlessChromium() throws {
    // report.json of a real run: mpirun -n 4 mmtrain cv --config configs/demo.yaml --set report.ablation=true
    let demo = try ReportFiles.read(fixturesDirectory().appendingPathComponent("report_demo_cv.json"))
    let long = SampleReports.longClassNames
    let diagnostics = ["roc-classes", "pr-classes", "calibration"]
    // a title as long as a deep run directory wraps instead of running off the page
    var regression = SampleReports.regression(ablation: true)
    regression.0.title = String(repeating: "runs/nested-sweep-directory/", count: 8) + "mosi-regression (mosi.yaml)"
    let cases: [(String, Report, Predictions?, [String])] = [
      (
        "demo-cv", demo, nil,
        ["main-metric"] + (0..<5).map { "curves-fold-\($0)" } + ["val-accuracy", "train-accuracy", "confusion-pooled"]
          + (0..<5).map { "confusion-fold-\($0)" } + ["roc", "ablation"]
      ),
      (
        "binary", SampleReports.classification(k: 5, classes: 2).0, SampleReports.classification(k: 5, classes: 2).1,
        ["main-metric"] + (0..<5).map { "curves-fold-\($0)" } + ["val-accuracy", "train-accuracy", "confusion-pooled"]
          + (0..<5).map { "confusion-fold-\($0)" } + ["roc"] + diagnostics + ["ablation"]
      ),
      (
        "multiclass-long-names", SampleReports.classification(k: 3, classes: 6, ablation: false, classNames: long).0,
        SampleReports.classification(k: 3, classes: 6, ablation: false, classNames: long).1,
        ["main-metric"] + (0..<3).map { "curves-fold-\($0)" } + ["val-accuracy", "train-accuracy", "confusion-pooled"]
          + (0..<3).map { "confusion-fold-\($0)" } + diagnostics
      ),
      (
        "regression", regression.0, regression.1,
        ["main-metric"] + (0..<4).map { "curves-fold-\($0)" } + ["scatter", "ablation"]
      ),
      (
        "train", SampleReports.train().0, SampleReports.train().1,
        ["main-metric", "curves", "accuracy", "confusion"] + diagnostics + ["ablation"]
      ),
      (
        "evaluate-ensemble", SampleReports.ensembleEvaluation().0, SampleReports.ensembleEvaluation().1,
        ["main-metric", "confusion"] + diagnostics
      ),
    ]
    // MMTRAIN_SCREENSHOT_DIR=path keeps every case's screenshot, to look at them
    let keepAll = ProcessInfo.processInfo.environment["MMTRAIN_SCREENSHOT_DIR"]
    for (name, report, predictions, charts) in cases {
      let dir = makeTemporaryDirectory("render-\(name)")
      try ReportFiles.write(report, predictions: predictions, to: dir)
      let written = try ReportFiles.read(dir.appendingPathComponent("report.json"))
      let r = try render(dir.appendingPathComponent("report.html"))
      XCTAssertEqual(r.consoleLines, [], "\(name): console messages")
      let found = r.dom.components(separatedBy: "<svg data-chart=\"").dropFirst().map {
        String($0.prefix { $0 != "\"" })
      }
      XCTAssertEqual(found, charts, "\(name): charts in the rendered DOM")
      XCTAssertEqual(HTMLReport.chartIDs(written), charts)
      for id in charts {
        // each chart has drawn content: at least a title and a line or shape
        let svg = r.dom.components(separatedBy: "<svg data-chart=\"\(id)\"")[1].components(separatedBy: "</svg>")[0]
        XCTAssertTrue(
          svg.contains("<polyline") || svg.contains("<rect") || svg.contains("<circle"), "\(name) \(id) is empty")
      }
      let (ink, colours) = r.screenshot.inkAndColours()
      XCTAssertEqual(r.screenshot.width, 1360)
      XCTAssertGreaterThan(ink, 0.02, "\(name): the screenshot is (nearly) blank")
      XCTAssertGreaterThan(colours, 50, "\(name): the screenshot has only \(colours) colours")
      if let keepAll {
        let to = URL(fileURLWithPath: keepAll).appendingPathComponent("\(name).png")
        try? FileManager.default.removeItem(at: to)
        try FileManager.default.copyItem(at: r.pngPath, to: to)
      }
      if name == "demo-cv", let keep = ProcessInfo.processInfo.environment["MMTRAIN_SCREENSHOT"] {
        try? FileManager.default.removeItem(atPath: keep)
        try FileManager.default.copyItem(at: r.pngPath, to: URL(fileURLWithPath: keep))
      }
    }
  }

  /// Rotated tick labels get room: no label of a 12-character class name starts left of the SVG or below it.
  func testLongClassNamesFitTheirCharts() {
    let names = SampleReports.longClassNames
    let (r, _) = SampleReports.classification(k: 3, classes: 6, ablation: false, classNames: names)
    let html = HTMLReport.render(r)
    let svg = html.components(separatedBy: "<svg data-chart=\"confusion-pooled\"")[1]
      .components(separatedBy: "</svg>")[0]
    let height = Double(svg.components(separatedBy: "height=\"")[1].prefix { $0 != "\"" })!
    XCTAssertTrue(svg.contains("rotate(-40"), "long x labels are rotated")
    // each name twice: a row label and a column label
    for name in names { XCTAssertEqual(svg.components(separatedBy: ">\(name)<").count - 1, 2, name) }
    // the rotated labels' vertical extent fits below the plot: 12 chars × 5.8 px × sin 40°
    XCTAssertGreaterThan(height, 300 + 70 + 12 * 5.8 * sin(40 * Double.pi / 180) - 1)
  }

  /// The checks above can fail: a blank page and a page with a script error are caught.
  func testChecksCatchABlankPageAndConsoleErrors() throws {
    let dir = makeTemporaryDirectory("render-canary")
    let blank = dir.appendingPathComponent("blank.html")
    try Data("<!DOCTYPE html><html><body></body></html>".utf8).write(to: blank)
    let b = try render(blank, height: 600)
    XCTAssertLessThan(b.screenshot.inkAndColours().ink, 0.001)
    let bad = dir.appendingPathComponent("bad.html")
    try Data(
      "<!DOCTYPE html><html><body><p>x</p><script>console.error('boom'); missingFunction();</script></body></html>".utf8
    ).write(to: bad)
    let r = try render(bad, height: 600)
    XCTAssertEqual(r.consoleLines.count, 2, r.consoleLines.joined(separator: "\n"))
  }
}
