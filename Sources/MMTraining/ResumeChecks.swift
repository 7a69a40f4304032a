import Foundation
import MMCheckpoint
import MMConfig
import MMCore
import MMData
import MMHDF5

/// Comparing a checkpoint with the run that loads it (`--resume` continues it, `--init` takes its weights):
/// the input must be laid out exactly as it was trained on, and a resumed run keeps the checkpoint's split
/// and batch order. Each mismatch is one line naming the difference.
enum ResumeChecks {
  /// This run's input as a checkpoint records it. `classes` is nil until inferred from the labels.
  static func inputRecord(_ modalities: [DataSchema.Modality], _ c: TrainConfig, classes: Int?) -> InputRecord {
    InputRecord(
      modalities: modalities.map {
        (name: $0.name, features: $0.features, steps: c.data.steps.value(for: $0.name) ?? 0)
      },
      align: c.data.align.rawValue, normalize: c.data.normalize.rawValue, task: c.task.kind.rawValue, classes: classes)
  }

  /// Stops when `input` differs from what `saved` was trained on. A checkpoint without an input record
  /// (format version 1) can only be held to its normalisation statistics' feature count.
  static func checkInput(_ input: InputRecord, against saved: Checkpoint.Contents?, how: String) throws {
    guard let saved else { return }
    if let record = saved.provenance?.input {
      if let difference = input.difference(from: record) {
        throw MMError("\(how) \(saved.path): the checkpoint does not fit this run: \(difference)")
      }
    } else if let stats = saved.normalization, stats.mean.count != input.features {
      throw MMError(
        "\(how) \(saved.path): normalisation statistics cover \(stats.mean.count) features, the data gives \(input.features) (same data.modalities needed)"
      )
    }
  }

  /// The validation rows: on resume the checkpoint's own (the rule that freezes train.seed and data.* keeps
  /// them equal to a recomputation), otherwise the seeded choice.
  static func validationMask(
    count n: Int, _ c: TrainConfig, resume: Checkpoint.Contents?, groups: [Int]? = nil, labels: [Int]? = nil
  ) throws -> [Bool] {
    guard let rows = resume?.provenance?.validationRows else {
      return Split.validationMask(
        count: n, fraction: c.data.validationFraction, seed: c.train.seed, kind: c.data.split, groups: groups,
        labels: labels)
    }
    var mask = [Bool](repeating: false, count: n)
    for row in rows {
      guard row >= 0 && row < n else {
        throw MMError(
          "--resume \(resume!.path): its validation split names sample \(row), but \(c.data.path) has \(n) samples (is it the file the run was trained on?)"
        )
      }
      mask[row] = true
    }
    return mask
  }

  /// What a `data.split` kind needs from the file: /groups for `group`, the class ids for `stratified`.
  static func splitColumns(
    _ kind: SplitKind, file: HDF5File, schema: DataSchema, _ c: TrainConfig
  ) throws -> (groups: [Int]?, labels: [Int]?) {
    guard c.data.validationFraction > 0 else { return (nil, nil) }
    switch kind {
    case .random:
      return (nil, nil)
    case .group:
      guard schema.hasGroups else {
        throw MMError(
          "\(c.data.path): data.split: group holds out whole /groups, but the file has no /groups (integer [N]: the "
            + "subject, speaker or session of each sample); add it, or use data.split: random")
      }
      let groups = try file.readInt64s("/groups").map(Int.init)
      if Set(groups).count < 2 {
        throw MMError(
          "\(c.data.path): data.split: group needs at least 2 groups in /groups, the file has 1; use data.split: random"
        )
      }
      return (groups, nil)
    case .stratified:
      let rank = c.task.target == .step ? 2 : 1
      guard c.task.kind != .regression, schema.labelsAreIntegers, schema.labelShape.count == rank else {
        throw MMError(
          "data.split: stratified keeps class shares, but \(c.data.path) has no integer class labels "
            + "\(rank == 1 ? "[N]" : "[N, T]") (task.kind \(c.task.kind.rawValue)); use data.split: random or group")
      }
      return (nil, try schema.strata(file, target: c.task.target, modalities: c.data.modalities))
    }
  }

  /// The sampler continues from the checkpoint's seed and RNG state; a state this sampler would not produce
  /// means the checkpoint comes from an mmtrain whose batch order differs.
  static func checkSampler(_ sampler: EpochSampler, _ resume: Checkpoint.Contents) throws {
    guard sampler.rng(epoch: resume.state.epoch).stateArray == resume.state.rngState else {
      let version = resume.provenance?.version ?? "before 0.2.0"
      throw MMError(
        "--resume \(resume.path): the sampler state (rng_state) does not match seed \(resume.state.seed) and epoch \(resume.state.epoch + 1) in this mmtrain \(MMTrainVersion.string) (written by mmtrain \(version)); the batch order cannot be continued exactly (use --init to start a new run from these weights)"
      )
    }
  }

  /// The line printed when a checkpoint is loaded: which file, where it stands, who wrote it.
  static func loadedLine(resume: Checkpoint.Contents?, initFrom: Checkpoint.Contents?, runDir: String) -> String? {
    func describe(_ c: Checkpoint.Contents) -> String {
      let position =
        c.state.stepInEpoch > 0
        ? "epoch \(c.state.epoch) + \(c.state.stepInEpoch) steps" : "epoch \(c.state.epoch)"
      return
        "\(TrainConfig.display(c.path)) (\(position), step \(c.state.step); mmtrain \(c.provenance?.version ?? "< 0.2.0"))"
    }
    if let resume { return "resumed: \(describe(resume)); continuing in \(TrainConfig.display(runDir))" }
    if let initFrom { return "init: weights from \(describe(initFrom)); optimiser and epochs start afresh" }
    return nil
  }
}
