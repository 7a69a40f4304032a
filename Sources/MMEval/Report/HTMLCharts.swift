import Foundation

/// The charts of report.html drawn from the fold results: training curves, the main metric, confusion
/// matrices, per-fold ROC curves, predicted vs true and the modality ablation.
enum HTMLCharts {
  typealias Entry = SVGChart.LegendEntry
  static let baselineColors = ["chance": "#7f7f7f", "majority": "#9467bd", "mean": "#7f7f7f"]

  // MARK: - training curves

  static func curves(_ r: Report) -> [(id: String, svg: String)] {
    var out: [(String, String)] = []
    for f in r.folds where !f.curves.isEmpty {
      let id = r.isSingleRun ? "curves" : "curves-fold-\(f.fold)"
      out.append((id, loss(f, id: id, title: r.isSingleRun ? "Loss" : "Fold \(f.fold): loss")))
    }
    guard r.task.isClassification else { return out }
    if r.isSingleRun, let f = r.folds.first,
      f.curves.contains(where: { $0.valAccuracy != nil || $0.trainAccuracy != nil })
    {
      out.append(("accuracy", singleAccuracy(f)))
    } else if !r.isSingleRun {
      if r.folds.contains(where: { $0.curves.contains { $0.valAccuracy != nil } }) {
        out.append(
          ("val-accuracy", foldAccuracy(r, id: "val-accuracy", title: "Validation accuracy", pick: \.valAccuracy)))
      }
      if r.folds.contains(where: { $0.curves.contains { $0.trainAccuracy != nil } }) {
        out.append(
          ("train-accuracy", foldAccuracy(r, id: "train-accuracy", title: "Training accuracy", pick: \.trainAccuracy)))
      }
    }
    return out
  }

  private static func series(_ f: FoldResult, _ pick: KeyPath<EpochPoint, Double?>) -> [(Double, Double)] {
    f.curves.compactMap { p in p[keyPath: pick].map { (Double(p.epoch), $0) } }
  }

  private static func epochDomain(_ folds: [FoldResult]) -> (Double, Double) {
    let epochs = folds.flatMap { $0.curves.map { Double($0.epoch) } }
    return (epochs.min() ?? 0, epochs.max() ?? 1)
  }

  private static func epochTicks(_ c: SVGChart) -> [(Double, String)] {
    SVGChart.niceTicks(c.xDomain.0, c.xDomain.1, integer: true).map { ($0, SVGChart.label($0)) }
  }

  private static func bestEpochEntry(_ f: FoldResult) -> [Entry] {
    guard let b = f.bestEpoch else { return [] }
    return [
      Entry(name: "best epoch \(b)\(f.stoppedEarly == true ? " (early stop)" : "")", color: "#444", style: .dotted)
    ]
  }

  private static func loss(_ f: FoldResult, id: String, title: String) -> String {
    let train = series(f, \.trainLoss)
    let val = series(f, \.valLoss)
    let legend =
      [Entry(name: "train", color: SVGChart.color(0))]
      + (val.isEmpty ? [] : [Entry(name: "validation", color: SVGChart.color(1), style: .dashed)]) + bestEpochEntry(f)
    var c = SVGChart(
      id: id, width: 300, height: 220, x: epochDomain([f]), y: SVGChart.domain((train + val).map(\.1), include: [0]),
      legend: legend)
    c.axes(title: title, xLabel: "epoch", yLabel: "loss", xTicks: epochTicks(c))
    c.polyline(train, color: SVGChart.color(0))
    c.polyline(val, color: SVGChart.color(1), dashed: true)
    if let b = f.bestEpoch { c.verticalMarker(Double(b)) }
    return c.svg
  }

  private static func singleAccuracy(_ f: FoldResult) -> String {
    let train = series(f, \.trainAccuracy)
    let val = series(f, \.valAccuracy)
    let legend =
      (train.isEmpty ? [] : [Entry(name: "train", color: SVGChart.color(0))])
      + (val.isEmpty ? [] : [Entry(name: "validation", color: SVGChart.color(1), style: .dashed)]) + bestEpochEntry(f)
    var c = SVGChart(id: "accuracy", width: 300, height: 220, x: epochDomain([f]), y: (0, 1), legend: legend)
    c.axes(title: "Accuracy", xLabel: "epoch", yLabel: "accuracy", xTicks: epochTicks(c))
    c.polyline(train, color: SVGChart.color(0))
    c.polyline(val, color: SVGChart.color(1), dashed: true)
    if let b = f.bestEpoch { c.verticalMarker(Double(b)) }
    return c.svg
  }

  private static func foldAccuracy(_ r: Report, id: String, title: String, pick: KeyPath<EpochPoint, Double?>) -> String
  {
    let legend = r.folds.count > 1 ? r.folds.map { Entry(name: "fold \($0.fold)", color: SVGChart.color($0.fold)) } : []
    var c = SVGChart(id: id, width: 300, height: 220, x: epochDomain(r.folds), y: (0, 1), legend: legend)
    c.axes(title: title, xLabel: "epoch", yLabel: "accuracy", xTicks: epochTicks(c))
    for f in r.folds {
      c.polyline(series(f, pick), color: SVGChart.color(f.fold))
      if let b = f.bestEpoch {
        c.circle(Double(b), series(f, pick).first { $0.0 == Double(b) }?.1 ?? 0, r: 3, color: SVGChart.color(f.fold))
      }
    }
    return c.svg
  }

  // MARK: - main metric

  private static func baselineEntries(_ r: Report) -> [(Baseline, Entry)] {
    ReportFormat.baselines(r, metric: r.task.mainMetric).map {
      (
        $0,
        Entry(
          name: "\($0.name) \(ReportFormat.value($0.value))", color: baselineColors[$0.name] ?? "#7f7f7f",
          style: .dashed)
      )
    }
  }

  private static func yRange(_ name: String, _ values: [Double]) -> (Double, Double) {
    let bounded = !EvalMetrics.lowerIsBetter.contains(name) && name != "r2" && name != "pearson"
    return bounded ? (0.0, max(1.0, values.max() ?? 1)) : SVGChart.domain(values, include: [0])
  }

  /// A bar with its value written above it (above `labelOver` too, e.g. the top of a whisker).
  private static func bar(_ c: inout SVGChart, _ i: Int, _ v: Double, color: String, labelOver: Double? = nil) {
    let x0 = c.px(Double(i) + 0.2)
    let x1 = c.px(Double(i) + 0.8)
    let base = c.py(max(c.yDomain.0, 0))
    let top = c.py(v)
    let labelY = min(base, top, labelOver.map { c.py($0) } ?? top) - 4
    c.rect(x: x0, y: min(base, top), width: x1 - x0, height: abs(base - top), fill: color)
    c.text(x: (x0 + x1) / 2, y: labelY, ReportFormat.value(v), centred: false)
  }

  static func mainMetricFolds(_ r: Report) -> String {
    let name = r.task.mainMetric
    let values = r.folds.map { $0.metrics.scalar(name) }
    let s = r.summary(of: name)
    let baselines = baselineEntries(r)
    let y = yRange(name, values.compactMap { $0 } + [s?.ciLow, s?.ciHigh].compactMap { $0 } + baselines.map(\.0.value))
    let n = Double(r.folds.count)
    let legend =
      [Entry(name: "mean", color: "#d62728", style: .dashed)]
      + (s?.ciLow == nil ? [] : [Entry(name: "95% CI", color: "#ffd9b8", style: .box)]) + baselines.map(\.1)
    var c = SVGChart(id: "main-metric", width: max(480, 90 + 56 * n), height: 260, x: (0, n), y: y, legend: legend)
    let title =
      "\(name) per fold" + (s?.mean.map { ": mean \(ReportFormat.value($0))" } ?? "")
      + (s?.ciLow != nil ? " (95% CI \(ReportFormat.ci(s!)))" : "")
    c.axes(
      title: title, xLabel: "fold", yLabel: name,
      xTicks: r.folds.enumerated().map { (Double($0.offset) + 0.5, "\($0.element.fold)") })
    if let lo = s?.ciLow, let hi = s?.ciHigh {
      c.rect(
        x: c.px(0), y: c.py(hi), width: c.px(n) - c.px(0), height: c.py(lo) - c.py(hi), fill: "#ff7f0e", opacity: 0.15)
    }
    for (i, v) in values.enumerated() { if let v { bar(&c, i, v, color: SVGChart.color(0)) } }
    if let m = s?.mean { c.polyline([(0, m), (n, m)], color: "#d62728", dashed: true) }
    for (b, e) in baselines { c.polyline([(0, b.value), (n, b.value)], color: e.color, dashed: true, width: 1.3) }
    return c.svg
  }

  /// train / evaluate: the result (and each ensemble member) with bootstrap whiskers and the baselines.
  static func mainMetricSingle(_ r: Report) -> String {
    let name = r.task.mainMetric
    let result = r.folds.first?.metrics.scalar(name)
    let bars: [(String, Double?)] =
      (r.ensemble ?? []).map { ($0.name, $0.metrics.scalar(name)) }
      + [(r.ensemble == nil ? "model" : "ensemble", result)]
    let interval = r.diagnostics?.interval(of: name)
    let baselines = baselineEntries(r)
    let y = yRange(
      name, bars.compactMap(\.1) + [interval?.low, interval?.high].compactMap { $0 } + baselines.map(\.0.value))
    let n = Double(bars.count)
    let legend = (interval?.low == nil ? [] : [Entry(name: "95% CI (bootstrap)", color: "#333")]) + baselines.map(\.1)
    var c = SVGChart(
      id: "main-metric", width: max(300, 120 + 70 * n), height: 260, x: (0, n), y: y, legend: legend,
      xTickLabels: bars.map(\.0))
    c.axes(
      title: "\(name): \(ReportFormat.withInterval(result, interval))", xLabel: "", yLabel: name,
      xTicks: bars.enumerated().map { (Double($0.offset) + 0.5, $0.element.0) })
    for (i, b) in bars.enumerated() {
      let last = i == bars.count - 1
      if let v = b.1 {
        bar(&c, i, v, color: last ? SVGChart.color(0) : "#9ecae1", labelOver: last ? interval?.high : nil)
      }
    }
    if let lo = interval?.low, let hi = interval?.high {
      let x = n - 0.5
      c.polyline([(x, lo), (x, hi)], color: "#333", width: 1.5)
      c.polyline([(x - 0.08, lo), (x + 0.08, lo)], color: "#333", width: 1.5)
      c.polyline([(x - 0.08, hi), (x + 0.08, hi)], color: "#333", width: 1.5)
    }
    for (b, e) in baselines { c.polyline([(0, b.value), (n, b.value)], color: e.color, dashed: true, width: 1.3) }
    return c.svg
  }

  // MARK: - classification

  static func confusions(_ r: Report) -> [(id: String, svg: String)] {
    guard let pooled = ReportFormat.pooledConfusion(r) else { return [] }
    if r.isSingleRun || r.folds.count == 1 {
      return [
        (
          r.isSingleRun ? "confusion" : "confusion-pooled",
          heatmap(r.isSingleRun ? "confusion" : "confusion-pooled", "Confusion matrix", pooled, r, size: 300)
        )
      ]
    }
    var out = [("confusion-pooled", heatmap("confusion-pooled", "Confusion matrix, all folds", pooled, r, size: 300))]
    for f in r.folds {
      if let c = f.metrics.classification {
        out.append(
          ("confusion-fold-\(f.fold)", heatmap("confusion-fold-\(f.fold)", "Fold \(f.fold)", c.confusion, r, size: 220))
        )
      }
    }
    return out
  }

  private static func heatmap(_ id: String, _ title: String, _ m: [[Int]], _ r: Report, size: Double) -> String {
    let k = Double(m.count)
    let names = m.indices.map { ReportFormat.className(r, $0) }
    let left = SVGChart.leftMargin(forLabels: names)
    var c = SVGChart(
      id: id, width: size + left + 14, height: size + 70, x: (0, k), y: (k, 0), xTickLabels: names, left: left)
    c.axes(
      title: title, xLabel: "predicted", yLabel: "true",
      xTicks: names.enumerated().map { (Double($0.offset) + 0.5, $0.element) }, yTicks: false)
    for i in m.indices {
      let rowTotal = max(1, m[i].reduce(0, +))
      c.text(x: c.left - 5, y: c.py(Double(i) + 0.5), names[i], anchor: "end")
      for j in m[i].indices {
        let share = Double(m[i][j]) / Double(rowTotal)
        let x0 = c.px(Double(j))
        let y0 = c.py(Double(i))
        let w = c.px(Double(j) + 1) - x0
        let h = c.py(Double(i) + 1) - y0
        c.rect(x: x0, y: y0, width: w, height: h, fill: "#1f77b4", opacity: 0.05 + 0.9 * share, stroke: "#fff")
        if m.count <= 12 {
          c.text(x: x0 + w / 2, y: y0 + h / 2, "\(m[i][j])", fill: share > 0.5 ? "#fff" : "#222")
        }
      }
    }
    return c.svg
  }

  /// cv, binary: one ROC curve per test fold (single runs and pooled curves are in DiagnosticCharts;
  /// a single run without diagnostics, an older report.json, keeps this chart).
  static func foldROC(_ r: Report) -> [(id: String, svg: String)] {
    guard r.folds.contains(where: { $0.metrics.classification?.roc != nil }),
      !r.isSingleRun || r.diagnostics?.classCurves == nil
    else { return [] }
    let withCurve = r.folds.filter { $0.metrics.classification?.roc != nil }
    let legend = withCurve.map { f in
      Entry(
        name: "\(r.isSingleRun ? "" : "fold \(f.fold) ")AUC \(ReportFormat.value(f.metrics.classification?.rocAuc))",
        color: SVGChart.color(f.fold))
    }
    var c = SVGChart(id: "roc", width: 280, height: 280, x: (0, 1), y: (0, 1), legend: legend)
    c.axes(
      title: "ROC (class 1)\(r.isSingleRun ? "" : " per fold")", xLabel: "false positive rate",
      yLabel: "true positive rate")
    c.polyline([(0, 0), (1, 1)], color: "#999", dashed: true, width: 1)
    for f in withCurve {
      let curve = f.metrics.classification!.roc!
      c.polyline(Array(zip(curve.fpr, curve.tpr)), color: SVGChart.color(f.fold))
    }
    return [("roc", c.svg)]
  }

  // MARK: - regression, ablation

  static func scatter(_ r: Report) -> String {
    let pts = r.folds.map { f in (f.fold, f.metrics.regression?.scatter ?? []) }
    let all = pts.flatMap { $0.1.flatMap { $0 } }
    let d = SVGChart.domain(all)
    let legend =
      r.folds.count > 1
      ? r.folds.map { Entry(name: "fold \($0.fold)", color: SVGChart.color($0.fold), style: .dot) } : []
    var c = SVGChart(id: "scatter", width: 340, height: 340, x: d, y: d, legend: legend)
    c.axes(title: "Predicted vs true", xLabel: "true", yLabel: "predicted")
    c.polyline([(d.0, d.0), (d.1, d.1)], color: "#999", dashed: true, width: 1)
    let total = max(1, pts.map { $0.1.count }.reduce(0, +))
    let radius = total > 1000 ? 1.6 : 2.6
    for (fold, points) in pts {
      for p in points { c.circle(p[0], p[1], r: radius, color: SVGChart.color(fold), opacity: 0.55) }
    }
    return c.svg
  }

  static func ablation(_ r: Report) -> String? {
    guard let rows = r.ablation, !rows.isEmpty else { return nil }
    let values = rows.flatMap { $0.drops.compactMap { $0 } + [$0.summary.ciLow, $0.summary.ciHigh].compactMap { $0 } }
    let n = Double(rows.count)
    let names = rows.map(\.modality)
    let change = ReportFormat.ablationChange(r.task.mainMetric)
    let title = "\(change.capitalisedFirst) without each modality"
    // wide enough for the title (12 px bold runs about 7 px a character)
    var c = SVGChart(
      id: "ablation", width: max(320, 100 + 80 * n, 7 * Double(title.count) + 20), height: 260, x: (0, n),
      y: SVGChart.domain(values, include: [0]),
      xTickLabels: names)
    c.axes(
      title: title, xLabel: "masked modality",
      yLabel: EvalMetrics.lowerIsBetter.contains(r.task.mainMetric) ? "increase (worse)" : "drop",
      xTicks: names.enumerated().map { (Double($0.offset) + 0.5, $0.element) })
    c.polyline([(0, 0), (n, 0)], color: "#333", width: 1)
    for (i, a) in rows.enumerated() {
      let x = Double(i)
      if let m = a.summary.mean {
        let x0 = c.px(x + 0.25)
        let x1 = c.px(x + 0.75)
        let base = c.py(0)
        let top = c.py(m)
        c.rect(x: x0, y: min(base, top), width: x1 - x0, height: abs(base - top), fill: SVGChart.color(2), opacity: 0.8)
      }
      if let lo = a.summary.ciLow, let hi = a.summary.ciHigh {
        c.polyline([(x + 0.5, lo), (x + 0.5, hi)], color: "#333", width: 1.2)
      }
      guard a.drops.count > 1 else { continue }
      for (j, d) in a.drops.enumerated() {
        if let d {
          c.circle(x + 0.35 + 0.3 * Double(j) / Double(a.drops.count - 1), d, r: 2.5, color: "#222", opacity: 0.7)
        }
      }
    }
    return c.svg
  }
}
