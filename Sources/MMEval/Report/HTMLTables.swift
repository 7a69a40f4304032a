import Foundation

/// The tables of report.html (report.md has the same content as markdown).
enum HTMLTables {
  typealias F = ReportFormat

  private static func escape(_ s: String) -> String { SVGChart.escape(s) }
  private static func row(_ cells: [String], main: Bool = false, cls: String? = nil) -> String {
    let c = main ? " class=\"main\"" : cls.map { " class=\"\($0)\"" } ?? ""
    return "<tr\(c)>" + cells.map { "<td>\($0)</td>" }.joined() + "</tr>"
  }
  private static func header(_ cells: [String]) -> String { "<tr>" + cells.map { "<th>\($0)</th>" }.joined() + "</tr>" }

  static func cvSummary(_ r: Report) -> String {
    let k = r.folds.count
    var t =
      "<p class=\"note\">Mean ± sample std over \(k) folds; "
      + "95% CI of the mean (t distribution, \(k - 1) df).</p>"
    t += "<table>" + header(["metric", "mean ± std", "95% CI", "folds"] + (r.pooled == nil ? [] : ["pooled"]))
    for s in r.summary {
      t += row(
        [s.metric, F.meanStd(s), F.ci(s), "\(s.n)"] + (r.pooled.map { [F.value($0.scalar(s.metric))] } ?? []),
        main: s.metric == r.task.mainMetric)
    }
    t += "</table>\n"
    if r.pooled != nil {
      t +=
        "<p class=\"note\">pooled: the metric of all out-of-fold predictions taken together (each sample once).</p>\n"
    }
    return t
  }

  /// train / evaluate: each metric of the one result with its bootstrap interval.
  static func singleSummary(_ r: Report) -> String {
    guard let f = F.single(r) else { return "" }
    let boot = r.diagnostics?.bootstrap != nil
    var t = boot ? "<p class=\"note\">\(escape(F.intervalNote(r)))</p>" : ""
    t += "<table>" + header(["metric", boot ? "value [95% CI]" : "value"])
    for (name, v) in f.metrics.scalars {
      t += row([name, F.withInterval(v, r.diagnostics?.interval(of: name))], main: name == r.task.mainMetric)
    }
    return t + "</table>\n"
  }

  static func baselines(_ r: Report) -> String {
    guard let b = r.diagnostics?.baselines, !b.isEmpty else { return "" }
    var t = "<p class=\"note\">Baselines on the same \(r.diagnostics!.n) labelled rows.</p><table>"
    t += header(["baseline", "metric", "value", "how"])
    for x in b { t += row([x.name, x.metric, F.value(x.value), escape(x.note)]) }
    return t + "</table>\n"
  }

  static func ensemble(_ r: Report) -> String {
    guard let members = r.ensemble, let f = r.folds.first else { return "" }
    let cols = F.foldColumns(r)
    var t = "<table>" + header(["model", "checkpoint"] + cols)
    for m in members {
      t += row([escape(m.name), "<code>\(escape(m.checkpoint))</code>"] + cols.map { F.value(m.metrics.scalar($0)) })
    }
    t += row(["ensemble", "mean of \(members.count)"] + cols.map { F.value(f.metrics.scalar($0)) }, cls: "ens")
    return t + "</table>\n"
  }

  /// train / evaluate: sizes, epochs and time of the one run.
  static func run(_ r: Report) -> String {
    guard let f = F.single(r) else { return "" }
    var t = "<table>"
    if r.kind == .train {
      t += row(["training samples", "\(f.nTrain)"]) + row(["validation samples", "\(f.nValidation)"])
      t += row(["epochs trained", "\(f.epochs)"])
      if let b = f.bestEpoch { t += row(["best epoch (weights kept)", "\(b)"]) }
      if let s = f.stoppedEarly { t += row(["stopped early", s ? "yes" : "no"]) }
    } else {
      if let s = r.source {
        t +=
          row(["checkpoint", "<code>\(escape(s.checkpoint))</code>"]) + row(["data", "<code>\(escape(s.data))</code>"])
      }
      t += row(["samples evaluated", "\(f.metrics.n)"])
    }
    t += row(["time", F.seconds(f.seconds)])
    return t + "</table>\n"
  }

  static func perFold(_ r: Report) -> String {
    let cols = F.foldColumns(r)
    var t = "<table>" + header(["fold", "train", "validation", F.setName(r), "epochs", "time"] + cols)
    for f in r.folds {
      let epochs = "\(f.epochs)" + (f.bestEpoch.map { " (best \($0))" } ?? "")
      t += row(
        ["\(f.fold)", "\(f.nTrain)", "\(f.nValidation)", "\(f.nTest)", epochs, F.seconds(f.seconds)]
          + cols.map { F.value(f.metrics.scalar($0)) })
    }
    return t + "</table>\n"
  }

  static func perClass(_ r: Report) -> String {
    guard let confusion = F.pooledConfusion(r) else { return "" }
    var t = r.folds.count > 1 ? "<p class=\"note\">Mean over the folds; support summed.</p>" : ""
    t += "<table>" + header(["class", "precision", "recall", "F1", "support"])
    for c in confusion.indices {
      func mean(_ pick: (ClassificationMetrics) -> Double) -> String {
        let v = r.folds.compactMap { $0.metrics.classification.map(pick) }
        return F.value(v.reduce(0, +) / Double(v.count))
      }
      t += row([
        escape(F.className(r, c)), mean { $0.precision[c] }, mean { $0.recall[c] }, mean { $0.f1[c] },
        "\(confusion[c].reduce(0, +))",
      ])
    }
    return t + "</table>\n"
  }

  static func classCurves(_ r: Report) -> String {
    guard let curves = r.diagnostics?.classCurves, !curves.isEmpty else { return "" }
    var t = "<table>" + header(["class", "positives", "ROC AUC", "average precision"])
    for c in curves { t += row([escape(c.name), "\(c.positives)", F.value(c.auc), F.value(c.averagePrecision)]) }
    return t + "</table>\n"
  }

  static func calibration(_ r: Report) -> String {
    guard let cal = r.diagnostics?.calibration else { return "" }
    let what =
      cal.quantity == "positive_probability" ? ("mean P(positive)", "share positive") : ("mean confidence", "accuracy")
    var t = "<table>" + header(["bin", "samples", what.0, what.1])
    for b in cal.bins where b.count > 0 {
      t += row(["\(F.value(b.lower))–\(F.value(b.upper))", "\(b.count)", F.value(b.confidence), F.value(b.accuracy)])
    }
    return t + "</table>\n"
  }

  static func groupsNote(_ r: Report) -> String {
    guard let g = r.diagnostics?.groups else { return "" }
    return
      "\(escape(g.metric)) of each group's samples (\(g.rows.count) groups): "
      + "\(F.meanStd(g.summary)) (mean ± std over the groups)."
  }

  static func groups(_ r: Report) -> String {
    guard let g = r.diagnostics?.groups else { return "" }
    var t = "<table>" + header(["group", "samples", escape(g.metric)])
    for x in g.rows { t += row(["\(x.group)", "\(x.n)", F.value(x.value)]) }
    t += row(["mean ± std", "\(g.rows.map(\.n).reduce(0, +))", F.meanStd(g.summary)], main: true)
    return t + "</table>\n"
  }

  static func ablation(_ r: Report) -> String {
    guard let rows = r.ablation, !rows.isEmpty else { return "" }
    let change = F.ablationChange(r.task.mainMetric)
    if r.isSingleRun {
      var t = "<table>" + header(["masked modality", escape(r.task.mainMetric), escape(change)])
      let scores = r.folds.first?.ablation ?? []
      for a in rows {
        let masked = scores.first { $0.modality == a.modality }?.metric
        t += row([escape(a.modality), F.value(masked), F.value(a.drops.first ?? nil)])
      }
      return t + "</table>\n"
    }
    var t = "<table>" + header(["modality"] + r.folds.map { "fold \($0.fold)" } + ["mean ± std", "95% CI"])
    for a in rows {
      t += row([escape(a.modality)] + a.drops.map(F.value) + [F.meanStd(a.summary), F.ci(a.summary)])
    }
    return t + "</table>\n"
  }
}
