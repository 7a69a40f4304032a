/// report.md: the tables, readable in a terminal or on GitHub.
public enum MarkdownReport {
  typealias F = ReportFormat

  public static func render(_ r: Report) -> String {
    var o: [String] = []
    o.append("# \(r.title)\n")
    o.append("\(F.headline(r)). Metrics on the \(F.setName(r))\(r.isSingleRun ? "" : " of each fold"). ")
    o.append(
      "mmtrain \(r.mmtrainVersion), \(r.worldSize) rank(s), \(F.seconds(r.timing.totalSeconds)) in all, \(r.created). "
        + "Data: `\(r.data.path)`\(r.data.fingerprint.map { " (fingerprint `\($0)`)" } ?? "").\n")
    if let s = r.source { o.append("Checkpoint `\(s.checkpoint)` evaluated on `\(s.data)`.\n") }
    for w in r.warnings { o.append("> warning: \(w)\n") }

    o += r.isSingleRun ? singleRun(r) : folds(r)
    o += classification(r)
    o += MarkdownDiagnostics.render(r)
    o += ablation(r)

    if let cv = r.cv {
      o.append("## Folds\n")
      o.append(
        "Strategy `\(cv.strategy)`, k = \(cv.k), shuffle \(cv.shuffle), seed \(cv.seed), "
          + "\(cv.parallelFolds) fold(s) at a time. The indices of every fold are in `folds.json`.\n"
      )
    }
    o.append("## Configuration\n")
    o.append("```yaml")
    o.append(r.config.trimmingTrailingNewlines())
    o.append("```")
    return o.joined(separator: "\n") + "\n"
  }

  private static func folds(_ r: Report) -> [String] {
    let k = r.folds.count
    var o = ["## Summary\n"]
    o.append(
      "Mean ± sample standard deviation over the \(k) folds; 95% confidence interval of the mean from the t "
        + "distribution with \(k - 1) degrees of freedom. Main metric: **\(r.task.mainMetric)**.\n"
    )
    let pooled = r.pooled.map { _ in " pooled |" } ?? ""
    o.append("| metric | mean ± std | 95% CI | folds |" + pooled)
    o.append("|---|---|---|---|" + (r.pooled == nil ? "" : "---|"))
    for s in r.summary {
      let name = s.metric == r.task.mainMetric ? "**\(s.metric)**" : s.metric
      let p = r.pooled.map { " \(F.value($0.scalar(s.metric))) |" } ?? ""
      o.append("| \(name) | \(F.meanStd(s)) | \(F.ci(s)) | \(s.n) |" + p)
    }
    if r.pooled != nil {
      o.append("\n*pooled*: the metric of all out-of-fold predictions taken together (each sample once).")
    }
    o.append("")
    o += MarkdownDiagnostics.baselines(r)

    let cols = F.foldColumns(r)
    o.append("## Per fold\n")
    o.append("| fold | train | validation | \(F.setName(r)) | epochs | time | " + cols.joined(separator: " | ") + " |")
    o.append("|" + String(repeating: "---|", count: 6 + cols.count))
    for f in r.folds {
      let values = cols.map { F.value(f.metrics.scalar($0)) }
      let epochs = "\(f.epochs)" + (f.bestEpoch.map { " (best \($0))" } ?? "")
      o.append(
        "| \(f.fold) | \(f.nTrain) | \(f.nValidation) | \(f.nTest) | \(epochs) | \(F.seconds(f.seconds)) | "
          + values.joined(separator: " | ") + " |")
    }
    o.append("")
    return o
  }

  private static func singleRun(_ r: Report) -> [String] {
    guard let f = r.folds.first else { return [] }
    var o = ["## Summary\n"]
    let boot = r.diagnostics?.bootstrap != nil
    o.append("Main metric: **\(r.task.mainMetric)**." + (boot ? " \(F.intervalNote(r))" : "") + "\n")
    o.append(boot ? "| metric | value [95% CI] |" : "| metric | value |")
    o.append("|---|---|")
    for (name, v) in f.metrics.scalars {
      let shown = name == r.task.mainMetric ? "**\(name)**" : name
      o.append("| \(shown) | \(F.withInterval(v, r.diagnostics?.interval(of: name))) |")
    }
    o.append("")
    o += MarkdownDiagnostics.baselines(r)
    if let members = r.ensemble, let line = F.ensembleLine(r) {
      let cols = F.foldColumns(r)
      o.append("## Ensemble\n")
      o.append("The result above is the \(line); each member on the same data:\n")
      o.append("| model | checkpoint | " + cols.joined(separator: " | ") + " |")
      o.append("|" + String(repeating: "---|", count: 2 + cols.count))
      for m in members {
        o.append(
          "| \(m.name) | `\(m.checkpoint)` | " + cols.map { F.value(m.metrics.scalar($0)) }.joined(separator: " | ")
            + " |")
      }
      o.append(
        "| **ensemble** | mean of \(members.count) | "
          + cols.map { "**\(F.value(f.metrics.scalar($0)))**" }.joined(separator: " | ") + " |")
      o.append("")
    }
    o.append("## Run\n")
    if r.kind == .train {
      var line = "Trained on \(f.nTrain) samples, validated on \(f.nValidation); \(f.epochs) epochs"
      if let b = f.bestEpoch { line += ", weights of epoch \(b) kept" }
      if f.stoppedEarly == true { line += " (early stopping ended the run)" }
      o.append(line + "; \(F.seconds(f.seconds)).\n")
    } else {
      o.append("\(f.metrics.n) samples evaluated in \(F.seconds(f.seconds)).\n")
    }
    return o
  }

  private static func classification(_ r: Report) -> [String] {
    guard r.task.isClassification, let confusion = F.pooledConfusion(r) else { return [] }
    let classes = confusion.count
    var o = ["## Per class\n"]
    o.append(
      r.folds.count > 1
        ? "Precision, recall and F1 as mean over the folds; support and the confusion matrix summed over the folds "
          + "(rows: true class, columns: predicted).\n"
        : "Precision, recall, F1, support and the confusion matrix (rows: true class, columns: predicted).\n")
    o.append(
      "| class | precision | recall | F1 | support | "
        + (0..<classes).map { "→ \(F.className(r, $0))" }.joined(separator: " | ") + " |")
    o.append("|" + String(repeating: "---|", count: 5 + classes))
    for c in 0..<classes {
      func mean(_ pick: (ClassificationMetrics) -> Double) -> String {
        let v = r.folds.compactMap { $0.metrics.classification.map(pick) }
        return F.value(v.reduce(0, +) / Double(v.count))
      }
      o.append(
        "| \(F.className(r, c)) | \(mean { $0.precision[c] }) | \(mean { $0.recall[c] }) | \(mean { $0.f1[c] }) | "
          + "\(confusion[c].reduce(0, +)) | " + confusion[c].map(String.init).joined(separator: " | ") + " |")
    }
    o.append("")
    return o
  }

  private static func ablation(_ r: Report) -> [String] {
    guard let ablation = r.ablation, !ablation.isEmpty else { return [] }
    let change = F.ablationChange(r.task.mainMetric)
    var o = ["## Modality ablation\n"]
    o.append(
      "\(change.capitalisedFirst) when the modality is masked (zero features, length 0) at evaluation; "
        + "positive = the model is worse without it.\n"
    )
    let sorted = ablation.sorted { ($0.summary.mean ?? -.infinity) > ($1.summary.mean ?? -.infinity) }
    if r.isSingleRun {
      let scores = r.folds.first?.ablation ?? []
      o.append("| modality | \(r.task.mainMetric) masked | \(change) |")
      o.append("|---|---|---|")
      for a in sorted {
        o.append(
          "| \(a.modality) | \(F.value(scores.first { $0.modality == a.modality }?.metric)) | "
            + "\(F.value(a.drops.first ?? nil)) |"
        )
      }
    } else {
      o.append(
        "| modality | " + r.folds.map { "fold \($0.fold)" }.joined(separator: " | ") + " | mean ± std | 95% CI |")
      o.append("|" + String(repeating: "---|", count: 3 + r.folds.count))
      for a in sorted {
        o.append(
          "| \(a.modality) | " + a.drops.map(F.value).joined(separator: " | ")
            + " | \(F.meanStd(a.summary)) | \(F.ci(a.summary)) |")
      }
    }
    o.append("")
    return o
  }
}

extension String {
  func trimmingTrailingNewlines() -> String {
    var s = self
    while s.hasSuffix("\n") { s.removeLast() }
    return s
  }
}
