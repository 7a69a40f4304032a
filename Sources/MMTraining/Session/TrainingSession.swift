import Foundation
import MMCheckpoint
import MMConfig
import MMCore
import MMData
import MMDistributed
import MMHDF5
import MMModel
import MMOptim
import MMTensor

/// Everything one run works with, assembled once from a config, the data file and (maybe) a checkpoint: the
/// rank's shard, the model and its optimiser, the sampler, the loss, the batch buffers and the MPI movers,
/// the run directory. Immutable once built; `train`, a cv fold, `evaluate` and `predict` all build one.
///
/// Building is collective: every rank constructs it, agreeing on every check; rank 0 alone touches the run
/// directory (created, locked, checked for an earlier run) and prints. A session that fails after creating
/// the run directory leaves no folder behind that it made.
public final class TrainingSession {
  public struct Options {
    public var resume: Checkpoint.Contents? = nil  // continue exactly (params, optimiser, position)
    public var initFrom: Checkpoint.Contents? = nil  // start from these weights only
    public var progress: Console.Mode = .auto
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
    public var allowDataChange = false  // resume even if the data file's fingerprint changed
    /// How the inner validation rows are drawn, when not `data.split` (a cv fold: from cv.strategy).
    public var split: SplitKind? = nil
    /// Called after every training step with the number of steps done (tests count allocations between steps).
    public var afterStep: ((_ globalStep: Int) -> Void)? = nil
    public init() {}
  }

  /// The run's config; `task.classes` and `data.modalities` are filled in as inferred from the data, so
  /// checkpoints hold them.
  public let config: TrainConfig
  public let comm: Communicator
  public let options: Options
  let progress: Console
  let run: RunDirectory
  /// The data file's schema (modalities, groups, class names).
  public let schema: DataSchema
  /// The modalities in model order, and the fused input's width.
  let modalities: [DataSchema.Modality]
  let features: Int
  public let shard: Shard
  public let split: DataSplit
  public let model: MultimodalModel
  public let optimizer: Optimizer
  let sampler: EpochSampler
  let lossSpec: LossSpec
  let controls: StepControls
  let batch: BatchBuffers
  let exchange: GradientExchange
  let balancer: BatchBalancer
  /// `dist.world_invariant`: the chunks, their exact sums and the epoch's per-chunk losses (nil when off).
  let invariant: WorldInvariance?
  /// Rank 0: what every checkpoint records about the input and the split.
  let provenance: Provenance?
  public let timing: RunTiming
  private let directory: RunDirectoryClaim?
  /// The loader's read rate per node, when the run spans several (NodeLoad).
  let nodeLoad: String?

  /// Opens and checks the data, loads this rank's shard, builds and initialises the model. Collective.
  public init(config c: TrainConfig, comm: Communicator, options: Options = Options()) throws {
    let started = RunTiming.now()
    self.comm = comm
    self.options = options
    progress = Console(mode: options.progress, speaks: comm.isRoot)
    run = RunDirectory(path: c.checkpoint.dir)
    BLAS.setThreads(c.train.blasThreads)
    HDF5RowReader.decodeThreads = c.train.blasThreads  // the cores a rank has also decode gzip chunks at start-up
    comm.startWatchdog(timeoutSeconds: c.dist.timeoutSeconds)
    let claim = options.inference ? nil : try RunDirectoryClaim(run, config: c, comm: comm, resume: options.resume)
    directory = claim
    do {
      let data = try SessionData.load(c, comm: comm, options: options, progress: progress)
      config = data.config
      schema = data.schema
      modalities = data.modalities
      features = data.features
      shard = data.shard
      split = data.split
      sampler = data.sampler
      provenance = data.provenance
      lossSpec = data.lossSpec
      let parts = try SessionModel.build(data, comm: comm, options: options)
      model = parts.model
      optimizer = parts.optimizer
      controls = parts.controls
      batch = parts.batch
      exchange = parts.exchange
      balancer = parts.balancer
      invariant = parts.invariant
      var timing = data.timing
      nodeLoad = NodeLoad.line(bytes: timing.loadBytes, seconds: timing.loadSeconds, comm: comm)
      // The slowest rank sets the start-up; microseconds, so one integer max reduce carries each.
      timing.loadBytes = comm.allreduceMax(timing.loadBytes)
      timing.loadSeconds = Double(comm.allreduceMax(Int(timing.loadSeconds * 1e6))) / 1e6
      timing.startupSeconds = Double(comm.allreduceMax(Int((RunTiming.now() - started) * 1e6))) / 1e6
      self.timing = timing
    } catch {
      claim?.abandon()
      throw error
    }
    if !options.inference { announce() }
  }

  /// The modality names in model order.
  public var modalityNames: [String] { model.spec.inputs.map(\.name) }

  /// After a failed run: rank 0 removes what this run created, when no checkpoint was written.
  func abandon() { directory?.abandon() }

  /// The data, model and (when loaded) checkpoint lines every run starts with.
  private func announce() {
    let c = config
    let listing = modalities.map { "\($0.name) \($0.features)" }.joined(separator: ", ")
    let stepsText =
      c.data.steps.uniform.map { "\($0) steps" }
      ?? "steps " + model.spec.inputs.map { "\($0.name) \($0.steps)" }.joined(separator: ", ")
    let testText = options.trainingRows.map { ", \(schema.count - $0.count) test" } ?? ""
    progress.line(
      "data: \(schema.count) samples (\(split.trainRowCount) train, \(split.validationRows.count) validation\(testText)) from "
        + "\(TrainConfig.display(c.data.path)); modalities \(listing); \(stepsText), \(features) features")
    progress.line(
      "model: \(model.spec.summary), \(model.arena.count) parameters\(model.arena.trainableCount < model.arena.count ? " (\(model.arena.count - model.arena.trainableCount) frozen)" : ""); \(comm.size) rank(s), global batch \(c.train.batchSize), "
        + "\(sampler.stepsPerEpoch) steps/epoch; \(c.train.optimizer.rawValue) lr \(c.train.lr)\(controlsSummary)")
    if let nodeLoad { progress.line(nodeLoad) }
    if c.dist.worldInvariant {
      progress.line(
        "world-invariant: chunks of \(TrainingChunks.rows) rows, exact fixed-point sums; bit-identical on any number of "
          + "ranks with this binary and OpenBLAS kernel \(BLAS.coreName)")
    }
    if let loaded = ResumeChecks.loadedLine(resume: options.resume, initFrom: options.initFrom, runDir: run.path) {
      progress.line(loaded)
    }
    if options.resume != nil && comm.isRoot { run.removeStopMarker() }  // the run is taken up again
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
}

/// Rank 0's hold on the run directory for the life of a session: created (proved writable), locked
/// (RunLock), seen by every rank (SharedRunDirectory: one folder on every node), leftovers of a killed
/// writer removed, and checked for an earlier run (fresh) or cut back to the checkpoint's epoch (resume).
/// Other ranks hold nothing.
final class RunDirectoryClaim {
  let run: RunDirectory
  let isRoot: Bool
  private var lock: RunLock?
  private var created: [String] = []

  init(_ run: RunDirectory, config c: TrainConfig, comm: Communicator, resume: Checkpoint.Contents?) throws {
    self.run = run
    isRoot = comm.isRoot
    try comm.agree {
      try c.check(worldSize: comm.size)
      guard comm.isRoot else { return }
      created = try run.prepare()
      do { lock = try RunLock(directory: run.path) } catch {
        // Nothing of the holder's is touched; only folders this run made (lock failures other than a holder).
        if !created.isEmpty {
          unlink(run.path + "/" + RunLock.fileName)
          for folder in created.reversed() { rmdir(folder) }
        }
        throw error
      }
    }
    // Before anything in it changes: every rank must see this one folder, not a node-local one of that name.
    do { try SharedRunDirectory.check(run.path, comm: comm) } catch {
      if isRoot {  // only what this run made: the lock file and the folders, if it created them
        lock?.release(removingFile: !created.isEmpty)
        for folder in created.reversed() { rmdir(folder) }
      }
      throw error
    }
    try comm.agree {
      guard comm.isRoot else { return }
      run.removeLeftovers()
      if let resume {
        try run.truncateMetrics(afterEpoch: resume.state.epoch)
      } else {
        try run.ensureNoPreviousRun()
        try run.truncateMetrics(afterEpoch: 0)  // lines of an earlier attempt that never wrote a checkpoint
      }
    }
  }

  /// A run that failed before its first checkpoint leaves no run directory behind that it created.
  func abandon() {
    guard isRoot, lock != nil else { return }
    if run.checkpoints().isEmpty { lock?.release(removingFile: true) }
    run.removeIfUnused(created: created)
  }
}
