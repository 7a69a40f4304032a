@testable import MMConfig
import MMModel
import MMOptim
import XCTest

/// The keys of the training controls (issue 15): parsing, defaults, round trips, and one clear line for
/// each mistake.
final class TrainingControlsConfigTests: XCTestCase {
  func testDefaults() {
    let d = TrainConfig.defaults
    XCTAssertEqual(d.train.nesterov, false)
    XCTAssertEqual(d.train.l1, 0)
    XCTAssertEqual(d.train.alpha, 0.99)
    XCTAssertEqual(d.train.schedule, .constant)
    XCTAssertEqual(d.train.warmupSteps, 0)
    XCTAssertEqual(d.train.gamma, 0.1)
    XCTAssertEqual(d.train.stepEpochs, 10)
    XCTAssertEqual(d.train.lrMin, 0)
    XCTAssertEqual(d.train.clipNorm, 0)
    XCTAssertEqual(d.train.labelSmoothing, 0)
    XCTAssertNil(d.train.earlyStopping)
    XCTAssertEqual(d.task.classWeights, ClassWeights.none)
    XCTAssertEqual(d.task.loss, .mse)
    XCTAssertEqual(d.task.huberDelta, 1.0)
  }

  func testEarlyStoppingMappingAndClassWeights() throws {
    let c = try XCTUnwrap(
      parseOK(
        minimalYAML + """
          task:
            class_weights: [1, 2.5]
          train:
            optimizer: AdamW
            schedule: cosine
            early_stopping: {metric: val_f1, patience: 3, min_delta: 0.01}
          """))
    XCTAssertEqual(c.train.optimizer, .adamw)
    XCTAssertEqual(c.train.schedule, .cosine)
    XCTAssertEqual(c.train.earlyStopping, EarlyStopping(metric: .valF1, patience: 3, minDelta: 0.01))
    XCTAssertEqual(c.task.classWeights, .list([1, 2.5]))
    XCTAssertEqual(
      parseOK(minimalYAML + "train:\n  early_stopping: {patience: 2}\n")?.train.earlyStopping,
      EarlyStopping(metric: .valLoss, patience: 2, minDelta: 0))
    XCTAssertEqual(parseOK(minimalYAML, overrides: ["task.class_weights=balanced"])?.task.classWeights, .balanced)
    XCTAssertNil(parseOK(minimalYAML, overrides: ["train.early_stopping=null"])?.train.earlyStopping)
    for kind in OptimizerKind.allCases {
      XCTAssertEqual(parseOK(minimalYAML + "train:\n  optimizer: \(kind.rawValue)\n")?.train.optimizer, kind)
    }
    for kind in ScheduleKind.allCases {
      XCTAssertEqual(parseOK(minimalYAML + "train:\n  schedule: \(kind.rawValue)\n")?.train.schedule, kind)
    }
    for loss in RegressionLoss.allCases {
      XCTAssertEqual(parseOK(minimalYAML + "task:\n  kind: regression\n  loss: \(loss.rawValue)\n")?.task.loss, loss)
    }
  }

  func testUnknownOptimizerAndScheduleSuggestTheClosest() {
    XCTAssertEqual(
      configErrorMessage(minimalYAML + "train:\n  optimizer: adamv\n"),
      "configs/x.yaml: train.optimizer must be one of sgd, adam, adamw, rmsprop; got 'adamv' (did you mean 'adamw'?)")
    XCTAssertEqual(
      configErrorMessage(minimalYAML, overrides: ["train.schedule=cosin"]),
      "--set: train.schedule must be one of constant, step, exponential, cosine; got 'cosin' (did you mean 'cosine'?)")
    XCTAssertEqual(
      configErrorMessage(minimalYAML + "train:\n  early_stopping: {metric: val_los}\n"),
      "configs/x.yaml: train.early_stopping.metric must be one of val_loss, val_accuracy, val_f1, val_mae; got 'val_los' "
        + "(did you mean 'val_loss'?)")
    XCTAssertEqual(
      configErrorMessage(minimalYAML + "train:\n  early_stopping: {patients: 3}\n"),
      "configs/x.yaml: train.early_stopping has no entry 'patients' (did you mean 'patience'?); its entries are metric, "
        + "patience, min_delta")
  }

  func testClassWeightMistakes() {
    XCTAssertEqual(
      configErrorMessage(minimalYAML + "task:\n  class_weights: [1, -2, 1]\n"),
      "configs/x.yaml: task.class_weights has a negative weight -2 for class 1; class weights must be at least 0")
    XCTAssertEqual(
      configErrorMessage(minimalYAML + "task:\n  classes: 3\n  class_weights: [1, 2]\n"),
      "configs/x.yaml: task.class_weights has 2 weights, but task.classes is 3; give one weight per class")
    XCTAssertEqual(
      configErrorMessage(minimalYAML + "task:\n  kind: binary\n  class_weights: [1, 2, 3]\n"),
      "configs/x.yaml: task.class_weights has 3 weights; a binary task needs 2, [w0, w1] (pos_weight = w1 / w0)")
    XCTAssertEqual(
      configErrorMessage(minimalYAML + "task:\n  class_weights: balance\n"),
      "configs/x.yaml: task.class_weights must be none, balanced or a list of weights such as [1.0, 3.0], got 'balance' "
        + "(did you mean 'balanced'?)")
    XCTAssertEqual(
      configErrorMessage(minimalYAML + "task:\n  kind: regression\n  class_weights: balanced\n"),
      "configs/x.yaml: task.class_weights applies to binary and multiclass tasks; task.kind is regression (drop it)")
  }

  func testEarlyStoppingMustFitTheTaskAndTheSplit() {
    XCTAssertEqual(
      configErrorMessage(minimalYAML + "task:\n  kind: regression\ntrain:\n  early_stopping: {metric: val_accuracy}\n"),
      "configs/x.yaml: train.early_stopping watches val_accuracy, which a regression task does not have; use one of "
        + "val_loss, val_mae")
    XCTAssertEqual(
      configErrorMessage(minimalYAML + "  validation_fraction: 0\ntrain:\n  early_stopping: {patience: 2}\n"),
      "configs/x.yaml: train.early_stopping needs validation rows, but data.validation_fraction is 0; set "
        + "data.validation_fraction (e.g. 0.2) or drop train.early_stopping")
    XCTAssertEqual(
      configErrorMessage(minimalYAML + "train:\n  early_stopping: 5\n"),
      "configs/x.yaml: train.early_stopping must be a mapping such as {metric: val_loss, patience: 5, min_delta: 0.0}, "
        + "got '5'; leave the key out to turn early stopping off")
  }

  func testControlsThatDoNotFitTheTask() {
    XCTAssertEqual(
      configErrorMessage(minimalYAML + "task:\n  loss: mae\n"),
      "configs/x.yaml: task.loss chooses a regression loss, but task.kind is multiclass (its loss is cross-entropy); drop task.loss"
    )
    XCTAssertEqual(
      configErrorMessage(minimalYAML + "task:\n  kind: binary\ntrain:\n  label_smoothing: 0.1\n"),
      "configs/x.yaml: train.label_smoothing applies to multiclass only; task.kind is binary (set it to 0)")
    XCTAssertEqual(
      configErrorMessage(minimalYAML + "train:\n  optimizer: sgd\n  momentum: 0\n  nesterov: true\n"),
      "configs/x.yaml: train.nesterov needs SGD momentum above 0 (train.momentum is 0), as torch.optim.SGD")
  }

  func testRenderedEarlyStoppingReadsBack() throws {
    var c = TrainConfig.defaults
    c.data.path = "d.h5"
    c.train.earlyStopping = EarlyStopping(metric: .valAccuracy, patience: 2, minDelta: 0.5)
    XCTAssertTrue(
      c.yaml().contains("  early_stopping: {metric: val_accuracy, patience: 2, min_delta: 0.5}\n"), c.yaml())
    XCTAssertEqual(try TrainConfig.parse(yaml: c.yaml(), source: "r.yaml"), c)
  }
}
