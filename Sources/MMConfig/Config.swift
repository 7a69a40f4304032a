// The typed training configuration. Every key's YAML name, type, default and help text live in one place,
// ConfigSchema.swift; this file only declares the shapes the rest of mmtrain codes against.
import Foundation

// The enums a key can take are owned by the module that acts on them (MMData: Align, Normalize,
// MissingPolicy; MMModel: TaskKind, CellKind, PoolingKind, FusionKind; MMOptim: OptimizerKind) and
// re-exported here, so code that reads a config needs only `import MMConfig`.
@_exported import MMData
@_exported import MMModel
@_exported import MMOptim

/// `data:` section: which file, which modalities, and how sequences are shaped before the model sees them.
public struct DataConfig: Equatable, Sendable {
  public var path: String
  /// Empty means every modality in the file, sorted by name.
  public var modalities: [String]
  /// Steps per sequence: one value, or one per modality (late/attention/tensor fusion only).
  public var steps: PerModality
  public var align: Align
  public var normalize: Normalize
  public var missing: MissingPolicy
  public var validationFraction: Double
}

/// `model:` section.
public struct ModelConfig: Equatable, Sendable {
  public var fusion: FusionKind
  public var cell: CellKind
  /// Hidden units per direction: one value, or one per modality (late/attention/tensor fusion only).
  public var hidden: PerModality
  public var layers: Int
  public var bidirectional: Bool
  public var pooling: PoolingKind
  /// nil = the encoder's output size.
  public var attentionSize: Int?
  /// nil = the fusion's default: the encoder output size for attention, 8 for tensor.
  public var fusionSize: Int?
  /// nil = the fusion's default: 0 (a Linear head) for early, 64 for the others.
  public var headHidden: Int?
  public var dropout: Double
}

/// `task:` section.
public struct TaskConfig: Equatable, Sendable {
  public var kind: TaskKind
  /// nil = inferred from the labels (multiclass: distinct values; regression: label columns; binary: 2).
  public var classes: Int?
}

/// `train:` section. Momentum applies to SGD only; beta1, beta2 and eps to Adam only.
public struct TrainSettings: Equatable, Sendable {
  public var epochs: Int
  public var batchSize: Int
  public var optimizer: OptimizerKind
  public var lr: Double
  public var momentum: Double
  public var weightDecay: Double
  public var modalityDropout: Double
  public var beta1: Double
  public var beta2: Double
  public var eps: Double
  public var seed: UInt64
  /// OpenBLAS threads per rank.
  public var blasThreads: Int
}

/// `checkpoint:` section.
public struct CheckpointConfig: Equatable, Sendable {
  public var dir: String
  public var everyEpochs: Int
  public var keep: Int
}

/// A whole run's configuration, resolved: every field holds either the user's value or the default.
public struct TrainConfig: Equatable, Sendable {
  public var data: DataConfig
  public var model: ModelConfig
  public var task: TaskConfig
  public var train: TrainSettings
  public var checkpoint: CheckpointConfig

  /// Every field at its documented default; `data.path` is "" because it has none (it is required).
  public static let defaults: TrainConfig = ConfigSchema.keys.reduce(into: unfilled) { config, key in
    key.applyDefault(&config)
  }

  /// Placeholder values, each overwritten by ConfigSchema's default when `defaults` is built;
  /// they exist only because Swift needs a value to start from. Never read elsewhere.
  private static let unfilled = TrainConfig(
    data: DataConfig(
      path: "", modalities: [], steps: .all(0), align: .interpolate, normalize: .zscore, missing: .error,
      validationFraction: 0),
    model: ModelConfig(
      fusion: .early, cell: .lstm, hidden: .all(0), layers: 0, bidirectional: false, pooling: .last, attentionSize: nil,
      fusionSize: nil, headHidden: nil, dropout: 0),
    task: TaskConfig(kind: .multiclass, classes: nil),
    train: TrainSettings(
      epochs: 0, batchSize: 0, optimizer: .adam, lr: 0, momentum: 0, weightDecay: 0, modalityDropout: 0, beta1: 0, beta2: 0,
      eps: 0, seed: 0, blasThreads: 0),
    checkpoint: CheckpointConfig(dir: "", everyEpochs: 0, keep: 0))
}

/// A configuration mistake, as one line that names the file (or "--set"), the full key path, and the fix.
public struct ConfigError: Error, CustomStringConvertible, Equatable, Sendable {
  public let message: String
  public init(_ message: String) { self.message = message }
  public var description: String { message }
}

extension ConfigError: LocalizedError {
  /// So `error.localizedDescription` prints the message rather than Foundation's generic text.
  public var errorDescription: String? { message }
}
