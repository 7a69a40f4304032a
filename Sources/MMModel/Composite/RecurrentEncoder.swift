import MMTensor

/// The recurrent encoder: a column range of the fused batch (one modality, or all of them for early fusion),
/// a stack of recurrent layers over its own steps and lengths, dropout between the layers, and a pooling.
///
///     x[:, :, column ..< column+D]  (T, B, D)  -> layer 0 -> (T, B, Hs) -> dropout -> layer 1 ... -> pool -> (B, Hs)
///
/// The first layer reads the columns in place (ldx = the fused width), so nothing is copied.
/// Legend: T = this encoder's steps, B = batch, D = its features, Hs = output size (H, or 2H bidirectional);
/// Hs_k = layer k's, when `model.hidden` gives each layer its own width.
final class RecurrentEncoder: ModalityEncoder {
  let spec: EncoderSpec
  let index: Int  // position among the model's encoders (tells dropout sites apart)
  let layers: [RecurrentLayer]
  /// Arena ranges in the order backward finishes them: the pooling's tensors (empty for last and mean
  /// pooling; in the arena they follow the layers'), then each layer's (both directions), the top one first.
  let gradientBuckets: [Range<Int>]
  let pooling: any PoolingLayer
  let dropout: Double
  let outputSize: Int  // Hs: the top layer's output size

  let masks: [Buffer]  // (T, B, Hs_k) per layer boundary k: 0 or 1/(1-p)
  let dropped: [Buffer]  // (T, B, Hs_k) per layer boundary k: layer k's output times its mask
  let dSeqA, dSeqB: Buffer  // (T, B, max_k Hs_k) backward scratch
  let pooled: Buffer  // (B, Hs); empty per step
  let dPooled: Buffer  // (B, Hs) set by the fusion before backward; per step (T, B, Hs), set by the model
  let lengths: UnsafeMutablePointer<Int32>  // (B) copy of this encoder's lengths for the last forward
  let dx: Buffer?  // (T, B, D) d loss / d this encoder's input columns; only when the model was made with inputGradient
  /// An image sequence's per-frame convolutions (TimeDistributed): (T·B frames of C·H·W) -> (T, B, F).
  let frames: ConvStack?
  let dFrames: Buffer?  // (T, B, F) d loss / d the convolutions' output
  /// A token modality's embedding (`model.embed.<m>`): ids (T, B) -> (T, B, E), layer 0's input.
  let embedding: EmbeddingLookup?
  let dEmbedded: Buffer?  // (T, B, E) d loss / d the embedded vectors (a trained table's)
  var ids: UnsafePointer<Float>? = nil  // the last forward's ids column, `idsStride` apart
  var idsStride = 0

  // The last forward.
  var x: UnsafePointer<Float>? = nil
  var ldx = 0, batch = 0, training = false
  var inputs: [UnsafePointer<Float>] = []
  var top: UnsafePointer<Float>? = nil

  /// Its tensors in state_dict order: each layer's (`<prefix>lstm.`, `<prefix>gru.`, or `<prefix>lstm.<k>.` when
  /// the layers differ in width), then the pooling's. Layer k's tensors are drawn from U(±1/√H_k).
  static func parameterSpecs(_ e: EncoderSpec, _ a: Architecture) -> [ParameterSpec] {
    let P = outputSize(e, a), dirs = a.bidirectional ? 2 : 1
    // an image sequence: the conv over every frame first (encoders.<m>.conv), its output is layer 0's input
    var specs = e.conv.map { $0.parameterSpecs(prefix: e.prefix) } ?? []
    let firstInput = e.embed?.size ?? e.conv?.outputSize ?? e.features
    for k in 0..<a.layers {
      let H = e.width(layer: k), bound = 1 / Double(H).squareRoot()
      let (prefix, index) = e.recurrentPrefix(a.cell, layer: k)
      specs += RecurrentStack.parameterSpecs(
        cell: a.cell, bidirectional: a.bidirectional, prefix: prefix, layer: index,
        input: k == 0 ? firstInput : dirs * e.width(layer: k - 1), hidden: H
      ).map { ParameterSpec($0.name, $0.shape, bound: bound) }
    }
    if e.perStep { return specs }  // every step goes on: no pooling
    return specs + a.pooling.method.parameterSpecs(prefix: e.prefix, size: P, attention: a.attentionSize ?? P)
  }

  /// Hs: the top layer's H, or 2H when bidirectional.
  static func outputSize(_ e: EncoderSpec, _ a: Architecture) -> Int { e.hidden * (a.bidirectional ? 2 : 1) }

  var poll: (() -> Void)? {
    get { layers.first?.poll }
    set { for l in layers { l.poll = newValue } }
  }

  init(_ spec: EncoderSpec, index: Int, model m: ModelSpec, arena: ParameterArena, maxBatch B: Int, inputGradient: Bool)
  {
    self.spec = spec; self.index = index; dropout = m.dropout
    let T = spec.steps
    var layers: [RecurrentLayer] = []
    for k in 0..<m.layers {
      let (prefix, index) = spec.recurrentPrefix(m.cell, layer: k)
      layers.append(
        RecurrentStack.makeLayer(
          cell: m.cell, bidirectional: m.bidirectional, arena: arena, prefix: prefix, layer: index,
          input: k == 0 ? (spec.embed?.size ?? spec.conv?.outputSize ?? spec.features) : layers[k - 1].outputSize,
          hidden: spec.width(layer: k), maxSteps: T,
          maxBatch: B))
    }
    self.layers = layers
    let layerRanges = (0..<m.layers).map { k in
      let (prefix, index) = spec.recurrentPrefix(m.cell, layer: k)
      let names = Set(
        RecurrentStack.parameterSpecs(
          cell: m.cell, bidirectional: m.bidirectional, prefix: prefix, layer: index, input: layers[k].inputSize,
          hidden: spec.width(layer: k)
        ).map(\.name))
      return arena.span { names.contains($0.name) }
    }
    let all = arena.span { $0.name.hasPrefix(spec.prefix) }
    let convRange = arena.span { $0.name.hasPrefix(spec.prefix + "conv.") }  // empty without frames
    gradientBuckets =
      [(layerRanges.last?.upperBound ?? all.lowerBound)..<all.upperBound] + layerRanges.reversed()
      + (spec.conv != nil ? [convRange] : [])
    let Hs = layers.last!.outputSize
    outputSize = Hs
    pooling = (spec.perStep ? PoolingKind.last : m.pooling).method.makeLayer(  // (per step: unused, no tensors)
      arena: arena, prefix: spec.prefix, size: Hs, bidirectional: m.bidirectional,
      attention: m.attentionSize ?? Hs, maxSteps: T, maxBatch: B)
    let boundaries = m.dropout > 0 ? m.layers - 1 : 0
    masks = (0..<boundaries).map { k in Buffer(count: T * B * layers[k].outputSize) }
    dropped = (0..<boundaries).map { k in Buffer(count: T * B * layers[k].outputSize) }
    let widest = layers.map(\.outputSize).max()!  // the layers' outputs may differ in width (model.hidden list)
    dSeqA = Buffer(count: T * B * widest); dSeqB = Buffer(count: T * B * widest)
    // per step: the top layer's sequence is the output, and dPooled its gradient (T, B, Hs)
    pooled = Buffer(count: spec.perStep ? 0 : B * Hs); dPooled = Buffer(count: (spec.perStep ? T : 1) * B * Hs)
    dx = inputGradient ? Buffer(count: T * B * spec.features) : nil
    frames = spec.conv.map {
      ConvStack($0, prefix: spec.prefix, arena: arena, maxImages: T * B, inputGradient: inputGradient)
    }
    dFrames = spec.conv.map { Buffer(count: T * B * $0.outputSize) }
    embedding = spec.embed.map {
      EmbeddingLookup(
        $0, modality: String(spec.prefix.dropFirst("encoders.".count).dropLast()), arena: arena, maxRows: T * B)
    }
    dEmbedded = spec.embed.flatMap { $0.frozen ? nil : Buffer(count: T * B * $0.size) }
    lengths = .allocate(capacity: B); lengths.initialize(repeating: 0, count: B)
    inputs.reserveCapacity(m.layers)
  }

  deinit { lengths.deallocate() }

  /// x (T, B, ldx) at this encoder's first column; lengths (B) in 0...T. Returns pooled (B, Hs).
  func forward(
    _ x: UnsafePointer<Float>, ldx: Int, lengths l: UnsafePointer<Int32>, batch B: Int,
    samples: UnsafePointer<Int>, training ctx: TrainingContext?
  ) -> UnsafePointer<Float> {
    let T = spec.steps
    batch = B; training = ctx != nil
    // an image sequence: every frame through the convolutions, (T, B, ldx) -> (T, B, F), layer 0's input
    if let frames {
      self.x = frames.forward(x, ldx: ldx, count: T * B); self.ldx = frames.outputSize
    } else if let embedding {  // token ids: their vectors, (T, B, E)
      ids = x; idsStride = ldx
      self.x = embedding.forward(x, ldx: ldx, lengths: l, steps: T, batch: B); self.ldx = embedding.shape.size
    } else {
      self.x = x; self.ldx = ldx
    }
    lengths.update(from: l, count: B)
    inputs.removeAll(keepingCapacity: true)
    var h = layers[0].forward(self.x!, ldx: self.ldx, lengths: lengths, steps: T, batch: B)
    for k in 1..<max(layers.count, 1) {
      if let ctx, dropout > 0 {  // between layers, as nn.LSTM(dropout=p): on every output of layer k-1
        let Hs = layers[k - 1].outputSize, mask = masks[k - 1].pointer, out = dropped[k - 1].pointer
        for t in 0..<T {
          for b in 0..<B {
            let row = (t * B + b) * Hs
            DropoutMask.fill(
              mask + row, count: Hs, p: dropout, seed: ctx.seed, epoch: ctx.epoch, sample: samples[b],
              site: DropoutSite.encoderLayer(index, k), offset: t * Hs)
            for j in 0..<Hs { out[row + j] = h[row + j] * mask[row + j] }
          }
        }
        h = UnsafePointer(out)
      }
      inputs.append(h)
      h = layers[k].forward(h, ldx: layers[k].inputSize, lengths: lengths, steps: T, batch: B)
    }
    top = h
    if spec.perStep { return h }
    pooled.pointer.update(repeating: 0, count: B * outputSize)
    pooling.forward(h, lengths: lengths, steps: T, batch: B, out: pooled.pointer)
    return UnsafePointer(pooled.pointer)
  }

  /// Back-propagates `dPooled` through the last forward; accumulates parameter gradients. `ready(j)` is
  /// called as soon as `gradientBuckets[j]` is final, j = 0, 1, ... in order.
  func backward(ready: (Int) -> Void) {
    guard let x, let top else {
      for j in gradientBuckets.indices { ready(j) }
      return
    }
    let T = spec.steps, B = batch
    var dOut = dSeqA.pointer, dIn = dSeqB.pointer
    if spec.perStep {
      dOut.update(from: dPooled.pointer, count: T * B * outputSize)
    } else {
      dOut.update(repeating: 0, count: T * B * outputSize)
      pooling.backward(dPooled.pointer, seq: top, lengths: lengths, steps: T, batch: B, dSeq: dOut)
    }
    ready(0)
    for k in stride(from: layers.count - 1, through: 0, by: -1) {
      if k == 0, let frames, let dFrames {  // through the per-frame convolutions; padded frames get no gradient
        layers[0].backward(dOut, input: x, ldx: ldx, lengths: lengths, dx: dFrames.pointer, steps: T, batch: B)
        let F = frames.outputSize
        for t in 0..<T {
          for b in 0..<B where t >= Int(lengths[b]) {
            (dFrames.pointer + (t * B + b) * F).update(repeating: 0, count: F)
          }
        }
        frames.backward(dFrames.pointer, dx: dx?.pointer, ldx: spec.features)
      } else if k == 0, let embedding {  // into the table's rows (a frozen one needs no dx at all)
        layers[0].backward(dOut, input: x, ldx: ldx, lengths: lengths, dx: dEmbedded?.pointer, steps: T, batch: B)
        if let dEmbedded, let ids {
          embedding.backward(dEmbedded.pointer, ids: ids, ldx: idsStride, lengths: lengths, steps: T, batch: B)
        }
        dx?.pointer.update(repeating: 0, count: T * B * spec.features)  // an id has no gradient
      } else if k == 0 {
        layers[0].backward(dOut, input: x, ldx: ldx, lengths: lengths, dx: dx?.pointer, steps: T, batch: B)
      } else {
        layers[k].backward(
          dOut, input: inputs[k - 1], ldx: layers[k].inputSize, lengths: lengths, dx: dIn, steps: T, batch: B)
        if training && dropout > 0 {
          let mask = masks[k - 1].pointer
          for i in 0..<(T * B * layers[k - 1].outputSize) { dIn[i] *= mask[i] }
        }
        swap(&dOut, &dIn)
      }
      ready(layers.count - k)
    }
    if frames != nil { ready(layers.count + 1) }  // the convolutions' bucket
  }
}
