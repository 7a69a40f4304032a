import Foundation
import MMCore
import MMModel
import MMTensor
import TestSupport
import XCTest

/// Every architecture of the zoo against PyTorch: Tests/Fixtures/make_zoo_reference.py runs
/// zoo_modules.MultimodalModel in float64 and writes parameters, per-modality inputs and lengths (one
/// modality of one sample has length 0), logits, loss, every parameter gradient and dx per modality.
/// The Swift model must have the same tensor names, order and shapes, and reproduce everything.
/// Tolerance: 1e-5 (logits, loss) and 1e-4 (gradients, dx) relative to the largest reference magnitude.
final class ZooReferenceTests: XCTestCase {
  struct Tensor: Decodable { let shape: [Int]; let data: [Double] }
  struct Encoder: Decodable {
    let kind: String
    let widths: [Int]?  // mlp
    let channels: [Int]?, kernel: Int?, pool: Int?  // conv
  }
  struct Modality: Decodable {
    let name: String, features: Int, steps: Int, hidden: FixtureWidths
    let kind: String?, encoder: Encoder?  // a static vector ("static") and its MLP; an image and its conv
    let shape: [Int]?  // an image's [C, H, W]
    let vocab: Int?, embed: Int?, frozen: Bool?  // token ids ("tokens") and their embedding
  }
  struct Spec: Decodable {
    let fusion: String, cell: String, layers: Int, bidirectional: Bool, pooling: String
    let attention_size: Int?, fusion_size: Int?, head_hidden: FixtureWidths?
    let dropout: Double, outputs: Int, task: String
    let modalities: [Modality]
  }
  struct Fixture: Decodable {
    let name: String
    let spec: Spec
    let state_dict_keys: [String]
    let params: [String: Tensor], grads: [String: Tensor]
    let inputs: [String: Tensor], dx: [String: Tensor]
    let lengths: [String: [Int]], fused_lengths: [Int]
    let targets: Tensor, logits: Tensor, loss: Double
  }

  static func load(_ name: String) throws -> Fixture {
    let url = fixturesDirectory().appendingPathComponent("zoo_\(name).json")
    return try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
  }

  /// The fixture's spec as mmtrain's ModelSpec: modalities' columns laid side by side in model order.
  static func modelSpec(_ s: Spec) -> ModelSpec {
    var column = 0
    let inputs = s.modalities.map { m in
      defer { column += m.features }
      var input = ModelSpec.Input(
        name: m.name, column: column, features: m.features, steps: m.steps, widths: m.hidden.list)
      if m.kind == "static" { input.mlp = m.encoder?.widths ?? [] }
      if m.kind == "image" || m.kind == "image_sequence", let s = m.shape, let e = m.encoder {
        input.conv = ConvShape(
          channels: s[0], height: s[1], width: s[2], stages: e.channels!, kernel: e.kernel!, pool: e.pool!)
        input.frames = m.kind == "image_sequence"
      }
      if m.kind == "tokens" { input.embed = EmbedShape(vocabulary: m.vocab!, size: m.embed!, frozen: m.frozen!) }
      return input
    }
    // head_hidden: 0 is a Linear head ([]), 5 is [5], a list as it is.
    let head = s.head_hidden.map { $0.isList ? $0.list : $0.list.filter { $0 > 0 } }
    return ModelSpec(
      inputs: inputs, fusion: FusionKind(rawValue: s.fusion)!, cell: CellKind(rawValue: s.cell)!, layers: s.layers,
      bidirectional: s.bidirectional, pooling: PoolingKind(rawValue: s.pooling)!, attentionSize: s.attention_size,
      fusionSize: s.fusion_size, headHidden: head, dropout: s.dropout, task: TaskKind(rawValue: s.task)!,
      outputs: s.outputs)
  }

  /// The fixture's inputs (B, T_m, D_m) as the model's time-major fused batch (S, B, D), each modality in its
  /// columns and first T_m steps; `value` may change each input value (tests that fail on purpose).
  static func batch(_ f: Fixture, _ spec: ModelSpec, value: (ModelSpec.Input, Float) -> Float = { $1 }) -> TestBatch {
    let B = f.fused_lengths.count, D = spec.width
    var x = [Float](repeating: 0, count: spec.maxSteps * B * D)
    var lengths = [Int32](repeating: 0, count: spec.inputs.count * B)
    for (m, input) in spec.inputs.enumerated() {
      let xm = f.inputs[input.name]!.data, T = input.steps, Dm = input.features
      for b in 0..<B {
        lengths[m * B + b] = Int32(f.lengths[input.name]![b])
        for t in 0..<T {
          for d in 0..<Dm { x[(t * B + b) * D + input.column + d] = value(input, Float(xm[(b * T + t) * Dm + d])) }
        }
      }
    }
    return TestBatch(x: x, modalityLengths: lengths, batch: B, fusedLengths: f.fused_lengths.map(Int32.init))
  }

  func check(_ name: String) throws {
    let f = try Self.load(name)
    let spec = Self.modelSpec(f.spec)
    let B = f.fused_lengths.count, D = spec.width, C = spec.outputs
    let model = spec.make(maxBatch: B, inputGradient: true)

    // Names, order and shapes = the PyTorch state_dict (and ModelSpec.parameterSpecs says the same).
    XCTAssertEqual(
      model.arena.tensors.map(\.name), f.state_dict_keys, "\(name): arena names/order vs PyTorch state_dict")
    XCTAssertEqual(spec.parameterSpecs.map(\.name), f.state_dict_keys, "\(name): parameterSpecs vs PyTorch state_dict")
    for t in model.arena.tensors {
      guard let p = f.params[t.name] else { XCTFail("\(name): no \(t.name) in the fixture"); continue }
      XCTAssertEqual(t.shape, p.shape, "\(name): shape of \(t.name)")
      if t.shape == p.shape { model.arena.setValues(p.data.map(Float.init), of: t) }
    }

    let batch = Self.batch(f, spec)
    let logits = Array(UnsafeBufferPointer(start: model.forward(batch.model), count: B * C))
    XCTAssertLessThan(
      maxRelativeDifference(logits, f.logits.data), 1e-5, "\(name): logits \(logits) vs \(f.logits.data)")

    let targets = f.targets.data.map(Float.init)
    let r = targets.withUnsafeBufferPointer { tp in
      logits.withUnsafeBufferPointer { lp in
        Loss.evaluate(
          spec.task, logits: lp.baseAddress!, targets: tp.baseAddress!, batch: B, outputs: C, globalCount: B,
          dlogits: model.dlogits.pointer)
      }
    }
    XCTAssertTrue(
      isClose(r.lossSum / Double(B), f.loss, rtol: 1e-5), "\(name): loss \(r.lossSum / Double(B)) vs \(f.loss)")

    model.arena.zeroGrads()
    model.backward()
    // A tensor whose exact gradient is 0 (fusion.key.bias: softmax_j(q_i·(k_j + b)) does not depend on b,
    // since q_i·b shifts a whole row) holds rounding noise on both sides: it must be tiny next to the
    // largest gradient of the model instead.
    let scale = f.grads.values.map { $0.data.map(abs).max() ?? 0 }.max() ?? 0
    for t in model.arena.tensors {
      guard let g = f.grads[t.name] else { continue }
      let mine = model.arena.grads(of: t)
      if (g.data.map(abs).max() ?? 0) <= 1e-12 * scale {
        let largest = Double(mine.map(abs).max() ?? 0)
        XCTAssertLessThanOrEqual(
          largest, 1e-5 * scale, "\(name): gradient of \(t.name) is 0 in PyTorch, \(largest) here")
      } else {
        XCTAssertLessThan(maxRelativeDifference(mine, g.data), 1e-4, "\(name): gradient of \(t.name)")
      }
    }
    // dx per modality, read back from the fused-layout input gradient.
    let g = model.inputGradient!.pointer
    for input in spec.inputs {
      let T = input.steps, Dm = input.features
      var dx = [Float](repeating: 0, count: B * T * Dm)
      for b in 0..<B {
        for t in 0..<T { for d in 0..<Dm { dx[(b * T + t) * Dm + d] = g[(t * B + b) * D + input.column + d] } }
      }
      XCTAssertLessThan(maxRelativeDifference(dx, f.dx[input.name]!.data), 1e-4, "\(name): dx of \(input.name)")
    }
  }

  static let cases = [
    "early_lstm_last", "early_lstm_mean", "early_lstm_max", "early_lstm_attention",
    "late_lstm_last", "late_lstm_mean", "late_lstm_max", "late_lstm_attention",
    "attention_lstm_last", "attention_lstm_mean", "attention_lstm_max", "attention_lstm_attention",
    "tensor_lstm_last", "tensor_lstm_mean", "tensor_lstm_max", "tensor_lstm_attention",
    "late_lstm_bi_last", "late_lstm_peephole_uni_last", "late_lstm_peephole_bi_last", "late_gru_uni_last",
    "late_gru_bi_last",
    "early_lstm_bi_last", "early_lstm_peephole_uni_last", "early_lstm_peephole_bi_last", "early_gru_uni_last",
    "early_gru_bi_last",
    "attention_gru_bi_mean", "tensor_lstm_peephole_bi_max", "early_lstm_bi_attention",
    "gated_lstm_last", "gated_gru_bi_mean", "gated_lstm_peephole_max", "gated_lstm_bi_attention",
    "late_lstm_widths_deephead", "early_gru_bi_widths", "gated_lstm_peephole_widths_deephead",
    "attention_lstm_bi_widths_mean", "early_lstm_deephead",
    "late_static_mlp", "gated_static_passthrough", "attention_gru_bi_static_mlp", "tensor_static_mlp",
    "late_image_conv_odd", "gated_image_conv_even_kernel", "attention_image_conv_nopool",
    "late_frames_conv_lstm", "attention_frames_conv_gru_bi_mean",
    "late_tokens_trained", "attention_tokens_frozen_gru_bi", "gated_tokens_trained_and_frozen",
  ]

  /// The check catches a wrong model: the same fixture with one layer's width swapped (the stack [5, 3] built
  /// as [3, 5]) gives tensors of other shapes, and a head tensor off by 0.1% gives other logits.
  func testAWrongModelFails() throws {
    let f = try Self.load("late_lstm_widths_deephead")
    var spec = Self.modelSpec(f.spec)
    spec.inputs[0].widths = [3, 5]
    let shapes = Dictionary(uniqueKeysWithValues: spec.parameterSpecs.map { ($0.name, $0.shape) })
    XCTAssertNotEqual(shapes["encoders.text.lstm.0.weight_ih_l0"], f.params["encoders.text.lstm.0.weight_ih_l0"]?.shape)

    let right = Self.modelSpec(f.spec)
    let B = f.fused_lengths.count, C = right.outputs
    func logits(scaling name: String?) -> [Float] {
      let model = right.make(maxBatch: B)
      for t in model.arena.tensors {
        model.arena.setValues(f.params[t.name]!.data.map { Float($0) * (t.name == name ? 1.001 : 1) }, of: t)
      }
      let batch = Self.batch(f, right)
      return Array(UnsafeBufferPointer(start: model.forward(batch.model), count: B * C))
    }
    XCTAssertLessThan(maxRelativeDifference(logits(scaling: nil), f.logits.data), 1e-5)
    XCTAssertGreaterThan(maxRelativeDifference(logits(scaling: "head.2.weight"), f.logits.data), 1e-5)
  }

  /// Every committed zoo fixture has a test below, and every test its fixture.
  func testEveryFixtureIsChecked() throws {
    let files = try FileManager.default.contentsOfDirectory(atPath: fixturesDirectory().path)
      .filter { $0.hasPrefix("zoo_") && $0.hasSuffix(".json") }
      .map { String($0.dropFirst(4).dropLast(5)) }
    XCTAssertEqual(Set(files), Set(Self.cases))
  }

  // Every fusion x every pooling, unidirectional LSTM.
  func testEarlyLast() throws { try check("early_lstm_last") }
  func testEarlyMean() throws { try check("early_lstm_mean") }
  func testEarlyMax() throws { try check("early_lstm_max") }
  func testEarlyAttentionPooling() throws { try check("early_lstm_attention") }
  func testLateLast() throws { try check("late_lstm_last") }
  func testLateMean() throws { try check("late_lstm_mean") }
  func testLateMax() throws { try check("late_lstm_max") }
  func testLateAttentionPooling() throws { try check("late_lstm_attention") }
  func testAttentionFusionLast() throws { try check("attention_lstm_last") }
  func testAttentionFusionMeanNoModalityPresent() throws { try check("attention_lstm_mean") }
  func testAttentionFusionMax() throws { try check("attention_lstm_max") }
  func testAttentionFusionAttentionPooling() throws { try check("attention_lstm_attention") }
  func testTensorLast() throws { try check("tensor_lstm_last") }
  func testTensorMean() throws { try check("tensor_lstm_mean") }
  func testTensorMax() throws { try check("tensor_lstm_max") }
  func testTensorAttentionPooling() throws { try check("tensor_lstm_attention") }

  // Every cell x direction, late and early fusion, last pooling.
  func testLateLSTMBidirectional() throws { try check("late_lstm_bi_last") }
  func testLatePeephole() throws { try check("late_lstm_peephole_uni_last") }
  func testLatePeepholeBidirectional() throws { try check("late_lstm_peephole_bi_last") }
  func testLateGRU() throws { try check("late_gru_uni_last") }
  func testLateGRUBidirectional() throws { try check("late_gru_bi_last") }
  func testEarlyLSTMBidirectional() throws { try check("early_lstm_bi_last") }
  func testEarlyPeephole() throws { try check("early_lstm_peephole_uni_last") }
  func testEarlyPeepholeBidirectional() throws { try check("early_lstm_peephole_bi_last") }
  func testEarlyGRU() throws { try check("early_gru_uni_last") }
  func testEarlyGRUBidirectional() throws { try check("early_gru_bi_last") }

  // Bidirectional with the other poolings, one per fusion.
  func testAttentionFusionGRUBidirectionalMean() throws { try check("attention_gru_bi_mean") }
  func testTensorPeepholeBidirectionalMax() throws { try check("tensor_lstm_peephole_bi_max") }
  func testEarlyLSTMBidirectionalAttentionPooling() throws { try check("early_lstm_bi_attention") }

  // Gated fusion: every pooling once, every cell, both directions.
  func testGatedLast() throws { try check("gated_lstm_last") }
  func testGatedGRUBidirectionalMean() throws { try check("gated_gru_bi_mean") }
  func testGatedPeepholeMax() throws { try check("gated_lstm_peephole_max") }
  func testGatedLSTMBidirectionalAttentionPooling() throws { try check("gated_lstm_bi_attention") }

  // Per-layer widths (`model.hidden: [5, 3]`: one-layer modules lstm.<k>.*; an equal list is nn.LSTM's names)
  // and deep heads (`model.head_hidden: [5, 4]`: head.0, head.2, head.4).
  func testLateWidthsAndDeepHead() throws { try check("late_lstm_widths_deephead") }
  func testEarlyGRUBidirectionalWidths() throws { try check("early_gru_bi_widths") }
  func testGatedPeepholeThreeWidthsDeepHead() throws { try check("gated_lstm_peephole_widths_deephead") }
  func testAttentionBidirectionalWidthsMean() throws { try check("attention_lstm_bi_widths_mean") }
  func testEarlyDeepHead() throws { try check("early_lstm_deephead") }

  // Static vectors [N, D] beside sequences: an MLP encoder (encoders.face.mlp.0, .2), or passed through; one
  // sample has the vector absent.
  func testLateStaticMLP() throws { try check("late_static_mlp") }
  func testGatedStaticPassedThrough() throws { try check("gated_static_passthrough") }
  func testAttentionStaticMLP() throws { try check("attention_gru_bi_static_mlp") }
  func testTensorStaticMLP() throws { try check("tensor_static_mlp") }

  // Images [N, C, H, W] through conv encoders (encoders.image.conv.0, .3): odd sides with pooling remainders, an
  // even kernel, no pooling; one sample's image absent.
  func testLateImageConvOddSides() throws { try check("late_image_conv_odd") }
  func testGatedImageConvEvenKernel() throws { try check("gated_image_conv_even_kernel") }
  func testAttentionImageConvNoPooling() throws { try check("attention_image_conv_nopool") }

  // Image sequences [N, T, C, H, W]: the conv on every frame, then the recurrent stack (CNN-LSTM); frames past a
  // sample's length must not reach the conv's gradients.
  func testLateFramesConvLSTM() throws { try check("late_frames_conv_lstm") }
  func testAttentionFramesConvBidirectionalGRU() throws { try check("attention_frames_conv_gru_bi_mean") }

  // Token ids [N, T] through embeddings (embed.<m>.weight, after the head): trained (rows touched several times,
  // some never), frozen (no gradient), and both in one model; ids past each length are -1 and never read.
  func testLateTokensTrainedEmbedding() throws { try check("late_tokens_trained") }
  func testAttentionTokensFrozenEmbeddingBidirectionalGRU() throws { try check("attention_tokens_frozen_gru_bi") }
  func testGatedTrainedAndFrozenEmbeddings() throws { try check("gated_tokens_trained_and_frozen") }

  /// The check catches a wrong lookup: the same ids read one row further down give other logits.
  func testShiftedTokenIdsFail() throws {
    let f = try Self.load("late_tokens_trained")
    let spec = Self.modelSpec(f.spec)
    let B = f.fused_lengths.count, C = spec.outputs
    func logits(shift: Float) -> [Float] {
      let model = spec.make(maxBatch: B)
      for t in model.arena.tensors { model.arena.setValues(f.params[t.name]!.data.map { Float($0) }, of: t) }
      let batch = Self.batch(f, spec) { input, v in input.embed != nil && v >= 0 ? Float(Int(v + shift) % 7) : v }
      return Array(UnsafeBufferPointer(start: model.forward(batch.model), count: B * C))
    }
    XCTAssertLessThan(maxRelativeDifference(logits(shift: 0), f.logits.data), 1e-5)
    XCTAssertGreaterThan(maxRelativeDifference(logits(shift: 1), f.logits.data), 1e-3)
  }
}
