import Foundation
import MMCore
import MMModel
import MMTensor
import TestSupport
import XCTest

/// The Swift model against PyTorch: Tests/Fixtures/make_reference.py dumps fixed weights, inputs, logits,
/// loss and every gradient of the equivalent nn.Module; the Swift forward/backward must reproduce them.
/// Tolerance: 1e-4 relative to the largest magnitude of each reference tensor (float32 re-association).
final class ReferenceTests: XCTestCase {
  struct Tensor: Decodable { let shape: [Int]; let data: [Double] }
  struct Fixture: Decodable {
    let kind: String
    let B: Int, T: Int, D: Int, H: Int, layers: Int, C: Int
    let x: Tensor, lengths: [Int], labels: Tensor
    let params: [String: Tensor], grads: [String: Tensor]
    let logits: Tensor, loss: Double, dx: Tensor
    let state_dict_keys: [String]
  }

  func check(_ name: String) throws {
    let url = fixturesDirectory().appendingPathComponent("reference_\(name).json")
    let f = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    let kind = TaskKind(rawValue: f.kind)!
    let model = ModelSpec.earlyLSTM(input: f.D, hidden: f.H, layers: f.layers, outputs: f.C, steps: f.T, task: kind)
      .make(maxBatch: f.B)
    XCTAssertEqual(model.arena.tensors.map(\.name), f.state_dict_keys, "parameter names/order = PyTorch state_dict")
    for t in model.arena.tensors {
      XCTAssertEqual(t.shape, f.params[t.name]!.shape, t.name)
      model.arena.setValues(f.params[t.name]!.data.map(Float.init), of: t)
    }
    // x (B, T, D) batch-first -> (T, B, D) time-major.
    var x = [Float](repeating: 0, count: f.T * f.B * f.D)
    for b in 0..<f.B {
      for t in 0..<f.T { for d in 0..<f.D { x[(t * f.B + b) * f.D + d] = Float(f.x.data[(b * f.T + t) * f.D + d]) } }
    }
    let lengths = f.lengths.map(Int32.init)
    let targets = f.labels.data.map(Float.init)
    let batch = TestBatch(x: x, modalityLengths: lengths, batch: f.B)
    let logits = Array(UnsafeBufferPointer(start: model.forward(batch.model), count: f.B * f.C))
    XCTAssertLessThan(maxRelativeDifference(logits, f.logits.data), 1e-5, "\(name) logits")
    let r = targets.withUnsafeBufferPointer { tp in
      logits.withUnsafeBufferPointer { lp in
        Loss.evaluate(
          kind, logits: lp.baseAddress!, targets: tp.baseAddress!, batch: f.B, outputs: f.C, globalCount: f.B,
          dlogits: model.dlogits.pointer)
      }
    }
    XCTAssertTrue(
      isClose(r.lossSum / Double(f.B), f.loss, rtol: 1e-5), "\(name) loss \(r.lossSum / Double(f.B)) vs \(f.loss)")
    model.arena.zeroGrads()
    model.backward()
    for t in model.arena.tensors {
      XCTAssertLessThan(
        maxRelativeDifference(model.arena.grads(of: t), f.grads[t.name]!.data), 1e-4, "\(name) grad \(t.name)")
    }
  }

  func testMulticlassTwoLayers() throws { try check("multiclass_2layer") }
  func testBinaryOneLayer() throws { try check("binary_1layer") }
  func testRegressionOneLayer() throws { try check("regression_1layer") }
}
