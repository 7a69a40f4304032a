/// report.md's sections from report.diagnostics: baselines, per-class curve areas, calibration, groups.
enum MarkdownDiagnostics {
  typealias F = ReportFormat

  static func baselines(_ r: Report) -> [String] {
    guard let b = r.diagnostics?.baselines, !b.isEmpty else { return [] }
    var o = [
      "Baselines on the same \(r.diagnostics!.n) labelled rows:\n", "| baseline | metric | value | how |",
      "|---|---|---|---|",
    ]
    for x in b { o.append("| \(x.name) | \(x.metric) | \(F.value(x.value)) | \(x.note) |") }
    o.append("")
    return o
  }

  static func render(_ r: Report) -> [String] {
    guard let d = r.diagnostics else { return [] }
    var o: [String] = []
    if let curves = d.classCurves, !curves.isEmpty {
      let over = r.isSingleRun ? "all \(d.n) predictions" : "the pooled out-of-fold predictions"
      o.append("## ROC and precision–recall\n")
      o.append(
        (curves.count == 1 ? "The positive class against the rest" : "Each class against the rest")
          + ", over \(over) (sklearn's roc_auc_score and average_precision_score).\n")
      o.append("| class | positives | ROC AUC | average precision |")
      o.append("|---|---|---|---|")
      for c in curves {
        o.append("| \(c.name) | \(c.positives) | \(F.value(c.auc)) | \(F.value(c.averagePrecision)) |")
      }
      o.append("")
    }
    if let cal = d.calibration {
      let binary = cal.quantity == "positive_probability"
      o.append("## Calibration\n")
      o.append(
        (binary ? "P(positive class)" : "Top-class confidence")
          + " in 10 equal-width bins; ECE = Σ (n_b / N) |accuracy_b − confidence_b| = **\(F.value(cal.ece))**.\n")
      o.append(
        binary
          ? "| bin | samples | mean P(positive) | share positive |" : "| bin | samples | mean confidence | accuracy |")
      o.append("|---|---|---|---|")
      for b in cal.bins where b.count > 0 {
        o.append(
          "| \(F.value(b.lower))–\(F.value(b.upper)) | \(b.count) | "
            + "\(F.value(b.confidence)) | \(F.value(b.accuracy)) |"
        )
      }
      o.append("")
    }
    if let g = d.groups {
      o.append("## Per group\n")
      o.append(
        "\(g.metric) of each group's samples, \(g.rows.count) groups: "
          + "\(F.meanStd(g.summary)) (mean ± std over the groups).\n"
      )
      o.append("| group | samples | \(g.metric) |")
      o.append("|---|---|---|")
      for x in g.rows { o.append("| \(x.group) | \(x.n) | \(F.value(x.value)) |") }
      o.append("")
    }
    return o
  }
}
