/// report.md: the tables, readable in a terminal or on GitHub.
public enum MarkdownReport {
  public static func render(_ r: Report) -> String {
    var o: [String] = []
    o.append("# \(r.title)\n")
    o.append("\(ReportFormat.headline(r)). Metrics on each \(ReportFormat.setName(r)). ")
    o.append(
      "mmtrain \(r.mmtrainVersion), \(r.worldSize) rank(s), \(ReportFormat.seconds(r.timing.totalSeconds)) in all, \(r.created). "
        + "Data: `\(r.data.path)`\(r.data.fingerprint.map { " (fingerprint `\($0)`)" } ?? "").\n")
    for w in r.warnings { o.append("> warning: \(w)\n") }

    let k = r.folds.count
    o.append("## Summary\n")
    if k > 1 {
      o.append("Mean ± sample standard deviation over the \(k) folds; 95% confidence interval of the mean from the t distribution with \(k - 1) degrees of freedom. Main metric: **\(r.task.mainMetric)**.\n")
      let pooled = r.pooled.map { _ in " pooled |" } ?? ""
      o.append("| metric | mean ± std | 95% CI | folds |" + pooled)
      o.append("|---|---|---|---|" + (r.pooled == nil ? "" : "---|"))
      for s in r.summary {
        let name = s.metric == r.task.mainMetric ? "**\(s.metric)**" : s.metric
        let p = r.pooled.map { " \(ReportFormat.value($0.scalar(s.metric))) |" } ?? ""
        o.append("| \(name) | \(ReportFormat.meanStd(s)) | \(ReportFormat.ci(s)) | \(s.n) |" + p)
      }
      if r.pooled != nil { o.append("\n*pooled*: the metric of all out-of-fold predictions taken together (each sample once).") }
    } else {
      o.append("| metric | value |")
      o.append("|---|---|")
      for s in r.summary { o.append("| \(s.metric) | \(ReportFormat.value(s.mean)) |") }
    }
    o.append("")

    let cols = ReportFormat.foldColumns(r)
    o.append("## Per fold\n")
    o.append("| fold | train | validation | \(ReportFormat.setName(r)) | epochs | time | " + cols.joined(separator: " | ") + " |")
    o.append("|" + String(repeating: "---|", count: 6 + cols.count))
    for f in r.folds {
      let values = cols.map { ReportFormat.value(f.metrics.scalar($0)) }
      o.append(
        "| \(f.fold) | \(f.nTrain) | \(f.nValidation) | \(f.nTest) | \(f.epochs) | \(ReportFormat.seconds(f.seconds)) | "
          + values.joined(separator: " | ") + " |")
    }
    o.append("")

    if r.task.isClassification, let confusion = ReportFormat.pooledConfusion(r) {
      let classes = confusion.count
      o.append("## Per class\n")
      o.append("Precision, recall and F1 as mean over the folds; support and the confusion matrix summed over the folds (rows: true class, columns: predicted).\n")
      o.append("| class | precision | recall | F1 | support | " + (0..<classes).map { "→ \(ReportFormat.className(r, $0))" }.joined(separator: " | ") + " |")
      o.append("|" + String(repeating: "---|", count: 5 + classes))
      for c in 0..<classes {
        func mean(_ pick: (ClassificationMetrics) -> Double) -> String {
          let v = r.folds.compactMap { $0.metrics.classification.map(pick) }
          return ReportFormat.value(v.reduce(0, +) / Double(v.count))
        }
        o.append(
          "| \(ReportFormat.className(r, c)) | \(mean { $0.precision[c] }) | \(mean { $0.recall[c] }) | \(mean { $0.f1[c] }) | "
            + "\(confusion[c].reduce(0, +)) | " + confusion[c].map(String.init).joined(separator: " | ") + " |")
      }
      o.append("")
    }

    if let ablation = r.ablation, !ablation.isEmpty {
      o.append("## Modality ablation\n")
      o.append("Drop of \(r.task.mainMetric) when the modality is masked (zero features, length 0) at evaluation; positive = the model is worse without it.\n")
      o.append("| modality | " + r.folds.map { "fold \($0.fold)" }.joined(separator: " | ") + " | mean ± std | 95% CI |")
      o.append("|" + String(repeating: "---|", count: 3 + r.folds.count))
      for a in ablation.sorted(by: { ($0.summary.mean ?? -.infinity) > ($1.summary.mean ?? -.infinity) }) {
        o.append(
          "| \(a.modality) | " + a.drops.map(ReportFormat.value).joined(separator: " | ")
            + " | \(ReportFormat.meanStd(a.summary)) | \(ReportFormat.ci(a.summary)) |")
      }
      o.append("")
    }

    if let cv = r.cv {
      o.append("## Folds\n")
      o.append("Strategy `\(cv.strategy)`, k = \(cv.k), shuffle \(cv.shuffle), seed \(cv.seed), \(cv.parallelFolds) fold(s) at a time. The indices of every fold are in `folds.json`.\n")
    }
    o.append("## Configuration\n")
    o.append("```yaml")
    o.append(r.config.trimmingTrailingNewlines())
    o.append("```")
    return o.joined(separator: "\n") + "\n"
  }
}

extension String {
  func trimmingTrailingNewlines() -> String {
    var s = self
    while s.hasSuffix("\n") { s.removeLast() }
    return s
  }
}
