// The typed training configuration. Every key's YAML name, type, default and help text live in one place,
// ConfigSchema.swift; this file only declares the shapes the rest of mmtrain codes against.
import Foundation
import MMCore

import MMData
import MMDistributed
import MMEval
import MMModel
import MMOptim

// The enums a key can take are owned by the module that acts on them (MMData: Align, Normalize,
// MissingPolicy, SplitKind; MMModel: CellKind, PoolingKind, FusionKind, RegressionLoss, ClassWeights; MMOptim:
// OptimizerKind, ScheduleKind; MMCore: TaskKind); code that reads them imports those modules.

/// What a failed checkpoint write does: stop the run (exit 1) or warn and continue.
public enum CheckpointErrorPolicy: String, CaseIterable, Sendable { case stop, warn }

/// `data:` section: which file, which modalities, and how sequences are shaped before the model sees them.
public struct DataConfig: Equatable, Sendable {
  public var path: String
  /// Empty means every modality in the file, sorted by name.
  public var modalities: [String]
  /// Steps per sequence: one value, or one per modality (late/attention/tensor fusion only).
  public var steps: PerModality<Int>
  public var align: Align
  public var normalize: Normalize
  public var missing: MissingPolicy
  public var validationFraction: Double
  /// How the validation rows are held out: single rows, whole `/groups`, or keeping class shares.
  public var split: SplitKind
  /// Read batches from the file during training instead of holding the shard in memory.
  public var stream: Bool
  /// `stream`: the reader's buffer of prepared rows, in MiB.
  public var streamBufferMB: Int
  /// Read rows stored uncompressed in place from the file's pages instead of copying them into memory.
  public var mmap: Bool
}

/// `model:` section: the `Architecture` a ModelSpec holds (declared once, in MMModel; `model.fusion` etc.
/// read through to it), and the per-modality hidden sizes ModelSpec resolves into its inputs.
@dynamicMemberLookup
public struct ModelConfig: Equatable, Sendable {
  public var architecture: Architecture
  /// Hidden units per direction: one width (or one per layer), or one per modality (every fusion but early).
  public var hidden: PerModality<LayerWidths>
  /// `model.encoders`: the encoder of each non-sequence modality by name (a static vector's MLP); absent = default.
  public var encoders: [String: EncoderChoice] = [:]
  /// `model.embed`: the embedding of each token-id modality by name (width, frozen or trained).
  public var embed: [String: EmbedChoice] = [:]

  public subscript<T>(dynamicMember field: WritableKeyPath<Architecture, T>) -> T {
    get { architecture[keyPath: field] }
    set { architecture[keyPath: field] = newValue }
  }
}

/// `task:` section.
public struct TaskConfig: Equatable, Sendable {
  public var kind: TaskKind
  /// One label per sample, or one per time step.
  public var target: TargetKind
  /// nil = inferred from the labels (multiclass: distinct values; regression: label columns; binary: 2).
  public var classes: Int?
  /// Per-class loss weights (multiclass and binary; binary maps them to pos_weight = w1 / w0).
  public var classWeights: ClassWeights
  /// Regression loss.
  public var loss: RegressionLoss
  /// F.huber_loss's delta (task.loss: huber).
  public var huberDelta: Double
}

/// `train:` section. Momentum and nesterov apply to SGD only; beta1, beta2 to Adam/AdamW; alpha to RMSprop.
public struct TrainSettings: Equatable, Sendable {
  public var epochs: Int
  public var batchSize: Int
  public var optimizer: OptimizerKind
  public var lr: Double
  public var momentum: Double
  public var nesterov: Bool
  public var weightDecay: Double
  public var l1: Double
  public var modalityDropout: Double
  public var beta1: Double
  public var beta2: Double
  public var eps: Double
  public var alpha: Double
  public var schedule: ScheduleKind
  public var warmupSteps: Int
  public var gamma: Double
  public var stepEpochs: Int
  public var lrMin: Double
  public var clipNorm: Double
  public var labelSmoothing: Double
  /// nil = off.
  public var earlyStopping: EarlyStopping?
  public var seed: UInt64
  /// OpenBLAS threads per rank.
  public var blasThreads: Int
}

/// `train.early_stopping.metric`: what early stopping watches, on the validation split.
public enum EarlyStoppingMetric: String, CaseIterable, Sendable {
  case valLoss = "val_loss", valAccuracy = "val_accuracy", valF1 = "val_f1", valMAE = "val_mae"

  /// Accuracy and F1 improve upwards, losses and errors downwards.
  public var higherIsBetter: Bool { self == .valAccuracy || self == .valF1 }

  /// Whether the metric exists for the task (accuracy and F1 for classification, MAE for regression).
  public func applies(to kind: TaskKind) -> Bool {
    switch self {
    case .valLoss: return true
    case .valAccuracy, .valF1: return kind != .regression
    case .valMAE: return kind == .regression
    }
  }
}

/// `train.early_stopping: {metric, patience, min_delta}`: stop when `metric` has not improved by more than
/// `minDelta` for `patience` epochs in a row.
public struct EarlyStopping: Equatable, Sendable {
  public var metric: EarlyStoppingMetric
  public var patience: Int
  public var minDelta: Double
  public init(metric: EarlyStoppingMetric = .valLoss, patience: Int = 5, minDelta: Double = 0) {
    self.metric = metric; self.patience = patience; self.minDelta = minDelta
  }
}

/// `checkpoint:` section.
public struct CheckpointConfig: Equatable, Sendable {
  public var dir: String
  public var everyEpochs: Int
  public var keep: Int
  /// Mid-epoch checkpoint every N steps (0 = off).
  public var everySteps: Int
  public var onError: CheckpointErrorPolicy
}

/// `dist:` section: the ranks watching each other.
public struct DistConfig: Equatable, Sendable {
  /// Watchdog deadline for one collective, in seconds (0 = off).
  public var timeoutSeconds: Double
  /// Compare a parameter checksum across ranks every N steps (0 = off).
  public var checkEvery: Int
  /// What the gradient all-reduce sends: float32 as computed, or rounded to float16 (half the bytes).
  public var compress: GradientCompression = .none
  /// Bit-identical training on any world size (world-size-independent chunks, exact fixed-point sums). Left
  /// out of a config it follows `compress` (on unless fp16); a resumed run that leaves it out continues with
  /// the checkpoint's (ResumeRules).
  public var worldInvariant = true
  /// The config gave `dist.world_invariant` (not a key: what the parser saw).
  public var worldInvariantGiven = KeyGiven()
}

/// Whether a config gave a key, beside its resolved value: what the parser saw, not part of the config's value,
/// so any two compare equal (configs that resolve alike are equal however they were written).
public struct KeyGiven: Equatable, Sendable {
  public var value = false
  public init(_ value: Bool = false) { self.value = value }
  public static func == (_: KeyGiven, _: KeyGiven) -> Bool { true }
}

/// `cv:` section (`mmtrain cv`).
public struct CVConfig: Equatable, Sendable {
  public var folds: Int
  public var strategy: FoldStrategy
  public var shuffle: Bool
  public var seed: UInt64
  public var parallelFolds: Int
  /// After the folds, train one final model on every row into RUN_DIR/final/ (GridSearchCV's refit).
  public var refit: Bool
  public var spec: FoldSpec { FoldSpec(k: folds, strategy: strategy, shuffle: shuffle, seed: seed) }
}

/// `report:` section.
public struct ReportConfig: Equatable, Sendable {
  public var ablation: Bool
  public var metric: ReportMetric
}

/// A whole run's configuration, resolved: every field holds either the user's value or the default.
public struct TrainConfig: Equatable, Sendable {
  public var data: DataConfig
  public var model: ModelConfig
  public var task: TaskConfig
  public var train: TrainSettings
  public var checkpoint: CheckpointConfig
  public var cv: CVConfig
  public var report: ReportConfig
  public var dist: DistConfig

  /// Every field at its documented default; `data.path` is "" because it has none (it is required).
  public static let defaults: TrainConfig = ConfigSchema.keys.reduce(into: unfilled) { config, key in
    key.applyDefault(&config)
  }

  /// Placeholder values, each overwritten by ConfigSchema's default when `defaults` is built;
  /// they exist only because Swift needs a value to start from. Never read elsewhere.
  private static let unfilled = TrainConfig(
    data: DataConfig(
      path: "", modalities: [], steps: .all(0), align: .interpolate, normalize: .zscore, missing: .error,
      validationFraction: 0, split: .random, stream: false, streamBufferMB: 0, mmap: false),
    model: ModelConfig(architecture: Architecture(), hidden: .all(.uniform(0))),
    task: TaskConfig(kind: .multiclass, target: .sample, classes: nil, classWeights: .none, loss: .mse, huberDelta: 0),
    train: TrainSettings(
      epochs: 0, batchSize: 0, optimizer: .adam, lr: 0, momentum: 0, nesterov: false, weightDecay: 0, l1: 0,
      modalityDropout: 0, beta1: 0, beta2: 0, eps: 0, alpha: 0, schedule: .constant, warmupSteps: 0, gamma: 0,
      stepEpochs: 0,
      lrMin: 0, clipNorm: 0, labelSmoothing: 0, earlyStopping: nil, seed: 0, blasThreads: 0),
    checkpoint: CheckpointConfig(dir: "", everyEpochs: 0, keep: 0, everySteps: 0, onError: .stop),
    cv: CVConfig(folds: 0, strategy: .kfold, shuffle: false, seed: 0, parallelFolds: 0, refit: false),
    report: ReportConfig(ablation: false, metric: .auto),
    dist: DistConfig(timeoutSeconds: 0, checkEvery: 0))
}
