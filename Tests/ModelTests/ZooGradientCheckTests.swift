import MMCore
import MMModel
import MMTensor
import TestSupport
import XCTest

/// Central finite differences of the composite model (encoders + pooling + fusion + head + loss) against
/// backward, for entries of every parameter tensor, for every cell x direction x pooling x fusion. One
/// modality of one sample has length 0. Float32 forward, eps = 1e-2: tolerance 2e-3 absolute + 2% relative
/// (as GradientCheckTests). Where ±1e-2 straddles a kink (the head's ReLU, max pooling's argmax) the entry is
/// checked again at eps = 1e-3 (exact enough in float32 for that tolerance); where even ±1e-3 straddles one
/// (a ReLU input within 1e-4 of 0 happens), backward must equal one of the one-sided differences, as the
/// gradient of a piecewise-smooth function does on the side where the point lies.
final class ZooGradientCheckTests: XCTestCase {
  static let B = 3

  /// Three modalities with their own steps, features and hidden sizes; early fusion puts them on one time axis.
  static func spec(
    fusion: FusionKind, pooling: PoolingKind, cell: CellKind, bidirectional: Bool, layers: Int = 1,
    dropout: Double = 0, task: TaskKind, outputs: Int
  ) -> ModelSpec {
    let early = fusion == .early
    let inputs = [
      ModelSpec.Input(name: "text", column: 0, features: 3, steps: 4, hidden: 3),
      ModelSpec.Input(name: "audio", column: 3, features: 2, steps: early ? 4 : 3, hidden: early ? 3 : 2),
      ModelSpec.Input(name: "video", column: 5, features: 2, steps: early ? 4 : 2, hidden: early ? 3 : 4),
    ]
    return ModelSpec(
      inputs: inputs, fusion: fusion, cell: cell, layers: layers, bidirectional: bidirectional, pooling: pooling,
      attentionSize: pooling == .attention ? 3 : nil,
      fusionSize: fusion == .tensor ? 2 : (fusion == .attention || fusion == .gated ? 3 : nil),
      headHidden: fusion == .early ? [] : [5], dropout: dropout, task: task, outputs: outputs)
  }

  /// Lengths (M, B): audio is absent for sample 1; some lengths are the modality's full steps.
  static func lengths(_ spec: ModelSpec) -> [Int32] {
    let table: [[Int32]] = [[4, 2, 1], [3, 0, 2], [1, 2, 2]]
    return spec.inputs.indices.flatMap { m in table[m].map { min($0, Int32(spec.inputs[m].steps)) } }
  }

  /// Checks 5 random entries of every tensor; `training` runs a training forward (dropout, modality dropout).
  func gradientCheck(
    _ spec: ModelSpec, training ctx: TrainingContext? = nil, seed: UInt64, file: StaticString = #filePath,
    line: UInt = #line
  ) {
    let B = Self.B, C = spec.outputs, S = spec.maxSteps, D = spec.width
    let model = spec.make(maxBatch: B)
    model.initialize(seed: seed)
    var rng = RNG(seed: seed &+ 1)
    for i in 0..<model.arena.count { model.arena.values[i] *= 1.5 }  // larger weights: exercise saturation a little
    // Keep the head's ReLU units alive: a dead unit checks nothing behind it.
    for j in spec.resolvedHeadHidden.indices {
      let t = model.arena.tensor("head.\(2 * j).bias")
      model.arena.setValues(model.arena.values(of: t).map { abs($0) + (j == 0 ? 0.2 : 0.6) }, of: t)
    }
    var x = (0..<(S * B * D)).map { _ in Float(rng.normal()) }
    for input in spec.inputs {  // token ids: integers in 0..<V in their column (padding too, never read)
      guard let V = input.embed?.vocabulary else { continue }
      for r in 0..<(S * B) { x[r * D + input.column] = Float(rng.next() % UInt64(V)) }
    }
    let lengths = Self.lengths(spec)
    let targets: [Float] =
      spec.task == .regression
      ? (0..<(B * C)).map { _ in Float(rng.normal()) }
      : (spec.task == .binary ? [1, 0, 1] : [0, 2, 1])
    let batch = TestBatch(x: x, modalityLengths: lengths, batch: B)
    let label =
      "\(spec.fusion.rawValue) fusion, \(spec.bidirectional ? "bidirectional " : "")\(spec.cell.rawValue), \(spec.pooling.rawValue) pooling"

    func loss(withGradient: Bool) -> Double {
      targets.withUnsafeBufferPointer { tp in
        let logits = model.forward(batch.model, training: ctx)
        let r = Loss.evaluate(
          spec.task, logits: logits, targets: tp.baseAddress!, batch: B, outputs: C, globalCount: B,
          dlogits: withGradient ? model.dlogits.pointer : nil)
        if withGradient { model.backward() }
        return r.lossSum / Double(B)
      }
    }
    model.arena.zeroGrads()
    _ = loss(withGradient: true)
    /// Central, forward and backward differences at parameter p.
    func numeric(_ p: Int, eps: Float) -> (central: Double, forward: Double, backward: Double) {
      let saved = model.arena.values[p]
      let here = loss(withGradient: false)
      model.arena.values[p] = saved + eps
      let up = loss(withGradient: false)
      model.arena.values[p] = saved - eps
      let down = loss(withGradient: false)
      model.arena.values[p] = saved
      return ((up - down) / Double(2 * eps), (up - here) / Double(eps), (here - down) / Double(eps))
    }
    // Not vacuous: most tensors get a gradient (one may legitimately get none, e.g. weight_hh_l0_reverse when
    // max pooling picks each sample's first reverse step, where h_{-1} = 0). Under max pooling the tensors that
    // only act through h_{t-1} and c_{t-1} (weight_hh, peephole weight_ci and weight_cf) are silent whenever an
    // encoder's maxima all sit at its first step; they do not count (finite differences still check them).
    let stepZeroOnly = ["weight_hh", "weight_ci", "weight_cf"]
    let silent = model.arena.tensors.filter { t in (0..<t.count).allSatisfy { model.arena.grads[t.offset + $0] == 0 } }
      .map(\.name)
      .filter { name in spec.pooling != .max || !stepZeroOnly.contains { name.contains("." + $0) } }
    XCTAssertLessThanOrEqual(
      silent.count, max(1, model.arena.tensors.count / 10), "\(label): no gradient for \(silent)", file: file,
      line: line)
    for t in model.arena.tensors where t.offset < model.arena.trainableCount {  // (a frozen table has no gradient)
      let picks = Set((0..<5).map { _ in Int(rng.next() % UInt64(t.count)) })
      for i in picks {
        let p = t.offset + i
        let analytic = Double(model.arena.grads[p])
        let coarse = numeric(p, eps: 1e-2).central
        if isClose(analytic, coarse, rtol: 2e-2, atol: 2e-3) { continue }
        let fine = numeric(p, eps: 1e-3)
        let close = [fine.central, fine.forward, fine.backward].contains {
          isClose(analytic, $0, rtol: 2e-2, atol: 2e-3)
        }
        XCTAssertTrue(
          close,
          "\(label): \(t.name)[\(i)]: backward \(analytic), finite difference \(coarse) (eps 1e-2), \(fine) (eps 1e-3)",
          file: file, line: line)
      }
    }
  }

  /// Every fusion x every pooling for one cell and direction; 2 layers in some, every task.
  func checkAll(cell: CellKind, bidirectional: Bool) {
    let tasks: [(TaskKind, Int)] = [(.multiclass, 3), (.binary, 1), (.regression, 2)]
    var n = 0
    for fusion in FusionKind.allCases {
      for pooling in PoolingKind.allCases {
        let (task, C) = tasks[n % 3]
        gradientCheck(
          Self.spec(
            fusion: fusion, pooling: pooling, cell: cell, bidirectional: bidirectional, layers: n % 4 == 1 ? 2 : 1,
            task: task, outputs: C), seed: UInt64(100 + n))
        n += 1
      }
    }
  }

  func testLSTM() { checkAll(cell: .lstm, bidirectional: false) }
  func testLSTMBidirectional() { checkAll(cell: .lstm, bidirectional: true) }
  func testPeephole() { checkAll(cell: .lstm_peephole, bidirectional: false) }
  func testPeepholeBidirectional() { checkAll(cell: .lstm_peephole, bidirectional: true) }
  func testGRU() { checkAll(cell: .gru, bidirectional: false) }
  func testGRUBidirectional() { checkAll(cell: .gru, bidirectional: true) }

  /// Per-layer widths (`model.hidden: [3, 2]`) and a deep head (`model.head_hidden: [5, 3]`), with dropout
  /// between the differently sized layers, for every fusion.
  func testWidthsAndDeepHead() {
    let ctx = TrainingContext(seed: 9, epoch: 1, modalityDropout: 0)
    for (n, fusion) in FusionKind.allCases.enumerated() {
      var spec = Self.spec(
        fusion: fusion, pooling: n % 2 == 0 ? .last : .mean, cell: CellKind.allCases[n % 3], bidirectional: n % 2 == 1,
        layers: 2, dropout: 0.3, task: .multiclass, outputs: 3)
      let widths: [[Int]] = fusion == .early ? [[3, 2], [3, 2], [3, 2]] : [[3, 2], [2, 4], [4, 4]]
      for m in spec.inputs.indices { spec.inputs[m].widths = widths[m] }
      spec.headHidden = [5, 3]
      XCTAssertEqual(
        spec.parameterSpecs.filter { $0.name.hasPrefix("head.") }.map(\.name),
        ["head.0.weight", "head.0.bias", "head.2.weight", "head.2.bias", "head.4.weight", "head.4.bias"])
      gradientCheck(spec, training: ctx, seed: UInt64(60 + n))
    }
  }

  /// A static vector [N, D] beside the sequences, with an MLP encoder and passed through, in a training forward
  /// with modality dropout (the vector's absence zeroes its encoder's output), for every fusion but early.
  func testStaticVectors() {
    let ctx = TrainingContext(seed: 5, epoch: 2, modalityDropout: 0.3)
    for (n, fusion) in FusionKind.allCases.filter({ !$0.concatenatesSteps }).enumerated() {
      for widths in [[3], [Int]()] {
        var spec = Self.spec(
          fusion: fusion, pooling: .last, cell: .lstm, bidirectional: false, task: .multiclass, outputs: 3)
        spec.inputs[1] = ModelSpec.Input(name: "face", column: 3, features: 2, steps: 1, hidden: 1)
        spec.inputs[1].mlp = widths
        XCTAssertEqual(
          spec.parameterSpecs.filter { $0.name.hasPrefix("encoders.face.") }.map(\.name),
          widths.isEmpty ? [] : ["encoders.face.mlp.0.weight", "encoders.face.mlp.0.bias"])
        gradientCheck(spec, training: ctx, seed: UInt64(90 + 2 * n + widths.count))
      }
    }
  }

  /// An image [N, C, H, W] beside the sequences through a conv encoder (odd sides with a pooling remainder,
  /// an even kernel, two stages), in a training forward with modality dropout, for every fusion but early.
  func testImagesThroughConvolutions() {
    let ctx = TrainingContext(seed: 6, epoch: 1, modalityDropout: 0.3)
    let shapes = [
      ConvShape(channels: 2, height: 5, width: 3, stages: [3], kernel: 3, pool: 2),
      ConvShape(channels: 1, height: 4, width: 4, stages: [2, 2], kernel: 2, pool: 1),
    ]
    for (n, fusion) in FusionKind.allCases.filter({ !$0.concatenatesSteps }).enumerated() {
      let shape = shapes[n % 2]
      var spec = Self.spec(
        fusion: fusion, pooling: .last, cell: .gru, bidirectional: false, task: .multiclass, outputs: 3)
      let features = shape.channels * shape.height * shape.width
      spec.inputs = [
        spec.inputs[0], ModelSpec.Input(name: "image", column: 3, features: features, steps: 1, hidden: 1),
      ]
      spec.inputs[1].conv = shape
      XCTAssertEqual(
        spec.parameterSpecs.filter { $0.name.hasPrefix("encoders.image.") }.map(\.name),
        shape.stages.indices.flatMap { ["encoders.image.conv.\(3 * $0).weight", "encoders.image.conv.\(3 * $0).bias"] })
      gradientCheck(spec, training: ctx, seed: UInt64(110 + n))
    }
  }

  /// Token ids through embeddings into the recurrent stack, in a training forward with modality dropout: a trained
  /// table (rows touched several times, some never) beside a sequence, then a trained and a frozen one together.
  func testTokenEmbeddings() {
    let ctx = TrainingContext(seed: 9, epoch: 1, modalityDropout: 0.3)
    for (n, fusion) in [FusionKind.late, .attention].enumerated() {
      var spec = Self.spec(
        fusion: fusion, pooling: n == 0 ? .last : .mean, cell: n == 0 ? .lstm : .gru, bidirectional: n == 1,
        task: n == 0 ? .multiclass : .binary, outputs: n == 0 ? 3 : 1)
      spec.inputs = [
        ModelSpec.Input(name: "text", column: 0, features: 1, steps: 4, hidden: 3),
        n == 0
          ? ModelSpec.Input(name: "audio", column: 1, features: 2, steps: 3, hidden: 2)
          : ModelSpec.Input(name: "words", column: 1, features: 1, steps: 3, hidden: 2),
      ]
      spec.inputs[0].embed = EmbedShape(vocabulary: 5, size: 3, frozen: false)
      if n == 1 { spec.inputs[1].embed = EmbedShape(vocabulary: 4, size: 2, frozen: true) }
      XCTAssertEqual(spec.parameterSpecs.last?.name, n == 0 ? "embed.text.weight" : "embed.words.weight")
      gradientCheck(spec, training: ctx, seed: UInt64(140 + n))
    }
  }

  /// An image sequence [N, T, C, H, W]: every frame through the conv, then a 2-layer recurrent stack with dropout;
  /// frames past a sample's length (and an absent sequence) must leave the conv's gradients alone.
  func testImageSequencesThroughConvolutionsIntoTheRecurrentStack() {
    let ctx = TrainingContext(seed: 8, epoch: 1, modalityDropout: 0.3)
    for (n, fusion) in [FusionKind.late, .gated].enumerated() {
      let shape = ConvShape(channels: 2, height: 4, width: 3, stages: [2], kernel: 3, pool: 2)
      var spec = Self.spec(
        fusion: fusion, pooling: n == 0 ? .last : .mean, cell: .lstm, bidirectional: n == 1, layers: 2, dropout: 0.2,
        task: .binary, outputs: 1)
      spec.inputs = [
        spec.inputs[0], ModelSpec.Input(name: "video", column: 3, features: 24, steps: 3, hidden: 3),
      ]
      spec.inputs[1].conv = shape
      spec.inputs[1].frames = true
      XCTAssertEqual(
        spec.parameterSpecs.filter { $0.name.hasPrefix("encoders.video.") }.prefix(3).map(\.name),
        ["encoders.video.conv.0.weight", "encoders.video.conv.0.bias", "encoders.video.lstm.weight_ih_l0"])
      gradientCheck(spec, training: ctx, seed: UInt64(130 + n))
    }
  }

  /// A training forward with dropout between layers and on the fused vector, and modality dropout: the masks
  /// are a pure function of (seed, epoch, sample), so every evaluation draws the same ones and FD holds.
  func testDropoutAndModalityDropout() {
    let ctx = TrainingContext(seed: 7, epoch: 3, modalityDropout: 0.5)
    for (fusion, pooling) in [
      (FusionKind.attention, PoolingKind.mean), (.late, .attention), (.early, .last), (.tensor, .max),
    ] {
      let spec = Self.spec(
        fusion: fusion, pooling: pooling, cell: .lstm, bidirectional: false, layers: 2, dropout: 0.3,
        task: .multiclass, outputs: 3)
      // The training forward must differ from evaluation (dropout acts) and must drop some modality.
      let model = spec.make(maxBatch: Self.B)
      model.initialize(seed: 5)
      var rng = RNG(seed: 6)
      let x = (0..<(spec.maxSteps * Self.B * spec.width)).map { _ in Float(rng.normal()) }
      let lengths = Self.lengths(spec)
      let batch = TestBatch(x: x, modalityLengths: lengths, batch: Self.B)
      let eval = Array(UnsafeBufferPointer(start: model.forward(batch.model), count: Self.B * 3))
      let trainBatch = batch.model
      let train = Array(UnsafeBufferPointer(start: model.forward(trainBatch, training: ctx), count: Self.B * 3))
      XCTAssertNotEqual(eval, train, "\(fusion) fusion: dropout changes the training forward")
      XCTAssertNotEqual(
        Array(UnsafeBufferPointer(start: trainBatch.lengths, count: lengths.count)), lengths,
        "\(fusion) fusion: modality dropout drops some modality")
      gradientCheck(spec, training: ctx, seed: 40)
    }
  }
}
