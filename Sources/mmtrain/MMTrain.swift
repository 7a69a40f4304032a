import ArgumentParser
import Foundation
import MMCheckpoint
import MMCore
import MMCrossValidation
import MMConfig
import MMData
import MMDistributed
import MMEval
import MMHDF5
import MMModel
import MMTensor
import MMTraining

/// The command line only: parse, validate, hand over to MMTraining / MMData. No training logic here.
@main
struct MMTrain: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "mmtrain",
    abstract: "Data-parallel training of recurrent models (LSTM, GRU) over MPI on HDF5 multimodal sequences.",
    discussion: "Run under a launcher for several ranks: mpirun -n 8 mmtrain train --config configs/demo.yaml",
    version: MMTrainVersion.string,
    subcommands: [
      Train.self, CV.self, Evaluate.self, Predict.self, ReportCommand.self, Inspect.self, Synth.self,
      ConfigCommand.self,
    ])

  /// Like ParsableCommand's main, but an argument error under mpirun/srun is printed once, by rank 0:
  /// the ranks start MPI and agree before exiting (a rank leaving first would make mpirun kill rank 0
  /// before it printed).
  static func main() {
    Buffer.mapLargeAllocations()  // a checkpoint's buffers do not stay resident (see there)
    var command: ParsableCommand
    do {
      command = try parseAsRoot()
    } catch {
      exitOnce(withError: error)
    }
    do {
      try command.run()
    } catch {
      exit(withError: error)  // errors from run() were reported (and agreed on) already, or are ExitCodes
    }
  }

  static func exitOnce(withError error: Error) -> Never {
    let code = exitCode(for: error)
    // --help and --version print as usual; an argument mistake is one line like every other error.
    let speak = {
      if code == .success { print(fullMessage(for: error)); fflush(stdout) } else { Console.error(message(for: error)) }
    }
    guard MPICommunicator.launchedByMPI else { speak(); Foundation.exit(code.rawValue) }
    let comm = MPICommunicator()
    if comm.isRoot { speak() }
    comm.barrier()
    comm.finalize()
    Foundation.exit(code.rawValue)
  }
}

struct Train: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract:
      "Train a recurrent model (the configured encoders and fusion) on every rank, all-reducing gradients each step.")

  @Option(
    name: .long,
    help: "YAML config (see configs/demo.yaml). Optional with --resume, which reuses the checkpoint's config.")
  var config: String?

  @Option(name: .customLong("set"), help: "Override a config key, e.g. --set train.lr=0.01 (repeatable).")
  var overrides: [String] = []

  @Option(name: .long, help: "Continue a run exactly: a run directory (its 'latest' checkpoint) or a checkpoint file.")
  var resume: String?

  @Option(
    name: .customLong("init"),
    help: "Start from the weights (/params) of this checkpoint; optimiser and epoch start fresh.")
  var initFrom: String?

  @Option(name: .long, help: "Console output on rank 0: auto (bar on a terminal), bar, lines.")
  var progress: Console.Mode = .auto

  /// Not an option: caught so that `mmtrain train my.yaml` gets a hint instead of "unexpected argument".
  @Argument(help: .hidden)
  var stray: [String] = []

  @Flag(
    name: .long,
    help: "With --resume: continue even though the data file changed since the checkpoint (size, mtime or datasets).")
  var allowDataChange = false

  @Flag(
    name: .long,
    help:
      "Only check the config (and --set) and the data file against the contract; print the config resolved, as YAML, and exit (launch/submit uses this)."
  )
  var check = false

  func validate() throws {
    if let first = stray.first {
      let looksLikeConfig = first.hasSuffix(".yaml") || first.hasSuffix(".yml")
      if looksLikeConfig && config == nil {
        throw ValidationError("the config is given with --config: mmtrain train --config \(first)")
      }
      throw ValidationError(
        "unexpected argument '\(first)' (train takes options only: --config FILE, --set key=value, --resume RUN_DIR, --init CKPT; see mmtrain help train)"
      )
    }
    if config == nil && resume == nil {
      throw ValidationError("give --config FILE (or --resume RUN_DIR to continue a run)")
    }
    if check && config == nil { throw ValidationError("--check checks a config: give --config FILE") }
    if resume != nil && initFrom != nil {
      throw ValidationError(
        "--resume and --init exclude each other (--resume continues a run, --init only loads weights)")
    }
  }

  func run() throws {
    HDF5.silenceErrorStack()
    // Everything that a typo can break is checked before any data is read, and before the run directory
    // is touched: a mistake costs a second, not a queue slot.
    var options = TrainingSession.Options()
    options.progress = progress
    options.allowDataChange = allowDataChange
    if check {
      do {
        let cfg = try TrainConfig.load(path: config!, overrides: overrides).resolvingPaths()
        // The data contract too, as a session checks it: a missing or broken data file is one line
        // here, at submit time, not a failed job after the queue.
        let file: HDF5File
        do { file = try HDF5File(path: cfg.data.path, mode: .readOnly) } catch {
          throw MMError.usage("data.path in \(config!): \(error)")
        }
        defer { file.close() }
        let modalities = try DataSchema.read(file).resolveModalities(cfg.data.modalities)
        try ModelSpec.checkPerModalityKeys(cfg, modalities: modalities)
        try cfg.check(worldSize: 1)
        print(cfg.yaml(), terminator: "")
        return
      } catch {
        Console.error("\(error)")
        throw ExitCode(ExitStatus.usage)
      }
    }
    var cfg: TrainConfig? = nil
    var early: Error? = nil
    do {
      if let resume {
        let (contents, note) = try ResumeSource.load(resume)
        if let note, Console.launcherSpeaks { Console.warning(note) }
        options.resume = contents
        cfg = try resumedConfig(contents, runDir: RunDirectory.runDirectory(ofResumeTarget: resume))
      } else {
        cfg = try TrainConfig.load(path: config!, overrides: overrides).resolvingPaths()
        if let initFrom { options.initFrom = try Checkpoint.read(path: initFrom) }
      }
    } catch {
      early = error
    }

    try runOnRanks(early: early, check: { comm in try cfg?.check(worldSize: comm.size) }) { comm, console in
      guard let cfg else { preconditionFailure("config resolved") }
      let started = Date()
      let loop = TrainLoop(try TrainingSession(config: cfg, comm: comm, options: options))
      let history = try loop.run()
      if let last = history.last {
        console.line(
          "done: \(last.epoch) epochs in \(String(format: "%.1f", last.elapsed))s; checkpoints and metrics.jsonl in \(TrainConfig.display(cfg.checkpoint.dir))"
        )
      }
      do {
        if try RunReports.writeTrainReport(loop, seconds: Date().timeIntervalSince(started), configFile: config) != nil
        {
          console.line(
            "report: \(TrainConfig.display(cfg.checkpoint.dir))/report/report.html (validation metrics; report.md, report.json, predictions.csv)"
          )
        }
      } catch let failure as MMError where failure.seenBy != nil && cfg.checkpoint.onError == .warn {
        // checkpoint.on_error: warn covers every write into RUN_DIR (a full disk): the training itself is done.
        if failure.printsHere { Console.warning("\(failure.message) (checkpoint.on_error: warn)") }
      }
    }
  }

  /// The config a resumed run trains with: the checkpoint's (or --config's), with --set on top, refused
  /// when it changes a key that shaped what was already trained; it always continues in RUN_DIR.
  func resumedConfig(_ checkpoint: Checkpoint.Contents, runDir: String) throws -> TrainConfig {
    let saved = try TrainConfig.parse(yaml: checkpoint.configYAML, source: checkpoint.path).resolvingPaths()
    let given =
      try config.map { try TrainConfig.load(path: $0, overrides: overrides) }
      ?? TrainConfig.parse(yaml: checkpoint.configYAML, source: checkpoint.path, overrides: overrides)
    var resumed = try ResumeRules.check(checkpoint: saved, run: given.resolvingPaths(), checkpointPath: checkpoint.path)
    let setsDir = overrides.contains {
      $0.split(separator: "=").first?.trimmingCharacters(in: .whitespaces) == "checkpoint.dir"
    }
    if setsDir && resumed.checkpoint.dir != runDir {
      throw MMError.usage(
        "--set checkpoint.dir: --resume continues in its run directory \(runDir); to start a new run from this checkpoint, give the new checkpoint.dir with --config FILE --init \(checkpoint.path)"
      )
    }
    resumed.checkpoint.dir = runDir
    return resumed
  }
}

/// Starts MPI (or the single-process stand-in) and runs `body` on every rank under mmtrain's error rules:
/// an early (pre-MPI) error is agreed first; an agreed failure (MMError with `seenBy`) is printed once by the
/// rank that saw it and every rank exits together with its kind's code (ExitStatus: 64 usage, 1 runtime); a
/// stop request exits 75; an error only this rank saw brings every rank down.
func runOnRanks(
  early: Error?, check: ((Communicator) throws -> Void)? = nil, _ body: (Communicator, Console) throws -> Void
) throws {
  let comm: Communicator = MPICommunicator.launchedByMPI ? MPICommunicator() : SingleProcessCommunicator()
  var early = early
  if let mismatch = LaunchEnvironment.mismatch(rank: comm.rank, size: comm.size) {
    // The processes may not be able to talk to each other at all: the one Slurm calls task 0 reports.
    if comm.size == 1 {
      if LaunchEnvironment.speaksAlone { Console.error(mismatch) }
      throw ExitCode(ExitStatus.usage)
    }
    if early == nil { early = MMError.usage(mismatch) }
  }
  // A launch split into several MPI worlds (one per node, say) agrees on that error in each world; only the
  // world holding the launcher's rank 0 reports it, so the job's log has it once.
  let worldReports = comm.size == 1 || comm.allreduceMax((LaunchEnvironment.launcherRank() ?? 0) == 0 ? 1 : 0) == 1
  if early == nil, let check { do { try check(comm) } catch { early = error } }
  let console = Console(mode: .lines, speaks: comm.isRoot)
  StopSignal.install()
  // A write to a lost rank's socket (its node died) fails with EPIPE instead of killing this rank with
  // SIGPIPE, silently: the rank lives on to the watchdog's line naming the ranks that did not arrive.
  signal(SIGPIPE, SIG_IGN)
  do {
    // The ranks agree on an early error before anyone exits: a rank leaving first would make mpirun
    // kill rank 0 before it reported.
    try comm.agree { if let early { throw early } }
    try body(comm, console)
    comm.finalize()
  } catch let stopped as MMError where stopped.kind == .stopped {
    if stopped.printsHere { console.warning(stopped.message) }
    comm.finalize()
    throw ExitCode(ExitStatus.stopped)
  } catch let agreed as MMError where agreed.seenBy != nil {
    // Agreed by every rank: the rank that saw it reports, all exit together.
    if agreed.printsHere && worldReports { Console.error(agreed.message) }
    comm.finalize()
    throw ExitCode(agreed.exitCode)
  } catch {
    // Seen by this rank alone: report and bring every rank down rather than leave them waiting.
    let prefix = comm.size > 1 ? "rank \(comm.rank): " : ""
    Console.error("\(prefix)\(error)")
    if comm.size > 1 { comm.abort(code: ExitStatus.failure) }
    throw ExitCode(ExitStatus.code(for: error.mmKind))
  }
}

extension Console.Mode: ExpressibleByArgument {}

struct ConfigCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "config",
    abstract:
      "Print the configuration reference (Markdown), every key at its default (YAML), or one key's value (--get).")

  @Flag(help: "The Markdown reference of every key, as README's configuration reference holds it.") var reference =
    false

  @Option(
    name: .long,
    help: "Print one key's resolved value on one line, e.g. --get train.batch_size (the default's without --config).")
  var get: String?

  @Option(
    name: .long, help: "With --get: the YAML config to read the value from (resolved as train --check prints it).")
  var config: String?

  @Option(
    name: .customLong("set"),
    help: "With --get and --config: override a key first, e.g. --set train.lr=0.01 (repeatable).")
  var overrides: [String] = []

  func validate() throws {
    if get != nil && reference {
      throw ValidationError("--get and --reference exclude each other: mmtrain config --get KEY [--config FILE]")
    }
    if get == nil && (config != nil || !overrides.isEmpty) {
      throw ValidationError("--config and --set go with --get KEY: mmtrain config --get train.epochs --config FILE")
    }
    if config == nil && !overrides.isEmpty {
      throw ValidationError("--set needs --config FILE (without one, --get prints the default)")
    }
  }

  func run() throws {
    guard let key = get else {
      print(reference ? TrainConfig.referenceMarkdown() : TrainConfig.defaults.yaml(), terminator: "")
      return
    }
    do {
      let value =
        try config.map { try TrainConfig.load(path: $0, overrides: overrides).resolvingPaths().value(ofKey: key) }
        ?? TrainConfig.defaultValue(ofKey: key)
      print(value)
    } catch {
      Console.error("\(error)")
      throw ExitCode(ExitStatus.usage)
    }
  }
}
