import MMCheckpoint
import MMCore
import MMConfig
import MMData
import MMDistributed
import MMModel
import MMOptim

/// The model half of a session's assembly: the model over the data's modalities, its optimiser and step
/// controls, the batch buffers, the gradient exchange and the batch balancer; the parameters loaded from the
/// checkpoint or initialised by rank 0, then broadcast so every replica starts identical. Collective.
struct SessionModel {
  let model: MultimodalModel
  let optimizer: Optimizer
  let controls: StepControls
  let batch: BatchBuffers
  let exchange: GradientExchange
  let balancer: BatchBalancer
  /// `dist.world_invariant` (training only): the batch's chunks and their exact gradient sum; nil when off.
  let invariant: WorldInvariance?

  static func build(_ d: SessionData, comm: Communicator, options o: TrainingSession.Options) throws -> SessionModel {
    let c = d.config, shard = d.shard
    let outputs = c.task.kind == .binary ? 1 : shard.classes
    // The largest batch: a rank's share of a global batch in training (about ⌈B/W⌉ rows once balanced, never
    // more than B), and the evaluation chunk, which must not depend on the world size (EvaluationChunks).
    let maxBatch = max(1, min(c.train.batchSize, d.schema.count))
    let spec = ModelSpec.make(c, modalities: d.modalities, outputs: outputs, embeddings: d.embeddings.shapes)
    let stepRows =
      c.task.target == .step
      ? StepRows(
        steps: shard.steps, maxBatch: maxBatch, outputs: outputs, width: shard.targetsPerStep) : nil
    let batch = BatchBuffers(
      steps: shard.steps, maxBatch: maxBatch, features: d.features, modalities: d.modalities.count,
      targetWidth: shard.targetWidth, stepRows: stepRows)
    let model = spec.make(maxBatch: maxBatch, trailingGradients: StopSignal.slots)
    let optimizer = c.train.optimizer.make(parameterCount: model.arena.trainableCount, OptimizerSettings(c.train))
    let controls = StepControls(c.train, arena: model.arena, stepsPerEpoch: d.sampler.stepsPerEpoch)
    let exchange = GradientExchange(
      comm: comm, grads: model.arena.grads.pointer, buckets: model.gradientBuckets, compress: c.dist.compress)
    if comm.size > 1 && GradientExchange.bucketed { model.poll = { [exchange] in exchange.poll() } }
    let work = o.inference ? [] : BatchBalancer.rowWork(shard, samples: d.schema.count, comm: comm)
    let balancer = BatchBalancer(
      comm: comm, shard: shard, samples: d.schema.count, work: work, batchSize: c.train.batchSize)
    let invariant =
      c.dist.worldInvariant && !o.inference
      ? WorldInvariance(model: model, shard: shard, samples: d.schema.count, work: work, config: c, comm: comm) : nil
    invariant?.sum.restore(exponents: o.resume?.state.worldInvariantExponents ?? [])
    if invariant != nil {  // the tests' knob must be the same on every rank, or the integer sums mix scales
      let lowest = comm.allreduceMin(ExactGradientSum.headroom), highest = comm.allreduceMax(ExactGradientSum.headroom)
      try comm.agree {
        if lowest != highest {
          throw MMError(
            "MMTRAIN_EXACT_HEADROOM differs between ranks (\(lowest) to \(highest)); set it the same on every rank, or "
              + "unset it (a test setting)")
        }
      }
    }
    let (saved, _) = SessionData.saved(o)
    if let saved {
      try comm.agree { try Checkpoint.loadParams(saved, into: model.arena) }
      if let resume = o.resume { try comm.agree { try Checkpoint.loadOptimizer(resume, into: optimizer) } }
    } else if comm.isRoot {
      model.initialize(seed: c.train.seed)
      for (name, vectors) in d.embeddings.pretrained {  // nn.Embedding.from_pretrained: the file's vectors
        model.arena.setValues(vectors, of: model.arena.tensor("embed.\(name).weight"))
      }
    }
    // Rank 0's parameters are the truth; one broadcast makes every replica identical.
    comm.broadcast(model.arena.values.pointer, count: model.arena.count, root: 0)
    return SessionModel(
      model: model, optimizer: optimizer, controls: controls, batch: batch, exchange: exchange, balancer: balancer,
      invariant: invariant)
  }
}
