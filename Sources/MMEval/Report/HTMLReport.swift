import Foundation

/// report.html: one self-contained page (inline CSS and SVG; no JavaScript, no network) with the tables
/// of report.md and the charts. cv: per-fold training curves, the main metric per fold with mean, CI and
/// baselines, confusion matrices, ROC curves, the modality ablation. train and evaluate: the single
/// result with bootstrap intervals, its curves (best epoch marked) and, for an ensemble, every member.
/// Both: per-class ROC/PR curves, the reliability diagram and per-group scores when report.diagnostics.
public enum HTMLReport {
  /// A titled part of the page: its note, its charts (`data-chart` ID, SVG) and its tables.
  struct Section {
    var title: String
    var note: String = ""
    var charts: [(id: String, svg: String)] = []
    var tables: String = ""
  }

  /// The `data-chart` IDs the page holds for this report, in page order.
  public static func chartIDs(_ r: Report) -> [String] { sections(r).flatMap { $0.charts.map(\.id) } }

  public static func render(_ r: Report) -> String {
    let fingerprint = r.data.fingerprint.map { " (fingerprint <code>\(SVGChart.escape($0))</code>)" } ?? ""
    var page = """
      <!DOCTYPE html>
      <html lang="en"><head><meta charset="utf-8"><title>\(SVGChart.escape(r.title))</title>
      <style>
      body{font:14px/1.45 -apple-system,"Segoe UI",Helvetica,Arial,sans-serif;color:#222;margin:24px auto;
      max-width:1320px;padding:0 16px}
      h1{font-size:22px;margin:0 0 4px;overflow-wrap:anywhere}
      h2{font-size:17px;margin:28px 0 4px;border-bottom:1px solid #ddd;padding-bottom:3px}
      table{border-collapse:collapse;margin:8px 0;font-variant-numeric:tabular-nums}
      td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}
      th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}.main{background:#fff6d5}.ens{font-weight:700}
      .charts{display:flex;flex-wrap:wrap;gap:10px;align-items:flex-start}
      .charts svg{border:1px solid #eee;background:#fff}
      .tick{font-size:10px;fill:#555}.axis{font-size:11px;fill:#333}.title{font-size:12px;font-weight:600;fill:#222}
      .note{color:#666;margin:2px 0}.warn{background:#fff3f3;border-left:3px solid #d62728;padding:4px 8px}
      code{overflow-wrap:anywhere}pre{background:#f7f7f7;padding:8px;overflow:auto;font-size:12px}
      </style></head><body>
      <h1>\(SVGChart.escape(r.title))</h1>
      <p class="note">\(SVGChart.escape(ReportFormat.headline(r))). mmtrain \(SVGChart.escape(r.mmtrainVersion)), \
      \(r.worldSize) rank(s), \(ReportFormat.seconds(r.timing.totalSeconds)), \(SVGChart.escape(r.created)). \
      Data <code>\(SVGChart.escape(r.data.path))</code>\(fingerprint).</p>

      """
    if let s = r.source {
      page +=
        "<p class=\"note\">Checkpoint <code>\(SVGChart.escape(s.checkpoint))</code> evaluated on "
        + "<code>\(SVGChart.escape(s.data))</code>.</p>\n"
    }
    for w in r.warnings { page += "<p class=\"warn\">warning: \(SVGChart.escape(w))</p>\n" }
    for s in sections(r) where !s.charts.isEmpty || !s.tables.isEmpty {
      page += "<h2>\(SVGChart.escape(s.title))</h2>"
      if !s.note.isEmpty { page += "<p class=\"note\">\(s.note)</p>" }
      if !s.charts.isEmpty { page += "<div class=\"charts\">" + s.charts.map(\.svg).joined() + "</div>" }
      page += s.tables + "\n"
    }
    page += "<h2>Configuration</h2><pre>\(SVGChart.escape(r.config))</pre>\n</body></html>\n"
    return page
  }

  static func sections(_ r: Report) -> [Section] {
    let main = r.task.mainMetric
    var out: [Section] = []
    if r.isSingleRun {
      out.append(Section(title: "Summary", tables: HTMLTables.singleSummary(r) + HTMLTables.baselines(r)))
      if r.ensemble != nil {
        out.append(
          Section(
            title: "Ensemble",
            note: SVGChart.escape((ReportFormat.ensembleLine(r) ?? "").capitalisedFirst)
              + ", and each member on the same data.",
            tables: HTMLTables.ensemble(r)))
      }
      out.append(
        Section(
          title: main,
          note:
            "Bar: \(r.ensemble == nil ? "the result" : "each model")"
            + (r.diagnostics?.bootstrap == nil ? "" : "; whisker: its bootstrap 95% CI") + "; dashed lines: baselines.",
          charts: [("main-metric", HTMLCharts.mainMetricSingle(r))]))
      out.append(Section(title: "Run", tables: HTMLTables.run(r)))
    } else {
      out.append(Section(title: "Summary", tables: HTMLTables.cvSummary(r) + HTMLTables.baselines(r)))
      out.append(
        Section(
          title: "\(main) per fold",
          note: "Bars: each test fold; line: the mean; band: its 95% confidence interval; grey lines: baselines.",
          charts: [("main-metric", HTMLCharts.mainMetricFolds(r))]))
      out.append(Section(title: "Per fold", tables: HTMLTables.perFold(r)))
    }
    out.append(
      Section(
        title: "Training curves",
        note: "Loss per epoch: training (solid) and the inner validation split (dashed)"
          + (r.folds.contains { $0.bestEpoch != nil } ? "; dotted line: the epoch whose weights were kept." : "."),
        charts: HTMLCharts.curves(r)))
    if r.task.isClassification {
      out.append(
        Section(
          title: r.isSingleRun ? "Confusion matrix" : "Confusion matrices",
          note: "Rows: true class; columns: predicted class; shade: share of the row.",
          charts: HTMLCharts.confusions(r), tables: HTMLTables.perClass(r)))
      out.append(
        Section(
          title: "ROC and precision–recall curves", note: DiagnosticCharts.curvesNote(r),
          charts: HTMLCharts.foldROC(r) + DiagnosticCharts.classCurves(r), tables: HTMLTables.classCurves(r)))
      out.append(
        Section(
          title: "Calibration", note: DiagnosticCharts.calibrationNote(r),
          charts: DiagnosticCharts.calibration(r), tables: HTMLTables.calibration(r)))
    } else {
      out.append(
        Section(
          title: "Predicted vs true",
          note:
            "Each point a \(r.isSingleRun ? "sample" : "test sample, coloured by fold"); "
            + "the diagonal is a perfect prediction.",
          charts: [("scatter", HTMLCharts.scatter(r))]))
    }
    out.append(Section(title: "Per group", note: HTMLTables.groupsNote(r), tables: HTMLTables.groups(r)))
    out.append(
      Section(
        title: "Modality ablation",
        note: "\(ReportFormat.ablationChange(main).capitalisedFirst) with the modality masked (zero features, length 0)"
          + (r.isSingleRun ? "." : ": bar = mean, whisker = 95% CI, dots = folds."),
        charts: HTMLCharts.ablation(r).map { [("ablation", $0)] } ?? [], tables: HTMLTables.ablation(r)))
    return out
  }
}

extension String {
  var capitalisedFirst: String { prefix(1).uppercased() + dropFirst() }
}
