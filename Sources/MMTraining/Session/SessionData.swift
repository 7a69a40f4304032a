import Foundation
import MMCheckpoint
import MMConfig
import MMCore
import MMData
import MMDistributed
import MMHDF5
import MMModel
import MMTensor

/// Which rows a session trains on and which it holds out: the inner validation rows (global ids, ascending)
/// and `excluded`, every row not trained on (validation, and a cv fold's test rows), which the
/// normalisation statistics must not see.
public struct DataSplit {
  public let validationRows: [Int]
  public let trainRows: [Int]
  let excluded: [Bool]  // [N]
  public var trainRowCount: Int { trainRows.count }
}

/// The data half of a session's assembly: the file checked against the config and the checkpoint, the
/// validation split, this rank's shard, the sampler, the loss and the provenance. Collective.
struct SessionData {
  var config: TrainConfig
  let schema: DataSchema
  let modalities: [DataSchema.Modality]
  let features: Int
  let shard: Shard
  let split: DataSplit
  let sampler: EpochSampler
  let provenance: Provenance?
  let lossSpec: LossSpec
  /// The token modalities' embeddings (V, E, frozen) and rank 0's pretrained vectors.
  let embeddings: Embeddings
  var timing = RunTiming()

  /// The checkpoint a session starts from (resume or --init/inference weights), and how the lines name it.
  static func saved(_ o: TrainingSession.Options) -> (Checkpoint.Contents?, String) {
    (o.resume ?? o.initFrom, o.resume != nil ? "--resume" : (o.inference ? "--checkpoint" : "--init"))
  }

  static func load(_ c: TrainConfig, comm: Communicator, options o: TrainingSession.Options, progress: Console) throws
    -> SessionData
  {
    var c = c
    let file = try comm.agree { try HDF5File(path: c.data.path, mode: .readOnly) }
    defer { file.close() }
    let schema = try comm.agree { try DataSchema.read(file, requireLabels: !o.labelsOptional) }
    try checkFingerprint(c, comm: comm, options: o, progress: progress)
    let modalities = try comm.agree { try schema.resolveModalities(c.data.modalities) }
    let names = modalities.map(\.name)
    try comm.agree { try ModelSpec.checkPerModalityKeys(c, modalities: modalities) }
    c.data.modalities = names  // checkpoints record the order the model was trained on
    let (mask, excluded) = try validationRows(c, file: file, schema: schema, comm: comm, options: o)
    let (saved, how) = SessionData.saved(o)
    var input = ResumeChecks.inputRecord(modalities, c, classes: c.task.kind == .binary ? 2 : c.task.classes)
    try comm.agree { try ResumeChecks.checkInput(input, against: saved, how: how) }
    var load = LoadOptions(
      modalities: modalities, steps: modalities.map { !$0.kind.hasSteps ? 1 : c.data.steps.value(for: $0.name)! },
      align: c.data.align,
      normalize: c.data.normalize, missing: c.data.missing, task: c.task.kind, classes: c.task.classes,
      validationMask: excluded, statistics: saved?.normalization.map { FeatureStatistics(mean: $0.mean, std: $0.std) },
      stream: c.data.stream
        ? StreamOptions(bufferBytes: c.data.streamBufferMB << 20, rowsPerStep: c.train.batchSize) : nil)
    load.target = c.task.target
    load.mmap = c.data.mmap
    var timing = RunTiming()
    let loadStarted = RunTiming.now()
    let shard = try ShardLoader.load(file: file, schema: schema, options: load, comm: comm)
    timing.loadSeconds = RunTiming.now() - loadStarted
    timing.loadBytes = shard.count * modalities.reduce(0) { $0 + $1.steps * $1.features } * MemoryLayout<Float>.size
    let embeddings = try Embeddings.resolve(
      c, file: file, modalities: modalities, shard: shard, saved: saved, comm: comm)
    if c.task.kind == .multiclass { c.task.classes = shard.classes }
    input.classes = shard.classes
    try comm.agree { try ResumeChecks.checkInput(input, against: saved, how: how) }
    let split = DataSplit(
      validationRows: mask.indices.filter { mask[$0] }, trainRows: (0..<schema.count).filter { !excluded[$0] },
      excluded: excluded)
    let sampler = try makeSampler(c, split: split, schema: schema, comm: comm, options: o)
    let provenance = try comm.agree { () -> Provenance? in
      guard comm.isRoot && !o.inference else { return nil }
      return try record(c, input: input, file: file, schema: schema, shard: shard, split: split, options: o)
    }
    try checkControls(c, split: split, schema: schema, sampler: sampler, comm: comm, options: o)
    let ownedTraining = shard.rows.filter { !excluded[$0] }.map { $0 - shard.rows.lowerBound }
    let lossSpec =
      o.inference  // evaluate/predict need no class weights (and have no training rows to count)
      ? LossSpec(c.task.kind, labelSmoothing: 0, regression: c.task.loss, huberDelta: Float(c.task.huberDelta))
      : try LossSpec.make(c, shard: shard, trainingRows: ownedTraining, comm: comm)
    return SessionData(
      config: c, schema: schema, modalities: modalities, features: load.features, shard: shard, split: split,
      sampler: sampler, provenance: provenance, lossSpec: lossSpec, embeddings: embeddings, timing: timing)
  }

  /// mask: the inner validation rows; excluded: every row not trained on. A resumed run keeps its
  /// checkpoint's rows; a cv fold draws them from its training rows by the kind cv.strategy implies.
  static func validationRows(
    _ c: TrainConfig, file: HDF5File, schema: DataSchema, comm: Communicator, options o: TrainingSession.Options
  ) throws -> (mask: [Bool], excluded: [Bool]) {
    let n = schema.count
    if o.inference { return ([Bool](repeating: false, count: n), [Bool](repeating: true, count: n)) }
    guard let fold = o.trainingRows else {
      let mask = try comm.agree {
        let (groups, labels) =
          o.resume?.provenance != nil
          ? (nil, nil) : try ResumeChecks.splitColumns(c.data.split, file: file, schema: schema, c)
        return try ResumeChecks.validationMask(count: n, c, resume: o.resume, groups: groups, labels: labels)
      }
      return (mask, mask)
    }
    var mask: [Bool]
    if o.resume?.provenance != nil {
      mask = try comm.agree { try ResumeChecks.validationMask(count: n, c, resume: o.resume) }
    } else {
      let kind = o.split ?? c.data.split
      let (groups, labels) = try comm.agree { try ResumeChecks.splitColumns(kind, file: file, schema: schema, c) }
      let inner = Split.validationMask(
        count: fold.count, fraction: c.data.validationFraction, seed: c.train.seed, kind: kind,
        groups: groups.map { g in fold.map { g[$0] } }, labels: labels.map { l in fold.map { l[$0] } })
      mask = [Bool](repeating: false, count: n)
      for (i, row) in fold.enumerated() where inner[i] { mask[row] = true }
    }
    var excluded = [Bool](repeating: true, count: n)
    for row in fold where !mask[row] { excluded[row] = false }
    return (mask, excluded)
  }

  /// On resume: refuses a data file whose fingerprint (size, mtime, datasets) differs from the one the
  /// checkpoint recorded (its provenance), unless --allow-data-change.
  static func checkFingerprint(
    _ c: TrainConfig, comm: Communicator, options o: TrainingSession.Options, progress: Console
  ) throws {
    guard let resume = o.resume, let old = resume.provenance?.data else { return }
    let path = c.data.path
    try comm.agree {
      guard comm.isRoot, let change = try DataFingerprint.of(path: path).difference(from: old) else { return }
      if o.allowDataChange {
        progress.line(
          "warning: \(path) changed since \(resume.path) was written (\(change)); resuming anyway (--allow-data-change)"
        )
        return
      }
      throw MMError(
        "\(path) changed since \(resume.path) was written: \(change); resuming would continue on other data (restore the "
          + "file, or pass --allow-data-change to resume anyway)")
    }
  }

  /// The epoch order's sampler: a resumed run continues the checkpoint's seed and RNG state.
  static func makeSampler(
    _ c: TrainConfig, split: DataSplit, schema: DataSchema, comm: Communicator, options o: TrainingSession.Options
  ) throws -> EpochSampler {
    try comm.agree {
      if split.trainRows.isEmpty && !o.inference {
        throw MMError(
          "\(c.data.path): no training rows (the file has \(schema.count) samples; lower data.validation_fraction)")
      }
    }
    let sampler = EpochSampler(
      trainRows: split.trainRows, batchSize: c.train.batchSize, seed: o.resume?.state.seed ?? c.train.seed)
    if let resume = o.resume { try comm.agree { try ResumeChecks.checkSampler(sampler, resume) } }
    return sampler
  }

  /// Rank 0: the provenance every checkpoint carries, and split.json.
  static func record(
    _ c: TrainConfig, input: InputRecord, file: HDF5File, schema: DataSchema, shard: Shard, split: DataSplit,
    options o: TrainingSession.Options
  ) throws -> Provenance {
    let validLengths = try meanValidLengths(file, schema, names: c.data.modalities, excluded: split.excluded)
    let provenance = Provenance(
      input: input, dataPath: c.data.path, data: try DataFingerprint.of(path: c.data.path),
      validationRows: split.validationRows, validationSeed: c.train.seed, validationFraction: c.data.validationFraction,
      classNames: c.task.kind == .regression
        ? nil : InputChecks.classNames(schema.classNames, classes: shard.classes, c.task.kind),
      validLengths: validLengths, blasKernel: BLAS.coreName)
    try RunDirectory(path: c.checkpoint.dir).writeSplit(
      seed: c.train.seed, fraction: c.data.validationFraction, samples: schema.count,
      validationRows: split.validationRows,
      kind: (o.split ?? c.data.split).rawValue)
    return provenance
  }

  /// The training controls that need the data: a warm-up within the run, validation rows for early stopping.
  static func checkControls(
    _ c: TrainConfig, split: DataSplit, schema: DataSchema, sampler: EpochSampler, comm: Communicator,
    options o: TrainingSession.Options
  ) throws {
    try comm.agree {
      if o.inference { return }  // evaluate/predict: no training controls
      try StepControls.checkWarmup(c.train, stepsPerEpoch: sampler.stepsPerEpoch)
      if c.train.earlyStopping != nil, split.validationRows.isEmpty {
        throw MMError(
          "train.early_stopping needs validation rows, but data.validation_fraction = \(c.data.validationFraction) leaves "
            + "none of the \(schema.count) samples of \(c.data.path); raise data.validation_fraction or drop train.early_stopping"
        )
      }
    }
  }

  /// Per modality with lengths in the file: the mean valid steps of the training rows (rows not `excluded`)
  /// and the file's T (what a checkpoint records as valid_lengths).
  static func meanValidLengths(
    _ file: HDF5File, _ schema: DataSchema, names: [String], excluded: [Bool]
  ) throws -> [String: Provenance.ValidLength]? {
    var means: [String: Provenance.ValidLength] = [:]
    for m in schema.modalities where names.contains(m.name) {
      guard let ds = schema.lengthsDataset(for: m.name) else { continue }
      let lengths = try file.readInt64s(ds)
      let rows = lengths.indices.filter { !excluded[$0] }
      let sum = rows.reduce(0.0) { $0 + Double(min(max(lengths[$1], 0), Int64(m.steps))) }
      means[m.name] = .init(mean: sum / Double(max(rows.count, 1)), steps: m.steps)
    }
    return means.isEmpty ? nil : means
  }
}
