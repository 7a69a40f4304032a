import Foundation
import MMCheckpoint
import MMConfig
import MMData
import MMDistributed
import MMHDF5
import MMModel
import MMOptim
import MMTensor

/// The loop that ties the rooms together. Every rank runs it; rank 0 alone writes and prints.
///
/// Per step: the global batch is the sampler's slice of the epoch order; each rank gathers the rows of it
/// that it owns, runs forward/backward with the loss scaled by 1 / global batch count (Σ w_y under class
/// weights: one extra all-reduce of that number), all-reduces the flat gradient buffer (sum), and every rank
/// applies the same controls (L1, clipping, schedule; StepControls) and optimiser step, so replicas stay
/// identical. After each epoch, early stopping (if on) watches the validation metric.
public final class Trainer {
  public struct Options {
    public var resume: Checkpoint.Contents? = nil   // continue exactly (params, optimiser, position)
    public var initFrom: Checkpoint.Contents? = nil // start from these weights only
    public var progress: ConsoleProgress.Mode = .auto
    /// k-fold: the fold's training rows (global ids, ascending). Only these are trained on; the inner
    /// validation split (`data.validation_fraction`) is drawn from them, and the normalisation statistics
    /// come from the rest of them. nil: every row of the file (train/validation split as usual).
    public var trainingRows: [Int]? = nil
    /// Evaluation only (`mmtrain evaluate`/`predict`, with `initFrom`): no run directory, no sampler; every
    /// row is evaluated with the checkpoint's weights and normalisation.
    public var inference = false
    /// Data without /labels (`mmtrain predict`): targets are zero and metrics are not computed.
    public var labelsOptional = false
    /// Extra string attributes for every checkpoint (a cv fold's manifest).
    public var checkpointAttributes: [String: String] = [:]
    public var allowDataChange = false                // resume even if the data file's fingerprint changed
    /// How the inner validation rows are drawn, when not `data.split` (a cv fold: from cv.strategy).
    public var split: SplitKind? = nil
    /// Called after every training step with the number of steps done (tests count allocations between steps).
    public var afterStep: ((_ globalStep: Int) -> Void)? = nil
    public init() {}
  }

  public struct EpochResult {
    public var epoch: Int
    public var trainLoss: Double, trainAccuracy: Double?
    public var valLoss: Double?, valAccuracy: Double?
    public var valF1: Double? = nil, valMAE: Double? = nil
    public var lr: Double = 0, gradNorm: Double = 0   // the epoch's last step's lr; mean pre-clip gradient norm
    public var samplesPerSecond: Double, elapsed: Double
    public var trainSeconds = 0.0, mpiWaitSeconds = 0.0, peakRSS = 0  // see RunTiming
    public var movedRows = 0  // rows processed by another rank than their owner (BatchBalancer), all ranks
  }

  /// The run's config; `task.classes` and `data.modalities` are filled in once inferred from the data, so
  /// checkpoints hold them.
  public private(set) var config: TrainConfig
  public let comm: Communicator
  let options: Options
  let progress: ConsoleProgress
  let run: RunDirectory

  public private(set) var model: MultimodalModel!
  public private(set) var optimizer: Optimizer!
  public private(set) var shard: Shard!
  public private(set) var history: [EpochResult] = []
  public private(set) var timing = RunTiming()
  var prepareStarted = 0.0
  var sampler: EpochSampler!
  var batch: BatchBuffers!
  var exchange: GradientExchange!
  var balancer: BatchBalancer!
  var validationCount = 0
  var provenance: Provenance?       // rank 0: what every checkpoint records about the input and the split
  var createdFolders: [String] = [] // rank 0: folders of the run directory this run created
  var lock: RunLock?                // rank 0: held for the life of the run
  var start = Date()                // when training started, less the time of the runs it resumes
  /// The inner validation rows (global ids, ascending) and the number of rows trained on.
  public private(set) var validationRows: [Int] = []
  public private(set) var trainRowCount = 0
  /// The data file's schema (modalities, groups, class names).
  public private(set) var schema: DataSchema!
  var lossSpec: LossSpec!
  var controls: StepControls!
  var stopper: EarlyStopper?        // nil: early stopping off

  public init(config: TrainConfig, comm: Communicator, options: Options = Options()) {
    self.config = config; self.comm = comm; self.options = options
    progress = ConsoleProgress(mode: options.progress, isRoot: comm.isRoot)
    run = RunDirectory(path: config.checkpoint.dir)
  }

  // MARK: - Setup

  /// Opens and checks the data, loads this rank's shard, builds and initialises the model.
  public func prepare() throws {
    let c = config
    prepareStarted = RunTiming.now()
    BLAS.setThreads(c.train.blasThreads)
    comm.startWatchdog(timeoutSeconds: c.dist.timeoutSeconds)
    if !options.inference { try prepareRunDirectory() }
    try loadData()
  }

  func prepareRunDirectory() throws {
    let c = config
    try comm.agree {
      try c.check(worldSize: comm.size)
      if comm.isRoot {
        createdFolders = try run.prepare()
        do { lock = try RunLock(directory: run.path) } catch {
          // Nothing of the holder's is touched; only folders this run made (lock failures other than a holder).
          if !createdFolders.isEmpty {
            unlink(run.path + "/" + RunLock.fileName)
            for folder in createdFolders.reversed() { rmdir(folder) }
          }
          throw error
        }
        run.removeLeftovers()
        if let resume = options.resume {
          try run.truncateMetrics(afterEpoch: resume.state.epoch)
        } else {
          try run.ensureNoPreviousRun()
          try run.truncateMetrics(afterEpoch: 0)  // lines of an earlier attempt that never wrote a checkpoint
        }
      }
    }
  }

  func loadData() throws {
    let c = config
    let file = try comm.agree { try HDF5File(path: c.data.path, mode: .readOnly) }
    defer { file.close() }
    let schema = try comm.agree { try DataSchema.read(file, requireLabels: !options.labelsOptional) }
    self.schema = schema
    try checkDataFingerprint()
    let modalities = try comm.agree { try schema.resolveModalities(c.data.modalities) }
    let names = modalities.map(\.name)
    try comm.agree { try ModelSpec.checkPerModalityKeys(c, modalities: names) }
    config.data.modalities = names  // checkpoints record the order the model was trained on
    // mask: the inner validation rows. excluded: every row not trained on (validation, and a cv fold's test
    // rows), which the normalisation statistics must not see.
    var mask: [Bool]
    var excluded: [Bool]
    if options.inference {
      mask = [Bool](repeating: false, count: schema.count)
      excluded = [Bool](repeating: true, count: schema.count)
    } else if let fold = options.trainingRows {
      if options.resume?.provenance != nil {
        mask = try comm.agree { try ResumeChecks.validationMask(count: schema.count, c, resume: options.resume) }
      } else {
        // The inner split of a cv fold: over the fold's training rows, by the kind cv.strategy implies.
        let kind = options.split ?? c.data.split
        let (groups, labels) = try comm.agree { try ResumeChecks.splitColumns(kind, file: file, schema: schema, c) }
        let inner = Split.validationMask(
          count: fold.count, fraction: c.data.validationFraction, seed: c.train.seed, kind: kind,
          groups: groups.map { g in fold.map { g[$0] } }, labels: labels.map { l in fold.map { l[$0] } })
        mask = [Bool](repeating: false, count: schema.count)
        for (i, row) in fold.enumerated() where inner[i] { mask[row] = true }
      }
      excluded = [Bool](repeating: true, count: schema.count)
      for row in fold where !mask[row] { excluded[row] = false }
    } else {
      mask = try comm.agree {
        let (groups, labels) = options.resume?.provenance != nil
          ? (nil, nil) : try ResumeChecks.splitColumns(c.data.split, file: file, schema: schema, c)
        return try ResumeChecks.validationMask(count: schema.count, c, resume: options.resume, groups: groups, labels: labels)
      }
      excluded = mask
    }
    let saved = options.resume ?? options.initFrom
    let how = options.resume != nil ? "--resume" : (options.inference ? "--checkpoint" : "--init")
    var input = ResumeChecks.inputRecord(modalities, c, classes: c.task.kind == .binary ? 2 : c.task.classes)
    try comm.agree { try ResumeChecks.checkInput(input, against: saved, how: how) }
    let stats = saved?.normalization.map { FeatureStatistics(mean: $0.mean, std: $0.std) }
    let load = LoadOptions(
      modalities: modalities, steps: names.map { c.data.steps.value(for: $0)! }, align: c.data.align, normalize: c.data.normalize,
      missing: c.data.missing, task: c.task.kind, classes: c.task.classes, validationMask: excluded, statistics: stats,
      stream: c.data.stream ? StreamOptions(bufferBytes: c.data.streamBufferMB << 20, rowsPerStep: c.train.batchSize) : nil)
    let loadStarted = RunTiming.now()
    shard = try ShardLoader.load(file: file, schema: schema, options: load, comm: comm)
    timing.loadSeconds = RunTiming.now() - loadStarted
    timing.loadBytes = shard.count * modalities.reduce(0) { $0 + $1.steps * $1.features } * MemoryLayout<Float>.size
    if c.task.kind == .multiclass { config.task.classes = shard.classes }
    input.classes = shard.classes
    try comm.agree { try ResumeChecks.checkInput(input, against: saved, how: how) }

    let trainRows = (0..<schema.count).filter { !excluded[$0] }
    validationRows = mask.indices.filter { mask[$0] }
    validationCount = validationRows.count
    trainRowCount = trainRows.count
    try comm.agree {
      if trainRows.isEmpty && !options.inference { throw TrainingError("\(c.data.path): no training rows (the file has \(schema.count) samples; lower data.validation_fraction)") }
    }
    sampler = EpochSampler(trainRows: trainRows, batchSize: c.train.batchSize, seed: options.resume?.state.seed ?? c.train.seed)
    if let resume = options.resume { try comm.agree { try ResumeChecks.checkSampler(sampler, resume) } }
    try comm.agree {
      guard comm.isRoot && !options.inference else { return }
      let validLengths = try meanValidLengths(file, schema, names: names, excluded: excluded)
      let validationRows = self.validationRows
      provenance = Provenance(
        input: input, dataPath: c.data.path, data: try DataFingerprint.of(path: c.data.path), validationRows: validationRows,
        validationSeed: c.train.seed, validationFraction: c.data.validationFraction,
        classNames: c.task.kind == .regression ? nil : InputChecks.classNames(schema.classNames, classes: shard.classes, c.task.kind),
        validLengths: validLengths)
      try run.writeSplit(
        seed: c.train.seed, fraction: c.data.validationFraction, samples: schema.count, validationRows: validationRows,
        kind: (options.split ?? c.data.split).rawValue)
    }
    try comm.agree {
      if options.inference { return }  // evaluate/predict: no training controls
      try StepControls.checkWarmup(c.train, stepsPerEpoch: sampler.stepsPerEpoch)
      if c.train.earlyStopping != nil, validationCount == 0 {
        throw TrainingError("train.early_stopping needs validation rows, but data.validation_fraction = \(c.data.validationFraction) leaves none of the \(schema.count) samples of \(c.data.path); raise data.validation_fraction or drop train.early_stopping")
      }
    }
    let ownedTraining = shard.rows.filter { !excluded[$0] }.map { $0 - shard.rows.lowerBound }
    lossSpec = options.inference  // evaluate/predict need no class weights (and have no training rows to count)
      ? LossSpec(c.task.kind, labelSmoothing: 0, regression: c.task.loss, huberDelta: Float(c.task.huberDelta))
      : try LossSpec.make(c, shard: shard, trainingRows: ownedTraining, comm: comm)
    stopper = c.train.earlyStopping.map { EarlyStopper($0, resumed: options.resume?.state.earlyStopping) }
    let outputs = c.task.kind == .binary ? 1 : shard.classes
    // The largest batch: a rank's share of a global batch in training (about ⌈B/W⌉ rows once balanced, never more
    // than B), and the evaluation chunk, which must not depend on the world size (EvaluationChunks).
    let maxBatch = max(1, min(c.train.batchSize, schema.count))
    let spec = ModelSpec.make(c, modalities: modalities, outputs: outputs)
    batch = BatchBuffers(steps: shard.steps, maxBatch: maxBatch, features: load.features, modalities: modalities.count,
                         targetWidth: shard.targetWidth)
    model = spec.make(maxBatch: maxBatch)
    optimizer = c.train.optimizer.make(parameterCount: model.arena.count, OptimizerSettings(c.train))
    controls = StepControls(c.train, arena: model.arena, stepsPerEpoch: sampler.stepsPerEpoch)
    exchange = GradientExchange(comm: comm, model: model, compress: c.dist.compress)
    if comm.size > 1 && GradientExchange.bucketed { model.poll = { [exchange] in exchange!.poll() } }
    let work = options.inference ? [] : BatchBalancer.rowWork(shard, samples: schema.count, comm: comm)
    balancer = BatchBalancer(comm: comm, shard: shard, samples: schema.count, work: work, batchSize: c.train.batchSize)
    if let saved {
      try comm.agree { try Checkpoint.loadParams(saved, into: model.arena) }
      if let resume = options.resume { try comm.agree { try Checkpoint.loadOptimizer(resume, into: optimizer) } }
    } else if comm.isRoot {
      model.initialize(seed: c.train.seed)
    }
    // Rank 0's parameters are the truth; one broadcast makes every replica identical.
    comm.broadcast(model.arena.values.pointer, count: model.arena.count, root: 0)
    // The slowest rank sets the start-up; microseconds, so one integer max reduce carries each.
    timing.loadBytes = comm.allreduceMax(timing.loadBytes)
    timing.loadSeconds = Double(comm.allreduceMax(Int(timing.loadSeconds * 1e6))) / 1e6
    timing.startupSeconds = Double(comm.allreduceMax(Int((RunTiming.now() - prepareStarted) * 1e6))) / 1e6

    if options.inference { return }
    let listing = modalities.map { "\($0.name) \($0.features)" }.joined(separator: ", ")
    let stepsText = c.data.steps.uniform.map { "\($0) steps" } ?? "steps " + spec.inputs.map { "\($0.name) \($0.steps)" }.joined(separator: ", ")
    let testText = options.trainingRows.map { ", \(schema.count - $0.count) test" } ?? ""
    progress.line("data: \(schema.count) samples (\(trainRows.count) train, \(validationCount) validation\(testText)) from \(TrainConfig.display(c.data.path)); modalities \(listing); \(stepsText), \(load.features) features")
    progress.line("model: \(spec.summary), \(model.arena.count) parameters; \(comm.size) rank(s), global batch \(c.train.batchSize), \(sampler.stepsPerEpoch) steps/epoch; \(c.train.optimizer.rawValue) lr \(c.train.lr)\(controlsSummary)")
    if let loaded = ResumeChecks.loadedLine(resume: options.resume, initFrom: options.initFrom, runDir: run.path) { progress.line(loaded) }
    if options.resume != nil && comm.isRoot { run.removeStopMarker() }  // the run is taken up again
  }

  // MARK: - Training

  /// Trains from the resumed epoch (or 0) to `train.epochs`, checkpointing as configured. A run that fails
  /// before its first checkpoint leaves no run directory behind that it created.
  @discardableResult
  public func train() throws -> [EpochResult] {
    do { return try trainEpochs() } catch let error where !(error is TrainingStopped) {
      if comm.isRoot && lock != nil {
        if run.checkpoints().isEmpty { lock?.release(removingFile: true) }
        run.removeIfUnused(created: createdFolders)
      }
      throw error
    }
  }

  func trainEpochs() throws -> [EpochResult] {
    if model == nil { try prepare() }
    let c = config
    let lossKind = c.task.kind
    var denominator = [0.0]  // Σ w_y of the global batch, all-reduced (class-weighted cross-entropy only)
    var globalStep = options.resume?.state.step ?? 0
    let firstEpoch = options.resume?.state.epoch ?? 0
    start = Date(timeIntervalSinceNow: -(options.resume?.state.elapsed ?? 0))  // elapsed_s runs on over resumes
    if firstEpoch >= c.train.epochs {
      progress.line("nothing to do: the checkpoint has \(firstEpoch) epochs, train.epochs = \(c.train.epochs) (raise it with --set train.epochs=N)")
    }
    var firstStep = options.resume?.state.stepInEpoch ?? 0  // > 0: resuming inside an epoch
    var stop = false  // agreed by all ranks after every step: a signal on any rank stops them all there
    var signal: Int32 = 0
    for epoch in firstEpoch..<max(firstEpoch, c.train.epochs) {
      let t0 = Date()
      let order = sampler.order(epoch: epoch)
      shard.willTrain(order: order, sampler: sampler, steps: firstStep..<sampler.stepsPerEpoch)  // data.stream: read ahead
      var sums = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0]  // loss sum, samples, correct, Σ weights (= samples unless class-weighted), seconds in collectives, rows moved
      var gradNormSum = 0.0, lr = 0.0, steps = 0  // the same on every rank: computed after the all-reduce
      defer { firstStep = 0 }
      exchange.waitSeconds = 0
      balancer.movedRows = 0; balancer.waitSeconds = 0
      for step in firstStep..<sampler.stepsPerEpoch {
        let rows = sampler.batch(step, of: order)
        comm.noteStep(globalStep + 1)
        // This rank's part of the batch: its own rows, evened out across ranks (BatchBalancer).
        rows.withUnsafeBufferPointer { balancer.take($0) }  // (no generic iteration: the step allocates nothing, even unoptimised)
        let count = balancer.count
        let mb = balancer.kept.withUnsafeBufferPointer {
          batch.gather($0, records: balancer.records, recordCount: balancer.received, from: shard)
        }
        model.arena.zeroGrads()
        denominator[0] = Double(rows.count)
        if lossSpec.weightsRows {
          denominator[0] = 0
          for k in 0..<count { denominator[0] += lossSpec.weight(ofLabel: batch.targets[k]) }
          comm.allreduceSum(&denominator)
        }
        let control = model.arena.control  // control[s] = 1: this rank received signal s; summed with the gradients
        control.update(repeating: 0, count: ParameterArena.controlCount)
        control[Int(StopSignal.received) & (ParameterArena.controlCount - 1)] = 1
        if count == 0 {
          exchange.startAll()
        } else {
          let ctx = TrainingContext(seed: c.train.seed, epoch: epoch, modalityDropout: c.train.modalityDropout)
          let logits = model.forward(mb, training: ctx)
          let r = Loss.evaluate(lossSpec, logits: logits, targets: batch.targets.pointer, batch: count, outputs: model.outputs,
                                denominator: denominator[0], dlogits: model.dlogits.pointer)
          model.backward { exchange.start($0) }  // each bucket's sum overlaps the rest of backward
          sums[0] += r.lossSum; sums[1] += Double(count); sums[2] += Double(r.correct); sums[3] += r.weightSum
        }
        exchange.finish()
        signal = 0
        for s in 1..<ParameterArena.controlCount where control[s] > 0 { signal = Int32(s) }  // the ranks agree on the largest
        stop = signal != 0
        let applied = controls.step(model.arena, optimizer, step: globalStep)
        gradNormSum += applied.norm; lr = applied.lr; steps += 1
        globalStep += 1
        try checkReplicas(step: globalStep)
        options.afterStep?(globalStep)
        progress.step(epoch: epoch + 1, epochs: c.train.epochs, step: step + 1, steps: sampler.stepsPerEpoch,
                      loss: sums[3] > 0 ? sums[0] / sums[3] : 0)
        if stop, step + 1 < sampler.stepsPerEpoch {
          let path = try saveCheckpoint(epoch: epoch, stepInEpoch: step + 1, step: globalStep)
          throw try stopped(epoch: epoch, stepInEpoch: step + 1, checkpoint: path, signal: signal)
        }
        if c.checkpoint.everySteps > 0, globalStep % c.checkpoint.everySteps == 0, step + 1 < sampler.stepsPerEpoch {
          try saveCheckpoint(epoch: epoch, stepInEpoch: step + 1, step: globalStep, mustSucceed: false)
        }
      }
      sums[4] = exchange.waitSeconds + balancer.waitSeconds
      sums[5] = Double(balancer.movedRows)
      comm.allreduceSum(&sums)
      let elapsedEpoch = Date().timeIntervalSince(t0)
      let peakRSS = comm.allreduceMax(RunTiming.peakRSS())
      let trainLoss = sums[3] > 0 ? sums[0] / sums[3] : 0
      let val = evaluate()
      // Every rank holds the same all-reduced losses; agree so that one rank reports.
      try comm.agree {
        for (name, loss) in [("train", trainLoss), ("validation", val?.loss ?? 0)] where !loss.isFinite {
          throw TrainingError("training diverged: the \(name) loss is \(loss) in epoch \(epoch + 1) (lower train.lr, or check the data with mmtrain inspect)")
        }
      }
      let result = EpochResult(
        epoch: epoch + 1, trainLoss: trainLoss, trainAccuracy: lossKind == .regression ? nil : sums[2] / max(sums[1], 1),
        valLoss: val?.loss, valAccuracy: val?.accuracy, valF1: val?.f1, valMAE: val?.mae, lr: lr,
        gradNorm: gradNormSum / Double(max(steps, 1)), samplesPerSecond: sums[1] / max(elapsedEpoch, 1e-9),
        elapsed: Date().timeIntervalSince(start), trainSeconds: elapsedEpoch, mpiWaitSeconds: sums[4] / Double(comm.size),
        peakRSS: peakRSS, movedRows: Int(sums[5]))
      history.append(result)
      report(result)
      // Early stopping: every rank sees the same all-reduced metric, so every rank decides the same.
      let improved = stopper.map { $0.observe(val!.value(of: $0.settings.metric), epoch: epoch + 1) } ?? false
      let earlyStop = stopper?.shouldStop ?? false
      let isLast = epoch + 1 == c.train.epochs
      if improved { try saveCheckpoint(epoch: epoch + 1, stepInEpoch: 0, step: globalStep, best: true, mustSucceed: false) }
      let stepDue = c.checkpoint.everySteps > 0 && globalStep % c.checkpoint.everySteps == 0
      if (epoch + 1) % c.checkpoint.everyEpochs == 0 || isLast || stop || earlyStop || stepDue {
        let path = try saveCheckpoint(epoch: epoch + 1, stepInEpoch: 0, step: globalStep, mustSucceed: stop)
        if stop && !isLast && !earlyStop { throw try stopped(epoch: epoch + 1, stepInEpoch: 0, checkpoint: path, signal: signal) }
      }
      if earlyStop, let s = stopper {
        progress.line("early stopping: \(s.settings.metric.rawValue) has not improved by more than \(s.settings.minDelta) for \(s.settings.patience) epoch(s)")
        break
      }
    }
    try restoreBest()
    return history
  }

  /// The epoch whose weights the run kept, when early stopping chose it.
  public var bestEpoch: Int? { stopper.flatMap { $0.state.bestEpoch > 0 ? $0.state.bestEpoch : nil } }

  /// With early stopping on, the run ends on the best epoch's weights: rank 0 reads checkpoint-best.h5,
  /// broadcasts them, and points `latest` at it.
  func restoreBest() throws {
    guard let s = stopper, s.state.bestEpoch > 0 else { return }
    try comm.agree {
      guard comm.isRoot else { return }
      try Checkpoint.loadParams(try Checkpoint.read(path: run.bestCheckpointPath), into: model.arena)
      try run.pointLatest(at: run.bestCheckpointPath)
    }
    comm.broadcast(model.arena.values.pointer, count: model.arena.count, root: 0)
    progress.line(String(format: "best epoch %d (%@ %.4f): its weights are in latest -> checkpoint-best.h5", s.state.bestEpoch,
                         s.settings.metric.rawValue, s.state.best))
  }

  /// " nesterov, cosine schedule, warm-up 100, clip 1.0, l1 1e-05, ...": the controls that are on.
  var controlsSummary: String {
    let t = config.train
    var parts: [String] = []
    if t.optimizer == .sgd && t.nesterov { parts.append("nesterov") }
    if t.schedule != .constant { parts.append("\(t.schedule.rawValue) schedule") }
    if t.warmupSteps > 0 { parts.append("warm-up \(t.warmupSteps)") }
    if t.clipNorm > 0 { parts.append("clip \(t.clipNorm)") }
    if t.l1 > 0 { parts.append("l1 \(t.l1)") }
    if config.task.classWeights != .none { parts.append("class weights") }
    if t.labelSmoothing > 0 { parts.append("label smoothing \(t.labelSmoothing)") }
    if let e = t.earlyStopping { parts.append("early stopping on \(e.metric.rawValue) (patience \(e.patience))") }
    return parts.isEmpty ? "" : ", " + parts.joined(separator: ", ")
  }

  /// Exact evaluation of the validation split: every row once, in world-size-independent chunks
  /// (EvaluationChunks.swift); sums and counts all-reduced.
  func evaluate() -> ValidationResult? {
    if validationCount == 0 { return nil }
    let lossKind = config.task.kind
    var sums = [0.0, 0.0, 0.0, 0.0, 0.0]  // loss sum, samples, correct, Σ weights, Σ mean |error|
    var confusion = ConfusionCounts(classes: lossKind == .regression ? 0 : shard.classes)
    forEachEvaluationChunk(validationRows) { mb in
      let logits = model.forward(mb)
      let r = Loss.evaluate(lossSpec, logits: logits, targets: batch.targets.pointer, batch: mb.count, outputs: model.outputs,
                            denominator: 1, dlogits: nil)
      sums[0] += r.lossSum; sums[1] += Double(mb.count); sums[2] += Double(r.correct); sums[3] += r.weightSum
      sums[4] += r.absErrorSum
      if lossKind != .regression {
        confusion.add(logits: logits, targets: batch.targets.pointer, batch: mb.count, outputs: model.outputs,
                      binary: lossKind == .binary)
      }
    }
    comm.allreduceSum(&sums)
    if lossKind != .regression { comm.allreduceSum(&confusion.counts) }
    let n = max(sums[1], 1)
    return lossKind == .regression
      ? ValidationResult(loss: sums[3] > 0 ? sums[0] / sums[3] : 0, mae: sums[4] / n)
      : ValidationResult(loss: sums[3] > 0 ? sums[0] / sums[3] : 0, accuracy: sums[2] / n, f1: confusion.f1(binary: lossKind == .binary))
  }

  // MARK: - Output

  func report(_ r: EpochResult) {
    var line = String(format: "epoch %d/%d  train loss %.4f", r.epoch, config.train.epochs, r.trainLoss)
    if let a = r.trainAccuracy { line += String(format: " acc %.3f", a) }
    if let v = r.valLoss { line += String(format: "  val loss %.4f", v) }
    if let a = r.valAccuracy { line += String(format: " acc %.3f", a) }
    line += String(format: "  lr %.3g  grad_norm %.3g", r.lr, r.gradNorm)
    line += String(format: "  %.0f samples/s  %.1fs", r.samplesPerSecond, r.elapsed)
    progress.line(line)
    guard comm.isRoot else { return }
    var json: [String: Any] = [
      "epoch": r.epoch, "train_loss": r.trainLoss, "samples_per_s": r.samplesPerSecond, "elapsed_s": r.elapsed,
      "world_size": comm.size, "lr": r.lr, "grad_norm": r.gradNorm,
      "train_s": r.trainSeconds, "mpi_wait_s": r.mpiWaitSeconds, "peak_rss_mb": Double(r.peakRSS) / 1e6,
      "balance_moved": r.movedRows, "startup_s": timing.startupSeconds, "load_s": timing.loadSeconds, "load_bytes": timing.loadBytes,
    ]
    if let f = r.valF1 { json["val_f1"] = f }
    if let m = r.valMAE { json["val_mae"] = m }
    if let a = r.trainAccuracy { json["train_accuracy"] = a }
    if let v = r.valLoss { json["val_loss"] = v }
    if let a = r.valAccuracy { json["val_accuracy"] = a }
    do { try run.appendMetrics(json) } catch { FileHandle.standardError.write(Data("mmtrain: warning: \(error)\n".utf8)) }
  }

  /// Rank 0 writes; every rank learns whether it worked. `epoch` = epochs completed, `stepInEpoch` = steps
  /// done in the epoch after those (0 at a boundary). Returns the checkpoint's path.
  /// `best`: write checkpoint-best.h5 instead (not published as latest, never deleted by checkpoint.keep).
  /// A failed write follows `checkpoint.on_error` (see Trainer+Faults.swift) unless `mustSucceed` (a stop:
  /// exit 75 promises a checkpoint).
  @discardableResult
  func saveCheckpoint(epoch: Int, stepInEpoch: Int, step: Int, best: Bool = false, mustSucceed: Bool = true) throws -> String {
    let path = best ? run.bestCheckpointPath : run.checkpointPath(epoch: epoch, stepInEpoch: stepInEpoch)
    try withCheckpointErrorPolicy(path: path, mustSucceed: mustSucceed) {
    try comm.agree {
      guard comm.isRoot else { return }
      let state = Checkpoint.State(
        epoch: epoch, step: step, stepInEpoch: stepInEpoch, seed: sampler.seed, rngState: sampler.rng(epoch: epoch).stateArray,
        elapsed: Date().timeIntervalSince(start), earlyStopping: stopper?.state)
      try Checkpoint.write(
        to: path, arena: model.arena, optimizer: optimizer, normalization: (shard.statistics.mean, shard.statistics.std),
        state: state, configYAML: config.yaml(), provenance: provenance, attributes: options.checkpointAttributes)
      if !best { try run.publish(path, keep: config.checkpoint.keep) }
    }
    }
    return path
  }

  /// After the stop checkpoint: rank 0 leaves RUN_DIR/STOPPED (checkpoint and signal) for launchers.
  func stopped(epoch: Int, stepInEpoch: Int, checkpoint: String, signal: Int32) throws -> TrainingStopped {
    try comm.agree {
      guard comm.isRoot else { return }
      try run.writeStopMarker(checkpoint: checkpoint, reason: StopSignal.name(signal), epoch: epoch, stepInEpoch: stepInEpoch)
    }
    return TrainingStopped(epoch: epoch, stepInEpoch: stepInEpoch, checkpoint: checkpoint, signal: signal)
  }
}

/// One batch gathered from a shard, time-major, allocated once at the largest local batch.
final class BatchBuffers {
  let x: Buffer                                    // (S, maxBatch, D)
  let lengths: UnsafeMutablePointer<Int32>         // (maxBatch) fused
  let modalityLengths: UnsafeMutablePointer<Int32> // (M, maxBatch)
  let samples: UnsafeMutablePointer<Int>           // (maxBatch) global row ids
  let targets: Buffer                              // (maxBatch, targetWidth)

  init(steps: Int, maxBatch: Int, features: Int, modalities: Int, targetWidth: Int) {
    x = Buffer(count: steps * maxBatch * features)
    lengths = .allocate(capacity: maxBatch)
    lengths.initialize(repeating: 1, count: maxBatch)
    modalityLengths = .allocate(capacity: modalities * maxBatch)
    modalityLengths.initialize(repeating: 0, count: modalities * maxBatch)
    samples = .allocate(capacity: maxBatch)
    samples.initialize(repeating: 0, count: maxBatch)
    targets = Buffer(count: maxBatch * targetWidth)
  }

  /// Gathers the shard's rows at local indices `local`, then `recordCount` records received from other ranks
  /// (BatchBalancer), and describes them for the model.
  func gather(_ local: UnsafeBufferPointer<Int>, records: UnsafePointer<Float>? = nil, recordCount: Int = 0,
              from shard: Shard) -> ModelBatch {
    shard.gather(local, records: records, recordCount: recordCount, x: x.pointer, lengths: lengths,
                 modalityLengths: modalityLengths, targets: targets.pointer, samples: samples)
    return ModelBatch(x: x.pointer, lengths: modalityLengths, fusedLengths: lengths, samples: samples,
                      count: local.count + recordCount)
  }

  deinit { lengths.deallocate(); modalityLengths.deallocate(); samples.deallocate() }
}
