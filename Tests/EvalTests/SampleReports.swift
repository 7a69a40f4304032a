import Foundation

@testable import MMEval

/// Reports built from seeded random predictions (no training), for the writer and rendering tests.
enum SampleReports {
  struct LCG {
    var s: UInt64
    mutating func next() -> Double {
      s = s &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      return Double(s >> 11) * 0x1.0p-53
    }
  }

  static func curves(_ rng: inout LCG, epochs: Int, classification: Bool) -> [EpochPoint] {
    (1...epochs).map { e in
      let t = 0.7 * exp(-Double(e) / 3) + 0.05 * rng.next()
      let v = 0.75 * exp(-Double(e) / 4) + 0.1 + 0.05 * rng.next()
      return EpochPoint(
        epoch: e, trainLoss: t, trainAccuracy: classification ? 1 - t / 1.4 : nil, valLoss: v,
        valAccuracy: classification ? 1 - v / 1.5 : nil)
    }
  }

  /// k-fold classification report: `classes` = 2 gives ROC curves.
  /// Class names as long as real activity labels (12 characters), to catch clipped or overlapping labels.
  static let longClassNames = [
    "walking_fast", "sitting_down", "standing_up_", "lying_supine", "climbing_up_", "running_slow",
  ]

  static func classification(
    k: Int = 5, classes: Int = 2, samples: Int = 300, ablation: Bool = true, classNames: [String]? = nil
  ) -> (Report, Predictions) {
    var rng = LCG(s: 11)
    let plan = try! FoldAssigner.assign(FoldSpec(k: k, strategy: .kfold, shuffle: true, seed: 1), n: samples)
    let labels = (0..<samples).map { _ in Int(rng.next() * Double(classes)) }
    var rows: [Predictions.Row] = []
    let folds = plan.folds.enumerated().map { f, fold -> FoldResult in
      var probs: [[Double]] = []
      for i in fold.test {
        var logits = (0..<classes).map { _ in rng.next() }
        logits[labels[i]] += 0.6 + 0.1 * Double(f)
        let e = logits.map { exp(3 * $0) }
        let p = e.map { $0 / e.reduce(0, +) }
        probs.append(p)
        rows.append(.init(index: i, group: i / 10, fold: f, label: [Double(labels[i])], outputs: p))
      }
      let metrics = ClassificationMetrics(labels: fold.test.map { labels[$0] }, probabilities: probs)
      let abl =
        ablation
        ? [("text", 0.18), ("audio", 0.07), ("vision", 0.01)].map { m, d in
          ModalityScore(modality: m, metric: metrics.accuracy - d + 0.02 * rng.next(), drop: d - 0.02 * rng.next())
        } : nil
      return FoldResult(
        fold: f, nTrain: Int(Double(fold.train.count) * 0.8),
        nValidation: fold.train.count - Int(Double(fold.train.count) * 0.8),
        nTest: fold.test.count, metrics: EvalMetrics(classification: metrics),
        curves: curves(&rng, epochs: 12, classification: true), epochs: 12, seconds: 3.2 + Double(f), ablation: abl)
    }
    let report = Report(
      kind: .cv, title: "runs/sample-\(classes)-class", mmtrainVersion: "test", worldSize: 4,
      task: .init(
        kind: classes == 2 ? "binary" : "multiclass", outputs: classes,
        classNames: classNames ?? (classes == 2 ? ["negative", "positive"] : nil),
        modalities: ["audio", "text", "vision"], mainMetric: "accuracy"),
      data: .init(path: "runs/demo/demo.h5", samples: samples, sizeBytes: 123_456, fingerprint: "0123abcd"),
      cv: .init(strategy: "kfold", k: k, shuffle: true, seed: 1, parallelFolds: 1), folds: folds,
      ablation: ModalityAblation.collect(folds), timing: .init(totalSeconds: 42),
      warnings: [], config: "data:\n  path: runs/demo/demo.h5\ncv:\n  folds: \(k)\n")
    let predictions = Predictions(
      kind: .classification(
        classNames: classNames ?? (classes == 2 ? ["negative", "positive"] : (0..<classes).map(String.init))),
      rows: rows.sorted { $0.index < $1.index })
    return (report, predictions)
  }

  static func regression(k: Int = 4, samples: Int = 200, ablation: Bool = false) -> (Report, Predictions) {
    var rng = LCG(s: 5)
    let plan = try! FoldAssigner.assign(FoldSpec(k: k, strategy: .kfold, shuffle: true, seed: 2), n: samples)
    let y = (0..<samples).map { _ in (rng.next() * 6 - 3) }
    var rows: [Predictions.Row] = []
    let folds = plan.folds.enumerated().map { f, fold -> FoldResult in
      let pred = fold.test.map { 0.7 * y[$0] + rng.next() - 0.5 }
      for (i, p) in zip(fold.test, pred) {
        rows.append(.init(index: i, group: nil, fold: f, label: [y[i]], outputs: [p]))
      }
      let m = RegressionMetrics(targets: fold.test.map { [y[$0]] }, predictions: pred.map { [$0] })
      let abl = ablation ? [ModalityScore(modality: "text", metric: m.mae + 0.2, drop: 0.2 + 0.01 * Double(f))] : nil
      return FoldResult(
        fold: f, nTrain: fold.train.count, nValidation: 0, nTest: fold.test.count, metrics: EvalMetrics(regression: m),
        curves: curves(&rng, epochs: 8, classification: false), epochs: 8, seconds: 2, ablation: abl)
    }
    let report = Report(
      kind: .cv, title: "runs/sample-regression", mmtrainVersion: "test", worldSize: 2,
      task: .init(kind: "regression", outputs: 1, classNames: nil, modalities: ["text"], mainMetric: "mae"),
      data: .init(path: "x.h5", samples: samples),
      cv: .init(strategy: "kfold", k: k, shuffle: true, seed: 2, parallelFolds: 2),
      folds: folds, ablation: ModalityAblation.collect(folds), timing: .init(totalSeconds: 9), warnings: ["a warning"],
      config: "data:\n  path: x.h5\n")
    return (report, Predictions(kind: .regression(columns: 1), rows: rows.sorted { $0.index < $1.index }))
  }

  /// A train report: one run of a cv sample's first fold, stopped early at epoch 9 with epoch 6 kept.
  static func train(classes: Int = 6, samples: Int = 400) -> (Report, Predictions) {
    let names = Array(longClassNames.prefix(classes))
    let (cv, predictions) = classification(k: 2, classes: classes, samples: samples, classNames: names)
    var fold = cv.folds[0]
    fold.curves = Array(fold.curves.prefix(9))
    fold.epochs = 9
    fold.bestEpoch = 6
    fold.stoppedEarly = true
    let rows = predictions.rows.filter { $0.fold == 0 }.map {
      Predictions.Row(index: $0.index, group: $0.group, fold: nil, label: $0.label, outputs: $0.outputs)
    }
    let report = Report(
      kind: .train, title: "demo (demo.yaml)", mmtrainVersion: "test", worldSize: 2, task: cv.task, data: cv.data,
      cv: nil,
      folds: [fold], ablation: ModalityAblation.collect([fold]), timing: .init(totalSeconds: 12), config: cv.config)
    return (report, Predictions(kind: predictions.kind, rows: rows))
  }

  /// An evaluate report of a cv run directory: the ensemble of 3 fold models, each member's metrics.
  static func ensembleEvaluation(classes: Int = 6, samples: Int = 300) -> (Report, Predictions) {
    let names = Array(longClassNames.prefix(classes))
    let (cv, predictions) = classification(k: 3, classes: classes, samples: samples, ablation: false, classNames: names)
    let rows = predictions.rows.map {
      Predictions.Row(index: $0.index, group: $0.group, fold: nil, label: $0.label, outputs: $0.outputs)
    }
    let metrics = ClassificationMetrics(labels: rows.map { Int($0.label![0]) }, probabilities: rows.map(\.outputs))
    let result = FoldResult(
      fold: 0, nTrain: 0, nValidation: 0, nTest: rows.count, metrics: EvalMetrics(classification: metrics), curves: [],
      epochs: 0, seconds: 1.5)
    let members = cv.folds.map {
      EnsembleMember(name: "fold-\($0.fold)", checkpoint: "runs/demo-cv/fold-\($0.fold)/best.h5", metrics: $0.metrics)
    }
    let report = Report(
      kind: .evaluate, title: "demo-cv on demo.h5", mmtrainVersion: "test", worldSize: 1, task: cv.task, data: cv.data,
      cv: nil,
      folds: [result], timing: .init(totalSeconds: 2), config: cv.config,
      source: .init(checkpoint: "runs/demo-cv", data: "runs/demo/demo.h5"), ensemble: members)
    return (report, Predictions(kind: predictions.kind, rows: rows))
  }
}
