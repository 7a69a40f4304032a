import MMTensor

/// `model.encoders.<m>: {kind: conv, channels: [C_1, ..., C_n], kernel: k, pool: p}`, the encoder of an image
/// [N, C, H, W] (one step of C·H·W features in the fused batch, channel-major as the file holds it): per
/// entry Conv2d(k, stride 1, padding k/2) + ReLU + MaxPool2d(p) (Conv2DLayer), then flatten, as
/// `encoders.<m>.conv` = nn.Sequential(Conv2d, ReLU, MaxPool2d, Conv2d, ...), whose convolutions are
/// `conv.0`, `conv.3`, ... A sample whose image is absent (length 0: modality dropout) gives zeros.
///
///     x[0, :, column ..< column+C·H·W]  (B, C, H, W) -> (C, B, H, W) -> stages -> (C_n, B, Hp, Wp) -> (B, C_n·Hp·Wp)
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
}

final class ConvEncoder: ModalityEncoder {
  static func parameterSpecs(_ e: EncoderSpec, _ shape: ConvShape) -> [ParameterSpec] {
    let sides = shape.sides, k = shape.kernel
    return shape.stages.indices.flatMap { j -> [ParameterSpec] in
      let fanIn = sides[j].c * k * k, bound = 1 / Double(fanIn).squareRoot(), name = e.prefix + "conv.\(3 * j)."
      return [
        .init(name + "weight", [shape.stages[j], sides[j].c, k, k], bound: bound),
        .init(name + "bias", [shape.stages[j]], bound: bound),
      ]
    }
  }

  let spec: EncoderSpec
  let shape: ConvShape
  let stages: [Conv2DLayer]
  let outputSize: Int
  let gradientBuckets: [Range<Int>]
  let image: Buffer  // (C, B, H, W) the input, channel-major
  let flat: Buffer  // (B, C_n·Hp·Wp)
  let dPooled: Buffer  // (B, C_n·Hp·Wp)
  let dStage: [Buffer]  // per stage: d its output (C_j, B, Hp_j, Wp_j)
  let dImage: Buffer?  // (C, B, H, W), with inputGradient
  let dx: Buffer?  // (1, B, C·H·W)
  let present: UnsafeMutablePointer<Bool>
  var batch = 0
  var poll: (() -> Void)? = nil

  init(_ spec: EncoderSpec, shape: ConvShape, arena: ParameterArena, maxBatch B: Int, inputGradient: Bool) {
    self.spec = spec; self.shape = shape
    let sides = shape.sides
    stages = shape.stages.indices.map { j in
      Conv2DLayer(
        arena: arena, name: spec.prefix + "conv.\(3 * j).", input: sides[j], channels: shape.stages[j],
        kernel: shape.kernel, pool: shape.pool, maxBatch: B)
    }
    outputSize = shape.outputSize
    gradientBuckets = [arena.span { $0.name.hasPrefix(spec.prefix) }]
    image = Buffer(count: spec.features * B)
    flat = Buffer(count: B * outputSize); dPooled = Buffer(count: B * outputSize)
    dStage = stages.map { Buffer(count: $0.co * B * $0.hp * $0.wp) }
    dImage = inputGradient ? Buffer(count: spec.features * B) : nil
    dx = inputGradient ? Buffer(count: spec.features * B) : nil
    present = .allocate(capacity: B); present.initialize(repeating: false, count: B)
  }

  deinit { present.deallocate() }

  func forward(
    _ x: UnsafePointer<Float>, ldx: Int, lengths: UnsafePointer<Int32>, batch B: Int,
    samples: UnsafePointer<Int>, training: TrainingContext?
  ) -> UnsafePointer<Float> {
    let C = shape.channels, HW = shape.height * shape.width
    batch = B
    for b in 0..<B {  // (B, C, H, W) rows of the fused batch -> (C, B, H, W)
      present[b] = lengths[b] > 0
      for c in 0..<C { (image.pointer + (c * B + b) * HW).update(from: x + b * ldx + c * HW, count: HW) }
    }
    var h = UnsafePointer(image.pointer)
    for j in 0..<stages.count { h = stages[j].forward(h, batch: B) }
    // (C_n, B, P) -> (B, C_n·P), zero for an absent sample
    let last = stages[stages.count - 1], P = last.hp * last.wp, F = outputSize
    for b in 0..<B {
      let row = flat.pointer + b * F
      if !present[b] { row.update(repeating: 0, count: F); continue }
      for c in 0..<last.co { (row + c * P).update(from: h + (c * B + b) * P, count: P) }
    }
    return UnsafePointer(flat.pointer)
  }

  func backward(ready: (Int) -> Void) {
    let B = batch, last = stages[stages.count - 1], P = last.hp * last.wp, F = outputSize
    let d = dStage[stages.count - 1].pointer
    for b in 0..<B {
      for c in 0..<last.co {
        let dst = d + (c * B + b) * P
        if present[b] {
          dst.update(from: dPooled.pointer + b * F + c * P, count: P)
        } else {
          dst.update(repeating: 0, count: P)
        }
      }
    }
    for j in stride(from: stages.count - 1, through: 0, by: -1) {
      let into = j > 0 ? dStage[j - 1].pointer : dImage?.pointer
      stages[j].backward(UnsafePointer(dStage[j].pointer), dx: into)
    }
    if let dImage, let dx {  // (C, B, H, W) -> (1, B, C·H·W)
      let C = shape.channels, HW = shape.height * shape.width
      for b in 0..<B {
        for c in 0..<C {
          (dx.pointer + b * spec.features + c * HW).update(from: dImage.pointer + (c * B + b) * HW, count: HW)
        }
      }
    }
    ready(0)
  }
}
