import Foundation

/// The charts of report.html drawn from report.diagnostics: per-class ROC and precision–recall curves
/// and the reliability diagram.
enum DiagnosticCharts {
  typealias Entry = SVGChart.LegendEntry

  static func curvesNote(_ r: Report) -> String {
    var parts: [String] = []
    if !HTMLCharts.foldROC(r).isEmpty { parts.append("Per fold: class 1 against class 0, one curve per test fold.") }
    if let curves = r.diagnostics?.classCurves, !curves.isEmpty {
      let over = r.isSingleRun ? "all \(r.diagnostics!.n) predictions" : "the pooled out-of-fold predictions"
      parts.append(
        curves.count == 1
          ? "Class \(SVGChart.escape(curves[0].name)) (the positive class) against the rest, over \(over)."
          : "Each class against the rest (one-vs-rest), over \(over); "
            + "AUC and average precision in the legend and table."
      )
    }
    return parts.joined(separator: " ")
  }

  static func classCurves(_ r: Report) -> [(id: String, svg: String)] {
    guard let curves = r.diagnostics?.classCurves, !curves.isEmpty else { return [] }
    let withROC = curves.filter { $0.roc != nil }
    let withPR = curves.filter { $0.pr != nil }
    var out: [(String, String)] = []
    if !withROC.isEmpty {
      let legend = withROC.map {
        Entry(name: "\($0.name) AUC \(ReportFormat.value($0.auc))", color: SVGChart.color($0.classIndex))
      }
      var c = SVGChart(id: "roc-classes", width: 280, height: 280, x: (0, 1), y: (0, 1), legend: legend)
      c.axes(
        title: curves.count == 1 ? "ROC" : "ROC, one-vs-rest", xLabel: "false positive rate",
        yLabel: "true positive rate")
      c.polyline([(0, 0), (1, 1)], color: "#999", dashed: true, width: 1)
      for k in withROC { c.polyline(Array(zip(k.roc!.fpr, k.roc!.tpr)), color: SVGChart.color(k.classIndex)) }
      out.append(("roc-classes", c.svg))
    }
    if !withPR.isEmpty {
      let legend = withPR.map {
        Entry(name: "\($0.name) AP \(ReportFormat.value($0.averagePrecision))", color: SVGChart.color($0.classIndex))
      }
      var c = SVGChart(id: "pr-classes", width: 280, height: 280, x: (0, 1), y: (0, 1), legend: legend)
      c.axes(
        title: curves.count == 1 ? "Precision–recall" : "Precision–recall, one-vs-rest", xLabel: "recall",
        yLabel: "precision")
      for k in withPR {
        // the step function average precision integrates: precision holds until the next recall
        var steps: [(Double, Double)] = []
        for (i, (rec, prec)) in zip(k.pr!.recall, k.pr!.precision).enumerated() {
          if i > 0 { steps.append((rec, steps.last!.1)) }
          steps.append((rec, prec))
        }
        c.polyline(steps, color: SVGChart.color(k.classIndex))
      }
      out.append(("pr-classes", c.svg))
    }
    return out
  }

  static func calibrationNote(_ r: Report) -> String {
    guard let cal = r.diagnostics?.calibration else { return "" }
    let what =
      cal.quantity == "positive_probability"
      ? "P(positive class) in 10 equal-width bins against the share of positives in each bin"
      : "the top class's probability (confidence) in 10 equal-width bins against the accuracy in each bin"
    return "Reliability diagram: \(what); dot size: samples in the bin; the diagonal is perfect calibration. "
      + "ECE = Σ (n_b / N) |accuracy_b − confidence_b| = \(ReportFormat.value(cal.ece))."
  }

  static func calibration(_ r: Report) -> [(id: String, svg: String)] {
    guard let cal = r.diagnostics?.calibration else { return [] }
    let binary = cal.quantity == "positive_probability"
    let legend = [Entry(name: "ECE \(ReportFormat.value(cal.ece))", color: SVGChart.color(0), style: .dot)]
    var c = SVGChart(id: "calibration", width: 280, height: 280, x: (0, 1), y: (0, 1), legend: legend)
    c.axes(
      title: "Reliability", xLabel: binary ? "mean P(positive)" : "mean confidence",
      yLabel: binary ? "share positive" : "accuracy")
    c.polyline([(0, 0), (1, 1)], color: "#999", dashed: true, width: 1)
    let filled = cal.bins.filter { $0.count > 0 }
    let most = Double(filled.map(\.count).max() ?? 1)
    for b in filled {
      // each bin as a pale bar of its accuracy over its probability range, the mean point on top
      let x0 = c.px(b.lower)
      let x1 = c.px(b.upper)
      let top = c.py(b.accuracy ?? 0)
      let base = c.py(0)
      c.rect(x: x0 + 1, y: top, width: x1 - x0 - 2, height: base - top, fill: "#1f77b4", opacity: 0.12)
    }
    c.polyline(filled.map { ($0.confidence ?? 0, $0.accuracy ?? 0) }, color: SVGChart.color(0), width: 1.4)
    for b in filled {
      c.circle(
        b.confidence ?? 0, b.accuracy ?? 0, r: 2 + 4 * (Double(b.count) / most).squareRoot(), color: SVGChart.color(0),
        opacity: 0.8)
    }
    return [("calibration", c.svg)]
  }
}
