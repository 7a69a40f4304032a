import MMTensor

/// One batch as the model reads it; the trainer owns the memory.
public struct ModelBatch {
  public var x: UnsafeMutablePointer<Float>  // (S, B, D) fused, S = spec.maxSteps, D = spec.width
  public var lengths: UnsafeMutablePointer<Int32>  // (M, B) valid steps per modality on its own step grid
  public var fusedLengths: UnsafeMutablePointer<Int32>  // (B) early fusion: the longest modality's, in 1...S
  public var samples: UnsafePointer<Int>  // (B) global sample indices (they seed dropout)
  public var count: Int  // B
  public init(
    x: UnsafeMutablePointer<Float>, lengths: UnsafeMutablePointer<Int32>, fusedLengths: UnsafeMutablePointer<Int32>,
    samples: UnsafePointer<Int>, count: Int
  ) {
    self.x = x; self.lengths = lengths; self.fusedLengths = fusedLengths; self.samples = samples; self.count = count
  }
}

/// The composite model: encoders -> fusion -> (dropout) -> head, over one parameter arena whose tensor names
/// and order are the equivalent PyTorch module's state_dict (README shows each module).
///
/// A training forward (context non-nil) draws modality dropout and dropout masks from (seed, epoch, sample);
/// an evaluation forward draws nothing. Backward reads `dlogits` and accumulates into `arena.grads`.
public final class MultimodalModel {
  public let spec: ModelSpec
  public let maxBatch: Int
  public let arena: ParameterArena
  let bounds: [Double]  // per arena tensor: U(-bound, bound) at initialisation
  let encoders: [any ModalityEncoder]
  let fusion: any FusionLayer
  let head: Perceptron
  let headMask: Buffer  // (B, F) dropout mask on the fused vector
  let headInput: Buffer  // (B, F) fused vector after dropout
  let dFused: Buffer  // (B, F)
  public let dlogits: Buffer  // (B, C) set by the loss before backward; per step (T, B, C)
  /// (S, B, D) d loss / d batch.x in the batch's fused layout, written by backward; nil unless the model was
  /// made with `inputGradient: true` (reference tests). Zero outside each encoder's columns and steps.
  public let inputGradient: Buffer?
  var pooled: [UnsafePointer<Float>] = []
  var dPooled: [UnsafeMutablePointer<Float>] = []
  var fusedInput: UnsafePointer<Float>? = nil
  var batch = 0, training = false
  /// Arena ranges whose gradients `backward` finishes one after the other: fusion + head (the tail of the
  /// arena, with the control slots), then per encoder its pooling's tensors and its layers', the top layer
  /// first. A caller can all-reduce a bucket as soon as it is final, while backward works on the next.
  public let gradientBuckets: [Range<Int>]
  let encoderBucketCounts: [Int]
  /// The trained embeddings' touched rows: their gradients are in no bucket; the trainer sums these rows
  /// over ranks once backward is done (GradientExchange.sumRows).
  public let touchedRows: [TouchedRows]
  /// Called between the recurrent layers' backward time steps (see RecurrentLayer.poll): the trainer lets
  /// the buckets' sums progress there.
  public var poll: (() -> Void)? {
    didSet { for e in encoders { e.poll = poll } }
  }
  let fusedSize: Int, maxSteps: Int, width: Int  // the spec's, computed once (its getters build arrays)
  let concatenatesSteps: Bool  // early fusion: one encoder over the fused columns
  /// `task.target: step`: the head reads the one encoder's top sequence (T, B, F) as T·B rows; no fusion.
  let perStep: Bool

  public var outputs: Int { spec.outputs }

  init(_ spec: ModelSpec, maxBatch B: Int, inputGradient: Bool = false, trailingGradients: Int = 0) {
    self.spec = spec; maxBatch = B
    let specs = spec.parameterSpecs
    let arena = ParameterArena(
      specs.map { ($0.name, $0.shape) }, trailing: trailingGradients, frozen: Set(specs.filter(\.frozen).map(\.name)))
    self.arena = arena
    bounds = specs.map { $0.normal ? -1 : $0.bound }
    encoders = spec.encoders.enumerated().map {
      $1.make(index: $0, model: spec, arena: arena, maxBatch: B, inputGradient: inputGradient)
    }
    fusion = spec.fusion.method.makeLayer(
      names: spec.inputs.map(\.name), pooled: spec.pooledSizes, size: spec.resolvedFusionSize,
      arena: arena, maxBatch: B)
    let R = spec.rowsPerSample * B  // head rows: samples, or (step, sample) pairs for a per-step target
    let (sizes, indexed) = Perceptron.head(
      input: spec.fusedSize, hidden: spec.resolvedHeadHidden, outputs: spec.outputs)
    head = Perceptron(arena: arena, prefix: "head.", sizes: sizes, indexed: indexed, reluLast: false, maxRows: R)
    let F = spec.fusedSize
    fusedSize = F; maxSteps = spec.maxSteps; width = spec.width; concatenatesSteps = spec.fusion.concatenatesSteps
    perStep = spec.target == .step
    headMask = Buffer(count: spec.architecture.dropout > 0 ? R * F : 0)
    headInput = Buffer(count: spec.architecture.dropout > 0 ? R * F : 0)
    dFused = Buffer(count: B * F)
    dlogits = Buffer(count: R * spec.outputs)
    self.inputGradient = inputGradient ? Buffer(count: spec.maxSteps * B * spec.width) : nil
    dPooled = encoders.map(\.dPooled.pointer)
    pooled.reserveCapacity(encoders.count)
    // (early fusion's fusion layer has no tensors of its own)
    // (an encoder without tensors, a static vector passed through, has an empty range)
    let encoderRanges = encoders.map { e in arena.span { $0.name.hasPrefix(e.spec.prefix) } }.filter { !$0.isEmpty }
    let encodersEnd = encoderRanges.map(\.upperBound).max() ?? 0
    precondition(
      zip(encoderRanges, encoderRanges.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound }
        && (encoderRanges.first?.lowerBound ?? 0) == 0,
      "encoder tensors are expected first in the arena, one block per encoder")
    let perEncoder = encoders.map(\.gradientBuckets)
    let withTensors = perEncoder.filter { $0.contains { !$0.isEmpty } }
    precondition(
      zip(withTensors, encoderRanges).allSatisfy { buckets, range in
        var end = range.lowerBound  // the pieces, in arena order, each starting where the last ended
        for piece in buckets.filter({ !$0.isEmpty }).sorted(by: { $0.lowerBound < $1.lowerBound }) {
          if piece.lowerBound != end { return false }
          end = piece.upperBound
        }
        return end == range.upperBound
      }, "an encoder's buckets do not tile its tensors (layer tensors first, one block per layer, then the pooling's)")
    encoderBucketCounts = perEncoder.map(\.count)
    touchedRows = encoders.compactMap { ($0 as? RecurrentEncoder)?.embedding?.touched }
    // The embeddings (at the arena's end) are in no bucket: a trained one's rows are summed on their own, a
    // frozen one has no gradient. With them, the control slots get a bucket of their own, the last.
    let headEnd = arena.span { !$0.name.hasPrefix("embed.") }.upperBound
    gradientBuckets =
      headEnd == arena.count
      ? [encodersEnd..<(arena.count + arena.trailingCount)] + perEncoder.flatMap { $0 }
      : [encodersEnd..<headEnd] + perEncoder.flatMap { $0 } + [arena.count..<(arena.count + arena.trailingCount)]
  }

  /// PyTorch's default initialisation, module by module: U(-bound, bound) per tensor. Deterministic for a seed.
  public func initialize(seed: UInt64) {
    var rng = RNG(seed: seed, stream: 1)
    for (t, bound) in zip(arena.tensors, bounds) {
      let p = arena.values.pointer + t.offset
      if bound < 0 {  // N(0, 1): an embedding's
        for i in 0..<t.count { p[i] = Float(rng.normal()) }
      } else {
        for i in 0..<t.count { p[i] = Float(rng.uniform(-bound, bound)) }
      }
    }
  }

  /// Returns logits (B, C), or (T, B, C) for a per-step target (`spec.rowsPerSample`). `training` non-nil: modality dropout and dropout are drawn (the batch's x and
  /// lengths may be changed in place by modality dropout).
  @discardableResult
  public func forward(_ b: ModelBatch, training ctx: TrainingContext? = nil) -> UnsafePointer<Float> {
    let B = b.count, D = width
    precondition(B <= maxBatch, "batch \(B) > maxBatch \(maxBatch)")
    batch = B; training = ctx != nil
    if let ctx, ctx.modalityDropout > 0 { dropModalities(b, ctx) }
    pooled.removeAll(keepingCapacity: true)
    for k in 0..<encoders.count {  // index loops: no iterator allocation even unoptimised (AllocationTests)
      let e = encoders[k]
      let lengths = e.spec.modality.map { b.lengths + $0 * B } ?? b.fusedLengths
      pooled.append(
        e.forward(b.x + e.spec.column, ldx: D, lengths: lengths, batch: B, samples: b.samples, training: ctx))
    }
    // per step: the encoder's (T, B, F) sequence, T·B rows (row t·B + b: sample b's step t)
    let T = perStep ? maxSteps : 1
    var fused =
      perStep
      ? pooled[0] : fusion.forward(pooled, lengths: concatenatesSteps ? nil : UnsafePointer(b.lengths), batch: B)
    if let ctx, spec.architecture.dropout > 0 {  // dropout on the fused vector before the head
      let F = fusedSize, mask = headMask.pointer, out = headInput.pointer
      for t in 0..<T {
        for s in 0..<B {
          DropoutMask.fill(
            mask + (t * B + s) * F, count: F, p: spec.architecture.dropout, seed: ctx.seed, epoch: ctx.epoch,
            sample: b.samples[s], site: DropoutSite.headInput, offset: t * F)
        }
      }
      for i in 0..<(T * B * F) { out[i] = fused[i] * mask[i] }
      fused = UnsafePointer(out)
    }
    fusedInput = fused
    return head.forward(fused, rows: T * B)
  }

  /// Back-propagates `dlogits` (B, C) through the last forward; accumulates into `arena.grads`.
  /// `ready(k)` is called as soon as `gradientBuckets[k]` is final, for k = 0, 1, ... in order.
  public func backward(ready: (Int) -> Void = { _ in }) {
    guard batch > 0, fusedInput != nil else {
      for t in touchedRows { t.clear() }
      for k in gradientBuckets.indices { ready(k) }
      return
    }
    let B = batch, rows = (perStep ? maxSteps : 1) * B
    let d = perStep ? dPooled[0] : dFused.pointer  // per step: straight into the encoder's (T, B, F)
    head.backward(dlogits.pointer, rows: rows, dx: d)
    if training && spec.architecture.dropout > 0 {
      let mask = headMask.pointer
      for i in 0..<(rows * fusedSize) { d[i] *= mask[i] }
    }
    if !perStep { fusion.backward(d, dPooled: dPooled) }
    ready(0)
    var first = 1  // encoder k's buckets start here
    for k in 0..<encoders.count {
      encoders[k].backward { ready(first + $0) }
      first += encoderBucketCounts[k]
    }
    if first < gradientBuckets.count { ready(first) }  // the control slots' own bucket (with embeddings)
    if let g = inputGradient?.pointer {  // scatter each encoder's dx (T_e, B, D_e) into (S, B, D) at its columns
      let D = width
      g.update(repeating: 0, count: maxSteps * B * D)
      for e in encoders {
        let De = e.spec.features, dx = e.dx!.pointer
        for r in 0..<(e.spec.steps * B) { (g + r * D + e.spec.column).update(from: dx + r * De, count: De) }
      }
    }
  }

  /// `train.modality_dropout`: each present modality of each sample is dropped with probability p, drawn from
  /// (seed, epoch, sample, modality); if that would drop every present one, the one with the highest draw
  /// stays. Early fusion zeroes the dropped modality's columns; the other fusions give it length 0.
  func dropModalities(_ b: ModelBatch, _ ctx: TrainingContext) {
    let B = b.count, M = spec.inputs.count, S = maxSteps, D = width
    for s in 0..<B {
      var keep = -1, best = -1.0, kept = 0
      var drop: UInt64 = 0  // bit m: drop modality m (M ≤ 64 modalities)
      for m in 0..<min(M, 64) where b.lengths[m * B + s] > 0 {
        let u = DropoutMask.uniform(
          seed: ctx.seed, epoch: ctx.epoch, sample: b.samples[s], site: DropoutSite.modality, index: m)
        if u < ctx.modalityDropout { drop |= 1 << UInt64(m) } else { kept += 1 }
        if u > best { best = u; keep = m }
      }
      if kept == 0 && keep >= 0 { drop &= ~(1 << UInt64(keep)) }
      guard drop != 0 else { continue }
      for m in 0..<min(M, 64) where drop & (1 << UInt64(m)) != 0 {
        b.lengths[m * B + s] = 0
        if concatenatesSteps {
          let input = spec.inputs[m]
          for t in 0..<S { (b.x + (t * B + s) * D + input.column).update(repeating: 0, count: input.features) }
        }
      }
    }
  }
}
