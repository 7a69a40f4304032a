import Foundation
import MMConfig
import MMData
import MMDistributed
import MMTraining

/// A small synthetic set and a config for single-process trainer tests.
public func writeSynthetic(_ dir: URL, samples: Int = 120, steps: Int = 8, seed: UInt64 = 3) throws -> String {
  var spec = SynthSpec()
  spec.samples = samples; spec.steps = steps; spec.seed = seed
  spec.textFeatures = 12; spec.audioFeatures = 10; spec.visionFeatures = 4
  let path = dir.appendingPathComponent("synth.h5").path
  try Synth.write(spec, to: path)
  return path
}

public func makeConfig(data: String, run: URL, _ extra: [String] = []) throws -> TrainConfig {
  let yaml = """
    data: {path: "\(data)", steps: 6, validation_fraction: 0.25}
    model: {hidden: 8, layers: 1}
    task: {kind: multiclass}
    train: {epochs: 4, batch_size: 16, optimizer: adam, lr: 0.01, seed: 5}
    checkpoint: {dir: "\(run.path)", every_epochs: 1, keep: 2}
    """
  return try TrainConfig.parse(yaml: yaml, source: "test.yaml", overrides: extra)
}

/// A session built and trained to its end (lines, no progress bar); the loop holds the session and history.
public func trainQuietly(_ config: TrainConfig, options: TrainingSession.Options = TrainingSession.Options()) throws
  -> TrainLoop
{
  var o = options
  o.progress = .lines
  let loop = TrainLoop(try TrainingSession(config: config, comm: SingleProcessCommunicator(), options: o))
  try loop.run()
  return loop
}
