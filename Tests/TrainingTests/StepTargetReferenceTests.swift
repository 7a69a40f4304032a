import Foundation
import MMCore
import MMModel
import MMTensor
@testable import MMTraining
import TestSupport
import XCTest

/// Per-step targets (`task.target: step`) against PyTorch: Tests/Fixtures/make_step_reference.py runs
/// zoo_modules.MultimodalModel with the head at every step of the early-fusion encoder's top layer and the
/// masked loss (the mean over the valid steps), in float64. The Swift model's (T, B, C) logits go through the
/// training loop's StepRows (gather the valid steps, the loss, scatter dlogits back), then backward: logits at
/// the valid steps, loss, every parameter gradient and dx must match. Targets past each sample's length are
/// -1 or NaN in the fixture: reading one would show. Tolerances as ZooReferenceTests.
final class StepTargetReferenceTests: XCTestCase {
  struct Tensor: Decodable { let shape: [Int]; let data: [Double?] }
  struct Modality: Decodable { let name: String; let features: Int; let steps: Int; let hidden: FixtureWidths }
  struct Spec: Decodable {
    let cell: String, layers: Int, bidirectional: Bool, head_hidden: [Int], outputs: Int, task: String
    let modalities: [Modality]
  }
  struct Fixture: Decodable {
    let spec: Spec
    let state_dict_keys: [String]
    let params: [String: Tensor], grads: [String: Tensor]
    let inputs: [String: Tensor], dx: [String: Tensor]
    let lengths: [String: [Int]], fused_lengths: [Int]
    let targets: Tensor, logits: Tensor, loss: Double
  }

  func values(_ t: Tensor) -> [Double] { t.data.map { $0 ?? .nan } }

  func check(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
    let url = fixturesDirectory().appendingPathComponent("step_\(name).json")
    let f = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    var column = 0
    let inputs = f.spec.modalities.map { m in
      defer { column += m.features }
      return ModelSpec.Input(name: m.name, column: column, features: m.features, steps: m.steps, widths: m.hidden.list)
    }
    var spec = ModelSpec(
      inputs: inputs, cell: CellKind(rawValue: f.spec.cell)!, layers: f.spec.layers,
      bidirectional: f.spec.bidirectional,
      headHidden: f.spec.head_hidden, task: TaskKind(rawValue: f.spec.task)!, outputs: f.spec.outputs)
    spec.target = .step
    let B = f.fused_lengths.count, T = spec.maxSteps, D = spec.width, C = spec.outputs, M = inputs.count
    let K = f.targets.shape.count == 3 ? f.targets.shape[2] : 1
    let model = spec.make(maxBatch: B, inputGradient: true)
    XCTAssertEqual(model.arena.tensors.map(\.name), f.state_dict_keys, "\(name): names", file: file, line: line)
    for t in model.arena.tensors { model.arena.setValues(values(f.params[t.name]!).map(Float.init), of: t) }

    var x = [Float](repeating: 0, count: T * B * D)
    var lengths = [Int32](repeating: 0, count: M * B)
    for (m, input) in spec.inputs.enumerated() {
      let xm = values(f.inputs[input.name]!), Dm = input.features
      for b in 0..<B {
        lengths[m * B + b] = Int32(f.lengths[input.name]![b])
        for t in 0..<T { for d in 0..<Dm { x[(t * B + b) * D + input.column + d] = Float(xm[(b * T + t) * Dm + d]) } }
      }
    }
    let fused = f.fused_lengths.map(Int32.init)
    let batch = TestBatch(x: x, modalityLengths: lengths, batch: B, fusedLengths: fused)
    let logits = model.forward(batch.model)
    // (T, B, C) time-major here, (B, T, C) in the fixture: compare the valid steps.
    let reference = values(f.logits)
    var mine: [Float] = [], theirs: [Double] = []
    for b in 0..<B {
      for t in 0..<f.fused_lengths[b] {
        for c in 0..<C { mine.append(logits[(t * B + b) * C + c]); theirs.append(reference[(b * T + t) * C + c]) }
      }
    }
    XCTAssertLessThan(maxRelativeDifference(mine, theirs), 1e-5, "\(name): logits", file: file, line: line)

    let rows = StepRows(steps: T, maxBatch: B, outputs: C, width: K)
    let targets = values(f.targets).map(Float.init)
    let loss = LossSpec(spec.task)
    let r = targets.withUnsafeBufferPointer { y in
      fused.withUnsafeBufferPointer { l in
        let denominator = rows.denominator(targets: y.baseAddress!, lengths: l.baseAddress!, batch: B, loss: loss)
        rows.gather(logits: logits, targets: y.baseAddress!, lengths: l.baseAddress!, batch: B)
        return Loss.evaluate(
          loss, logits: rows.logits.pointer, targets: rows.targets.pointer, batch: rows.count, outputs: C,
          denominator: denominator, dlogits: rows.dlogits.pointer)
      }
    }
    XCTAssertEqual(rows.count, f.fused_lengths.reduce(0, +), file: file, line: line)
    XCTAssertTrue(
      isClose(r.lossSum / r.weightSum, f.loss, rtol: 1e-5), "\(name): loss \(r.lossSum / r.weightSum) vs \(f.loss)",
      file: file, line: line)
    rows.scatter(into: model.dlogits.pointer, batch: B)
    model.arena.zeroGrads()
    model.backward()
    for t in model.arena.tensors {
      XCTAssertLessThan(
        maxRelativeDifference(model.arena.grads(of: t), values(f.grads[t.name]!)), 1e-4,
        "\(name): gradient of \(t.name)",
        file: file, line: line)
    }
    let g = model.inputGradient!.pointer
    for input in spec.inputs {
      let Dm = input.features
      var dx = [Float](repeating: 0, count: B * T * Dm)
      for b in 0..<B {
        for t in 0..<T { for d in 0..<Dm { dx[(b * T + t) * Dm + d] = g[(t * B + b) * D + input.column + d] } }
      }
      XCTAssertLessThan(
        maxRelativeDifference(dx, values(f.dx[input.name]!)), 1e-4, "\(name): dx of \(input.name)", file: file,
        line: line)
    }
  }

  func testMulticlassDeepHead() throws { try check("multiclass_lstm_deephead") }
  func testBinaryBidirectionalGRUWidths() throws { try check("binary_gru_bi_widths") }
  func testRegressionTwoOutputsPeephole() throws { try check("regression_peephole_2layer") }
  func testRegressionOneOutput() throws { try check("regression1_lstm_single") }

  /// Finite differences of the masked per-step loss, in a training forward with dropout between the layers
  /// (widths [4, 3]) and on every step's head input: central differences at eps 1e-2 against backward for 4
  /// entries of every tensor, for each task kind.
  func testFiniteDifferences() {
    let B = 3, T = 4
    for (n, (task, C)) in [(TaskKind.multiclass, 3), (.binary, 1), (.regression, 2)].enumerated() {
      var spec = ModelSpec(
        inputs: [ModelSpec.Input(name: "x", column: 0, features: 3, steps: T, widths: [4, 3])],
        cell: CellKind.allCases[n], layers: 2, bidirectional: n == 1, headHidden: [5], dropout: 0.3, task: task,
        outputs: C)
      spec.target = .step
      let model = spec.make(maxBatch: B)
      model.initialize(seed: UInt64(70 + n))
      let head = model.arena.tensor("head.0.bias")  // live ReLU units
      model.arena.setValues(model.arena.values(of: head).map { abs($0) + 0.3 }, of: head)
      var rng = RNG(seed: UInt64(80 + n))
      let x = (0..<(T * B * 3)).map { _ in Float(rng.normal()) }
      let fused: [Int32] = [4, 2, 1]
      let K = task == .regression ? C : 1
      let targets: [Float] = (0..<(B * T * K)).map { _ in
        task == .regression ? Float(rng.normal()) : Float(rng.next() % UInt64(max(C, 2)))
      }
      let batch = TestBatch(x: x, modalityLengths: fused, batch: B, fusedLengths: fused)
      let ctx = TrainingContext(seed: 3, epoch: 1, modalityDropout: 0)
      let rows = StepRows(steps: T, maxBatch: B, outputs: C, width: K)
      let loss = LossSpec(task)
      func evaluate(gradient: Bool) -> Double {
        targets.withUnsafeBufferPointer { y in
          fused.withUnsafeBufferPointer { l in
            let logits = model.forward(batch.model, training: ctx)
            rows.gather(logits: logits, targets: y.baseAddress!, lengths: l.baseAddress!, batch: B)
            let r = Loss.evaluate(
              loss, logits: rows.logits.pointer, targets: rows.targets.pointer, batch: rows.count, outputs: C,
              denominator: Double(rows.count), dlogits: gradient ? rows.dlogits.pointer : nil)
            if gradient {
              rows.scatter(into: model.dlogits.pointer, batch: B)
              model.backward()
            }
            return r.lossSum / Double(rows.count)
          }
        }
      }
      model.arena.zeroGrads()
      _ = evaluate(gradient: true)
      let analytic = Array(UnsafeBufferPointer(start: model.arena.grads.pointer, count: model.arena.count))
      for t in model.arena.tensors {
        for _ in 0..<4 {
          let p = t.offset + Int(rng.next() % UInt64(t.count)), saved = model.arena.values[p]
          model.arena.values[p] = saved + 1e-2
          let up = evaluate(gradient: false)
          model.arena.values[p] = saved - 1e-2
          let down = evaluate(gradient: false)
          model.arena.values[p] = saved
          let numeric = (up - down) / 2e-2, a = Double(analytic[p])
          XCTAssertLessThan(
            abs(numeric - a), 2e-3 + 0.02 * abs(numeric), "\(task) \(t.name)[\(p - t.offset)]: \(a) vs \(numeric)")
        }
      }
    }
  }

  /// The mask matters: the same fixture scored over every step (padding included) gives another loss.
  func testCountingPaddedStepsFails() throws {
    let url = fixturesDirectory().appendingPathComponent("step_multiclass_lstm_deephead.json")
    let f = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    let B = f.fused_lengths.count, T = f.spec.modalities[0].steps
    let rows = StepRows(steps: T, maxBatch: B, outputs: 3, width: 1)
    let all = [Int32](repeating: Int32(T), count: B)
    let logits = [Float](repeating: 0, count: T * B * 3)
    let targets = values(f.targets).map { Float($0 < 0 ? 0 : $0) }
    targets.withUnsafeBufferPointer { y in
      all.withUnsafeBufferPointer {
        rows.gather(logits: logits, targets: y.baseAddress!, lengths: $0.baseAddress!, batch: B)
      }
    }
    XCTAssertNotEqual(rows.count, f.fused_lengths.reduce(0, +))
  }
}
