import Foundation

/// report.html: one self-contained page (inline CSS and SVG; no JavaScript, no network) with the tables
/// of report.md and the charts: per-fold training curves, the main metric per fold with mean and CI,
/// confusion matrices, ROC curves (binary), predicted vs true (regression) and the modality ablation.
public enum HTMLReport {
  /// The `data-chart` IDs the page holds for this report, in page order.
  public static func chartIDs(_ r: Report) -> [String] {
    var ids = ["main-metric"] + r.folds.filter { !$0.curves.isEmpty }.map { "curves-fold-\($0.fold)" }
    if r.task.isClassification && r.folds.contains(where: { $0.curves.contains { $0.valAccuracy != nil } }) {
      ids.append("val-accuracy")
    }
    if r.task.isClassification {
      ids.append("confusion-pooled")
      if r.folds.count > 1 { ids += r.folds.map { "confusion-fold-\($0.fold)" } }
      if r.folds.contains(where: { $0.metrics.classification?.roc != nil }) { ids.append("roc") }
    } else {
      ids.append("scatter")
    }
    if let a = r.ablation, !a.isEmpty { ids.append("ablation") }
    return ids
  }

  public static func render(_ r: Report) -> String {
    var charts: [String: String] = [:]
    for f in r.folds where !f.curves.isEmpty { charts["curves-fold-\(f.fold)"] = curves(f) }
    charts["val-accuracy"] = validationAccuracy(r)
    charts["main-metric"] = mainMetricBars(r)
    if r.task.isClassification {
      if let pooled = ReportFormat.pooledConfusion(r) {
        charts["confusion-pooled"] = heatmap("confusion-pooled", "Confusion matrix, all folds", pooled, r, size: 300)
      }
      for f in r.folds { if let c = f.metrics.classification { charts["confusion-fold-\(f.fold)"] = heatmap("confusion-fold-\(f.fold)", "Fold \(f.fold)", c.confusion, r, size: 220) } }
      charts["roc"] = roc(r)
    } else {
      charts["scatter"] = scatter(r)
    }
    charts["ablation"] = ablation(r)
    let ids = chartIDs(r)
    func section(_ title: String, _ note: String, _ prefix: (String) -> Bool) -> String {
      let svgs = ids.filter(prefix).compactMap { charts[$0] }
      guard !svgs.isEmpty else { return "" }
      return "<h2>\(SVGChart.escape(title))</h2><p class=\"note\">\(note)</p><div class=\"charts\">" + svgs.joined() + "</div>"
    }

    let md = tables(r)
    var page = """
      <!DOCTYPE html>
      <html lang="en"><head><meta charset="utf-8"><title>\(SVGChart.escape(r.title))</title>
      <style>
      body{font:14px/1.45 -apple-system,"Segoe UI",Helvetica,Arial,sans-serif;color:#222;margin:24px auto;max-width:1320px;padding:0 16px}
      h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 4px;border-bottom:1px solid #ddd;padding-bottom:3px}
      table{border-collapse:collapse;margin:8px 0;font-variant-numeric:tabular-nums}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}
      th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}.main{background:#fff6d5}
      .charts{display:flex;flex-wrap:wrap;gap:10px}.charts svg{border:1px solid #eee;background:#fff}
      .tick{font-size:10px;fill:#555}.axis{font-size:11px;fill:#333}.title{font-size:12px;font-weight:600;fill:#222}
      .note{color:#666;margin:2px 0}.warn{background:#fff3f3;border-left:3px solid #d62728;padding:4px 8px}
      pre{background:#f7f7f7;padding:8px;overflow:auto;font-size:12px}
      </style></head><body>
      <h1>\(SVGChart.escape(r.title))</h1>
      <p class="note">\(SVGChart.escape(ReportFormat.headline(r))). mmtrain \(SVGChart.escape(r.mmtrainVersion)), \(r.worldSize) rank(s), \(ReportFormat.seconds(r.timing.totalSeconds)), \(SVGChart.escape(r.created)). Data <code>\(SVGChart.escape(r.data.path))</code>\(r.data.fingerprint.map { " (fingerprint <code>\(SVGChart.escape($0))</code>)" } ?? "").</p>

      """
    for w in r.warnings { page += "<p class=\"warn\">warning: \(SVGChart.escape(w))</p>\n" }
    page += md.summary
    page += section(
      "\(r.task.mainMetric) per \(r.kind == .cv ? "fold" : "run")",
      "Bars: each \(ReportFormat.setName(r)); line: the mean; band: its 95% confidence interval.", { $0 == "main-metric" })
    page += md.perFold
    page += section(
      "Training curves", "Loss per epoch: training (solid) and the inner validation split (dashed).",
      { $0.hasPrefix("curves-") || $0 == "val-accuracy" })
    if r.task.isClassification {
      page += section(
        "Confusion matrices", "Rows: true class; columns: predicted class; shade: share of the row.",
        { $0.hasPrefix("confusion-") })
      page += md.perClass
      page += section("ROC curves", "Class 1 against class 0, one curve per \(ReportFormat.setName(r)); AUC in the legend.", { $0 == "roc" })
    } else {
      page += section("Predicted vs true", "Each point a test sample, coloured by fold; the diagonal is a perfect prediction.", { $0 == "scatter" })
    }
    page += section(
      "Modality ablation",
      "Drop of \(r.task.mainMetric) with the modality masked (zero features, length 0): bar = mean, whisker = 95% CI, dots = folds.",
      { $0 == "ablation" })
    page += md.ablation
    page += "<h2>Configuration</h2><pre>\(SVGChart.escape(r.config))</pre>\n</body></html>\n"
    return page
  }

  // MARK: - tables

  private static func tables(_ r: Report) -> (summary: String, perFold: String, perClass: String, ablation: String) {
    let k = r.folds.count
    var summary = "<h2>Summary</h2>"
    if k > 1 {
      summary += "<p class=\"note\">Mean ± sample std over \(k) folds; 95% CI of the mean (t distribution, \(k - 1) df).</p>"
      summary += "<table><tr><th>metric</th><th>mean ± std</th><th>95% CI</th><th>folds</th>" + (r.pooled == nil ? "" : "<th>pooled</th>") + "</tr>"
      for s in r.summary {
        summary += "<tr\(s.metric == r.task.mainMetric ? " class=\"main\"" : "")><td>\(s.metric)</td><td>\(ReportFormat.meanStd(s))</td><td>\(ReportFormat.ci(s))</td><td>\(s.n)</td>"
        summary += (r.pooled.map { "<td>\(ReportFormat.value($0.scalar(s.metric)))</td>" } ?? "") + "</tr>"
      }
    } else {
      summary += "<table><tr><th>metric</th><th>value</th></tr>"
      for s in r.summary { summary += "<tr\(s.metric == r.task.mainMetric ? " class=\"main\"" : "")><td>\(s.metric)</td><td>\(ReportFormat.value(s.mean))</td></tr>" }
    }
    summary += "</table>\n"
    if r.pooled != nil && k > 1 {
      summary += "<p class=\"note\">pooled: the metric of all out-of-fold predictions taken together (each sample once).</p>\n"
    }

    let cols = ReportFormat.foldColumns(r)
    var perFold = "<h2>Per fold</h2><table><tr><th>fold</th><th>train</th><th>validation</th><th>\(ReportFormat.setName(r))</th><th>epochs</th><th>time</th>"
    perFold += cols.map { "<th>\($0)</th>" }.joined() + "</tr>"
    for f in r.folds {
      perFold += "<tr><td>\(f.fold)</td><td>\(f.nTrain)</td><td>\(f.nValidation)</td><td>\(f.nTest)</td><td>\(f.epochs)</td><td>\(ReportFormat.seconds(f.seconds))</td>"
      perFold += cols.map { "<td>\(ReportFormat.value(f.metrics.scalar($0)))</td>" }.joined() + "</tr>"
    }
    perFold += "</table>\n"

    var perClass = ""
    if let confusion = ReportFormat.pooledConfusion(r) {
      perClass = "<h2>Per class</h2><p class=\"note\">Mean over the folds; support summed.</p><table><tr><th>class</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr>"
      for c in confusion.indices {
        func mean(_ pick: (ClassificationMetrics) -> Double) -> String {
          let v = r.folds.compactMap { $0.metrics.classification.map(pick) }
          return ReportFormat.value(v.reduce(0, +) / Double(v.count))
        }
        perClass += "<tr><td>\(SVGChart.escape(ReportFormat.className(r, c)))</td><td>\(mean { $0.precision[c] })</td><td>\(mean { $0.recall[c] })</td><td>\(mean { $0.f1[c] })</td><td>\(confusion[c].reduce(0, +))</td></tr>"
      }
      perClass += "</table>\n"
    }

    var ablation = ""
    if let rows = r.ablation, !rows.isEmpty {
      ablation = "<table><tr><th>modality</th>" + r.folds.map { "<th>fold \($0.fold)</th>" }.joined() + "<th>mean ± std</th><th>95% CI</th></tr>"
      for a in rows {
        ablation += "<tr><td>\(SVGChart.escape(a.modality))</td>" + a.drops.map { "<td>\(ReportFormat.value($0))</td>" }.joined()
        ablation += "<td>\(ReportFormat.meanStd(a.summary))</td><td>\(ReportFormat.ci(a.summary))</td></tr>"
      }
      ablation += "</table>\n"
    }
    return (summary, perFold, perClass, ablation)
  }

  // MARK: - charts

  private static func curves(_ f: FoldResult) -> String {
    let train = f.curves.compactMap { p in p.trainLoss.map { (Double(p.epoch), $0) } }
    let val = f.curves.compactMap { p in p.valLoss.map { (Double(p.epoch), $0) } }
    let epochs = f.curves.map { Double($0.epoch) }
    var c = SVGChart(
      id: "curves-fold-\(f.fold)", width: 320, height: 220, x: (epochs.min() ?? 0, epochs.max() ?? 1),
      y: SVGChart.domain((train + val).map(\.1), include: [0]))
    c.axes(title: "Fold \(f.fold): loss", xLabel: "epoch", yLabel: "loss", xTicks: epochTicks(c))
    c.polyline(train, color: SVGChart.color(0))
    c.polyline(val, color: SVGChart.color(1), dashed: true)
    c.legend([("train", SVGChart.color(0), false)] + (val.isEmpty ? [] : [("validation", SVGChart.color(1), true)]))
    return c.svg
  }

  private static func epochTicks(_ c: SVGChart) -> [(Double, String)] {
    SVGChart.niceTicks(c.xDomain.0, c.xDomain.1, integer: true).map { ($0, SVGChart.label($0)) }
  }

  private static func validationAccuracy(_ r: Report) -> String {
    let series = r.folds.map { f in f.curves.compactMap { p in p.valAccuracy.map { (Double(p.epoch), $0) } } }
    let epochs = r.folds.flatMap { $0.curves.map { Double($0.epoch) } }
    var c = SVGChart(id: "val-accuracy", width: 320, height: 220, x: (epochs.min() ?? 0, epochs.max() ?? 1), y: (0, 1))
    c.axes(title: "Validation accuracy", xLabel: "epoch", yLabel: "accuracy", xTicks: epochTicks(c))
    for (i, s) in series.enumerated() { c.polyline(s, color: SVGChart.color(i)) }
    c.legend(r.folds.count > 1 ? r.folds.prefix(8).map { ("fold \($0.fold)", SVGChart.color($0.fold), false) } : [])
    return c.svg
  }

  private static func mainMetricBars(_ r: Report) -> String {
    let name = r.task.mainMetric
    let values = r.folds.map { $0.metrics.scalar(name) }
    let s = r.summary(of: name)
    let bounded = !EvalMetrics.lowerIsBetter.contains(name) && name != "r2" && name != "pearson"
    let all = values.compactMap { $0 } + [s?.ciLow, s?.ciHigh].compactMap { $0 }
    let y = bounded ? (0.0, max(1.0, all.max() ?? 1)) : SVGChart.domain(all, include: [0])
    let n = Double(r.folds.count)
    var c = SVGChart(id: "main-metric", width: max(540, 90 + 56 * n), height: 260, x: (0, n), y: y)
    let title = "\(name) per \(ReportFormat.setName(r))" + (s?.mean.map { ": mean \(ReportFormat.value($0))" } ?? "")
      + (s?.ciLow != nil ? " (95% CI \(ReportFormat.ci(s!)))" : "")
    c.axes(title: title, xLabel: r.kind == .cv ? "fold" : "", yLabel: name,
           xTicks: r.folds.enumerated().map { (Double($0.offset) + 0.5, "\($0.element.fold)") })
    if let lo = s?.ciLow, let hi = s?.ciHigh {
      c.add("<rect x=\"\(c.f(c.px(0)))\" y=\"\(c.f(c.py(hi)))\" width=\"\(c.f(c.px(n) - c.px(0)))\" height=\"\(c.f(c.py(lo) - c.py(hi)))\" fill=\"#ff7f0e\" fill-opacity=\"0.15\"/>")
    }
    for (i, v) in values.enumerated() {
      guard let v else { continue }
      let x0 = c.px(Double(i) + 0.2), x1 = c.px(Double(i) + 0.8), base = c.py(max(y.0, 0)), top = c.py(v)
      c.add("<rect x=\"\(c.f(x0))\" y=\"\(c.f(min(base, top)))\" width=\"\(c.f(x1 - x0))\" height=\"\(c.f(abs(base - top)))\" fill=\"\(SVGChart.color(0))\"/>")
      c.add("<text x=\"\(c.f((x0 + x1) / 2))\" y=\"\(c.f(top - 4))\" text-anchor=\"middle\" class=\"tick\">\(ReportFormat.value(v))</text>")
    }
    if let m = s?.mean { c.polyline([(0, m), (n, m)], color: "#d62728", dashed: true) }
    return c.svg
  }

  private static func heatmap(_ id: String, _ title: String, _ m: [[Int]], _ r: Report, size: Double) -> String {
    let k = Double(m.count)
    var c = SVGChart(id: id, width: size + 70, height: size + 70, x: (0, k), y: (k, 0))
    c.axes(title: title, xLabel: "predicted", yLabel: "true", xTicks: (0..<m.count).map { (Double($0) + 0.5, ReportFormat.className(r, $0)) }, yTicks: false)
    for i in m.indices {
      let rowTotal = max(1, m[i].reduce(0, +))
      c.add("<text x=\"\(c.f(c.left - 5))\" y=\"\(c.f(c.py(Double(i) + 0.5)))\" text-anchor=\"end\" dominant-baseline=\"middle\" class=\"tick\">\(SVGChart.escape(ReportFormat.className(r, i)))</text>")
      for j in m[i].indices {
        let share = Double(m[i][j]) / Double(rowTotal)
        let x0 = c.px(Double(j)), y0 = c.py(Double(i)), w = c.px(Double(j) + 1) - x0, h = c.py(Double(i) + 1) - y0
        c.add("<rect x=\"\(c.f(x0))\" y=\"\(c.f(y0))\" width=\"\(c.f(w))\" height=\"\(c.f(h))\" fill=\"#1f77b4\" fill-opacity=\"\(c.f(0.05 + 0.9 * share))\" stroke=\"#fff\"/>")
        if m.count <= 12 {
          c.add("<text x=\"\(c.f(x0 + w / 2))\" y=\"\(c.f(y0 + h / 2))\" text-anchor=\"middle\" dominant-baseline=\"middle\" class=\"tick\" style=\"fill:\(share > 0.5 ? "#fff" : "#222")\">\(m[i][j])</text>")
        }
      }
    }
    return c.svg
  }

  private static func roc(_ r: Report) -> String {
    var c = SVGChart(id: "roc", width: 340, height: 320, x: (0, 1), y: (0, 1))
    c.axes(title: "ROC (class 1)", xLabel: "false positive rate", yLabel: "true positive rate")
    c.polyline([(0, 0), (1, 1)], color: "#999", dashed: true, width: 1)
    var legend: [(String, String, Bool)] = []
    for f in r.folds {
      guard let m = f.metrics.classification, let curve = m.roc else { continue }
      c.polyline(Array(zip(curve.fpr, curve.tpr)), color: SVGChart.color(f.fold))
      legend.append(("\(r.kind == .cv ? "fold \(f.fold) " : "")AUC \(ReportFormat.value(m.rocAuc))", SVGChart.color(f.fold), false))
    }
    c.legend(Array(legend.prefix(10)))
    return c.svg
  }

  private static func scatter(_ r: Report) -> String {
    let pts = r.folds.map { f in (f.fold, f.metrics.regression?.scatter ?? []) }
    let all = pts.flatMap { $0.1.flatMap { $0 } }
    let d = SVGChart.domain(all)
    var c = SVGChart(id: "scatter", width: 360, height: 340, x: d, y: d)
    c.axes(title: "Predicted vs true", xLabel: "true", yLabel: "predicted")
    c.polyline([(d.0, d.0), (d.1, d.1)], color: "#999", dashed: true, width: 1)
    let total = max(1, pts.map { $0.1.count }.reduce(0, +))
    let radius = total > 1000 ? 1.6 : 2.6
    for (fold, points) in pts { for p in points { c.circle(p[0], p[1], r: radius, color: SVGChart.color(fold), opacity: 0.55) } }
    return c.svg
  }

  private static func ablation(_ r: Report) -> String? {
    guard let rows = r.ablation, !rows.isEmpty else { return nil }
    let values = rows.flatMap { $0.drops.compactMap { $0 } + [$0.summary.ciLow, $0.summary.ciHigh].compactMap { $0 } }
    let n = Double(rows.count)
    var c = SVGChart(id: "ablation", width: max(320, 100 + 80 * n), height: 260, x: (0, n), y: SVGChart.domain(values, include: [0]))
    c.axes(title: "Drop of \(r.task.mainMetric) without each modality", xLabel: "masked modality", yLabel: "drop",
           xTicks: rows.enumerated().map { (Double($0.offset) + 0.5, $0.element.modality) })
    c.polyline([(0, 0), (n, 0)], color: "#333", width: 1)
    for (i, a) in rows.enumerated() {
      let x = Double(i)
      if let m = a.summary.mean {
        let x0 = c.px(x + 0.25), x1 = c.px(x + 0.75), base = c.py(0), top = c.py(m)
        c.add("<rect x=\"\(c.f(x0))\" y=\"\(c.f(min(base, top)))\" width=\"\(c.f(x1 - x0))\" height=\"\(c.f(abs(base - top)))\" fill=\"\(SVGChart.color(2))\" fill-opacity=\"0.8\"/>")
      }
      if let lo = a.summary.ciLow, let hi = a.summary.ciHigh {
        c.polyline([(x + 0.5, lo), (x + 0.5, hi)], color: "#333", width: 1.2)
      }
      for (j, d) in a.drops.enumerated() { if let d { c.circle(x + 0.35 + 0.3 * Double(j) / max(1, Double(a.drops.count - 1)), d, r: 2.5, color: "#222", opacity: 0.7) } }
    }
    return c.svg
  }
}
