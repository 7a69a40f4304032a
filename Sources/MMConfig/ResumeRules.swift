import MMCore
// Which keys a resumed run may change. A checkpoint is the product of everything it was trained on: the
// data and how it was prepared, the model, the task, the split and batch order (train.seed), the folds.
// Changing one of those under --resume would silently continue a different experiment, so it is refused,
// naming the key. Keys that only shape the future (train.epochs, train.lr, checkpoint.keep, ...) stay free.

public enum ResumeRules {
  /// A key is frozen on resume when its path starts with one of these. Prefixes, so keys added later under
  /// these sections (cv.folds, model.cell, ...) are covered without editing this list.
  public static let frozenPrefixes = ["train.seed", "data.", "model.", "task.", "cv.", "dist.world_invariant"]

  /// Frozen keys that may still change: `data.path` may point at the same file in another place (a moved
  /// run, another mount); whether it holds the same data is the data fingerprint's question, and whether it
  /// gives the same input layout the input record's.
  /// `cv.parallel_folds` and `cv.refit` only say how the remaining work is scheduled; `data.stream` and
  /// `data.stream_buffer_mb` and `data.mmap` only where the rows wait (memory or file), not what they are.
  public static let movable: Set<String> = [
    "data.path", "cv.parallel_folds", "cv.refit", "data.stream", "data.stream_buffer_mb", "data.mmap",
  ]

  public static func isFrozen(_ key: String) -> Bool {
    !movable.contains(key) && frozenPrefixes.contains { key == $0 || ($0.hasSuffix(".") && key.hasPrefix($0)) }
  }

  /// Frozen keys whose resolved values differ between the checkpoint's config and the new run's, with both
  /// values as YAML. Comparing resolved values means a --set that repeats the checkpoint's value is fine.
  /// An inferred value left unset in the new config (task.classes: null, data.modalities: []) takes the
  /// checkpoint's, which holds what was inferred; so does a dist.world_invariant left out (`filled`).
  public static func changedKeys(checkpoint saved: TrainConfig, run new: TrainConfig) -> [(
    key: String, checkpoint: String, run: String
  )] {
    let new = filled(new, from: saved)
    return ConfigSchema.keys.filter { isFrozen($0.path) }.compactMap { key in
      let (a, b) = (key.render(saved), key.render(new))
      return a == b ? nil : (key.path, a, b)
    }
  }

  /// Throws a ConfigError naming the first frozen key the new config changes; returns the config to resume
  /// with (an unset task.classes filled in from the checkpoint).
  public static func check(checkpoint saved: TrainConfig, run new: TrainConfig, checkpointPath: String) throws
    -> TrainConfig
  {
    if let change = changedKeys(checkpoint: saved, run: new).first {
      throw MMError.usage(
        "--resume \(checkpointPath): \(change.key) = \(change.run) differs from the checkpoint's \(change.checkpoint); "
          + "it would change what has already been trained (keep \(change.key): \(change.checkpoint) to continue, "
          + "or start a new run from these weights with --config ... --init \(checkpointPath))")
    }
    return filled(new, from: saved)
  }

  /// The same rule for a cv run: the manifest's config is what every fold trains with, so a frozen key that
  /// differs would put folds of two experiments into one report. `how` names the command
  /// ("cv --resume RUN_DIR", "cv --fold 3").
  public static func checkCV(manifest saved: TrainConfig, run new: TrainConfig, how: String, manifestPath: String)
    throws -> TrainConfig
  {
    if let change = changedKeys(checkpoint: saved, run: new).first {
      throw MMError.usage(
        "\(how): \(change.key) = \(change.run) differs from \(change.checkpoint), which the folds of this run train with "
          + "(\(manifestPath)); folds of two experiments would be merged into one report (keep \(change.key): "
          + "\(change.checkpoint), or start a new cv run in another checkpoint.dir)")
    }
    return filled(new, from: saved)
  }

  /// The new config with what it leaves to the checkpoint filled in: an unset task.classes and
  /// data.modalities, and dist.world_invariant when not given (a run trained before it was on by default
  /// continues as it was), unless dist.compress now rules it out.
  static func filled(_ new: TrainConfig, from saved: TrainConfig) -> TrainConfig {
    var resumed = new
    if resumed.task.classes == nil { resumed.task.classes = saved.task.classes }
    if resumed.data.modalities.isEmpty { resumed.data.modalities = saved.data.modalities }
    if !resumed.dist.worldInvariantGiven.value, !saved.dist.worldInvariant || resumed.dist.compress == .none {
      resumed.dist.worldInvariant = saved.dist.worldInvariant
    }
    return resumed
  }
}

extension TrainConfig {
  /// Every key with its resolved value rendered as YAML, in the reference's order (to compare configs).
  public var renderedKeys: [(key: String, value: String)] {
    ConfigSchema.keys.map { ($0.path, $0.render(self)) }
  }
}
