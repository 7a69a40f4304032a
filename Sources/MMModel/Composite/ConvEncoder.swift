import MMTensor

/// `model.encoders.<m>: {kind: conv, channels: [C_1, ..., C_n], kernel: k, pool: p}` over images [N, C, H, W]
/// (one step of C·H·W features in the fused batch, channel-major as the file holds it), or over every frame
/// of an image sequence [N, T, C, H, W] (TimeDistributed, the front-end of its recurrent encoder: CNN-LSTM).
/// Per entry Conv2d(k, stride 1, padding k/2) + ReLU + MaxPool2d(p) (Conv2DLayer), then flatten, as
/// `encoders.<m>.conv` = nn.Sequential(Conv2d, ReLU, MaxPool2d, Conv2d, ...), whose convolutions are
/// `conv.0`, `conv.3`, ...
public struct ConvShape: Equatable, Sendable {
  public var channels: Int, height: Int, width: Int  // the image
  public var stages: [Int]  // C_1, ..., C_n
  public var kernel: Int, pool: Int
  public init(channels: Int, height: Int, width: Int, stages: [Int], kernel: Int, pool: Int) {
    self.channels = channels; self.height = height; self.width = width; self.stages = stages; self.kernel = kernel
    self.pool = pool
  }

  /// Each stage's input (c, h, w), and the output's after the last.
  public var sides: [(c: Int, h: Int, w: Int)] {
    var out = [(channels, height, width)]
    for c in stages {
      let last = out[out.count - 1], s = Conv2DLayer.sides(h: last.1, w: last.2, kernel: kernel, pool: pool)
      out.append((c, s.hp, s.wp))
    }
    return out.map { (c: $0.0, h: $0.1, w: $0.2) }
  }

  /// The flattened output's size C_n·Hp·Wp (0 when a pooling shrinks a side to nothing).
  public var outputSize: Int { let s = sides[sides.count - 1]; return s.c * s.h * s.w }

  /// Its tensors under `prefix` ("encoders.<m>."): conv.{3j}.weight [C_j, C_{j-1}, k, k] and .bias, drawn
  /// from U(±1/√(C_{j-1}·k·k)) as nn.Conv2d.
  func parameterSpecs(prefix: String) -> [ParameterSpec] {
    let sides = sides
    return stages.indices.flatMap { j -> [ParameterSpec] in
      let fanIn = sides[j].c * kernel * kernel, bound = 1 / Double(fanIn).squareRoot(), name = prefix + "conv.\(3 * j)."
      return [
        .init(name + "weight", [stages[j], sides[j].c, kernel, kernel], bound: bound),
        .init(name + "bias", [stages[j]], bound: bound),
      ]
    }
  }
}

/// The convolutions over N images given as rows (N, ldx) of C·H·W floats: channel-major in, flattened
/// (N, C_n·Hp·Wp) out, and back. N = a batch of images, or T·B frames.
final class ConvStack {
  let shape: ConvShape
  let stages: [Conv2DLayer]
  let outputSize: Int
  let image: Buffer  // (C, N, H, W) the input, channel-major
  let flat: Buffer  // (N, F)
  let dStage: [Buffer]  // per stage: d its output (C_j, N, Hp_j, Wp_j)
  let dImage: Buffer?  // (C, N, H, W), when the input's gradient is wanted
  var count = 0

  init(_ shape: ConvShape, prefix: String, arena: ParameterArena, maxImages N: Int, inputGradient: Bool) {
    self.shape = shape
    let sides = shape.sides
    stages = shape.stages.indices.map { j in
      Conv2DLayer(
        arena: arena, name: prefix + "conv.\(3 * j).", input: sides[j], channels: shape.stages[j],
        kernel: shape.kernel, pool: shape.pool, maxBatch: N)
    }
    outputSize = shape.outputSize
    let D = shape.channels * shape.height * shape.width
    image = Buffer(count: D * N); flat = Buffer(count: N * outputSize)
    dStage = stages.map { Buffer(count: $0.co * N * $0.hp * $0.wp) }
    dImage = inputGradient ? Buffer(count: D * N) : nil
  }

  /// Rows x (N, ldx), each C·H·W floats -> (N, F), valid until the next forward.
  func forward(_ x: UnsafePointer<Float>, ldx: Int, count N: Int) -> UnsafePointer<Float> {
    let C = shape.channels, HW = shape.height * shape.width
    count = N
    for n in 0..<N {  // (N, C, H, W) rows -> (C, N, H, W)
      for c in 0..<C { (image.pointer + (c * N + n) * HW).update(from: x + n * ldx + c * HW, count: HW) }
    }
    var h = UnsafePointer(image.pointer)
    for j in 0..<stages.count { h = stages[j].forward(h, batch: N) }
    let last = stages[stages.count - 1], P = last.hp * last.wp, F = outputSize
    for n in 0..<N {  // (C_n, N, P) -> (N, C_n·P)
      for c in 0..<last.co { (flat.pointer + n * F + c * P).update(from: h + (c * N + n) * P, count: P) }
    }
    return UnsafePointer(flat.pointer)
  }

  /// dOut (N, F) of the last forward -> accumulates the gradients; dx (N, ldx) rows of C·H·W when non-nil
  /// (needs inputGradient).
  func backward(_ dOut: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>?, ldx: Int) {
    let N = count, last = stages[stages.count - 1], P = last.hp * last.wp, F = outputSize
    let d = dStage[stages.count - 1].pointer
    for n in 0..<N {
      for c in 0..<last.co { (d + (c * N + n) * P).update(from: dOut + n * F + c * P, count: P) }
    }
    for j in stride(from: stages.count - 1, through: 0, by: -1) {
      let into = j > 0 ? dStage[j - 1].pointer : (dx != nil ? dImage?.pointer : nil)
      stages[j].backward(UnsafePointer(dStage[j].pointer), dx: into)
    }
    if let dx, let dImage {  // (C, N, H, W) -> rows
      let C = shape.channels, HW = shape.height * shape.width
      for n in 0..<N {
        for c in 0..<C { (dx + n * ldx + c * HW).update(from: dImage.pointer + (c * N + n) * HW, count: HW) }
      }
    }
  }
}

/// An image modality's encoder: its ConvStack over the batch's images; an absent sample (length 0: modality
/// dropout) gives zeros.
///
///     x[0, :, column ..< column+C·H·W]  (B, C·H·W) -> convolutions -> (B, C_n·Hp·Wp)
final class ConvEncoder: ModalityEncoder {
  let spec: EncoderSpec
  let stack: ConvStack
  let outputSize: Int
  let gradientBuckets: [Range<Int>]
  let out: Buffer  // (B, F) with absent samples zeroed
  let dPooled: Buffer  // (B, F)
  let dx: Buffer?  // (1, B, C·H·W)
  let presence: Presence
  var batch = 0
  var poll: (() -> Void)? = nil

  init(_ spec: EncoderSpec, shape: ConvShape, arena: ParameterArena, maxBatch B: Int, inputGradient: Bool) {
    self.spec = spec
    stack = ConvStack(shape, prefix: spec.prefix, arena: arena, maxImages: B, inputGradient: inputGradient)
    outputSize = shape.outputSize
    gradientBuckets = [arena.span { $0.name.hasPrefix(spec.prefix) }]
    out = Buffer(count: B * outputSize); dPooled = Buffer(count: B * outputSize)
    dx = inputGradient ? Buffer(count: spec.features * B) : nil
    presence = Presence(maxBatch: B)
  }

  func forward(
    _ x: UnsafePointer<Float>, ldx: Int, lengths: UnsafePointer<Int32>, batch B: Int,
    samples: UnsafePointer<Int>, training: TrainingContext?
  ) -> UnsafePointer<Float> {
    batch = B
    let y = stack.forward(x, ldx: ldx, count: B)
    presence.forward(y, lengths: lengths, batch: B, width: outputSize, into: out.pointer)
    return UnsafePointer(out.pointer)
  }

  func backward(ready: (Int) -> Void) {
    let F = outputSize, d = dPooled.pointer
    presence.mask(d, batch: batch, width: F)
    stack.backward(d, dx: dx?.pointer, ldx: spec.features)
    ready(0)
  }
}
