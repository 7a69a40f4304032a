import Foundation
import MMModel
import TestSupport
import XCTest

/// The recurrent layers against PyTorch in float64: Tests/Fixtures/make_cells_reference.py writes, per cell ×
/// direction × depth, the weights, x (B, T, D) with lengths including 0 and T, the outputs (zero past each length;
/// packed sequences), and every gradient and dx of loss = Σ out ⊙ R over valid steps. Compared: the outputs at
/// valid steps and the reverse half everywhere (zero at padding), every parameter gradient, dx.
/// Tolerance: 1e-4 relative to the largest magnitude of each reference tensor (float32 against float64).
final class RecurrentReferenceTests: XCTestCase {
  struct Tensor: Decodable { let shape: [Int]; let data: [Double] }
  struct Fixture: Decodable {
    let cell: String, bidirectional: Bool, layers: Int
    let B: Int, T: Int, D: Int, H: Int, lengths: [Int]
    let state_dict_keys: [String]
    let params: [String: Tensor], grads: [String: Tensor]
    let x: Tensor, R: Tensor, out: Tensor, dx: Tensor
  }

  func check(_ cell: CellKind, bidirectional: Bool, layers: Int) throws {
    let name = "cells_\(cell.rawValue)_\(bidirectional ? "bi" : "uni")_\(layers)layer"
    let url = fixturesDirectory().appendingPathComponent("cells/\(name).json")
    let f = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    XCTAssertEqual(f.cell, cell.rawValue); XCTAssertEqual(f.bidirectional, bidirectional);
    XCTAssertEqual(f.layers, layers)
    let stack = RecurrentStackHarness(
      cell: cell, bidirectional: bidirectional, layers: layers, input: f.D, hidden: f.H, steps: f.T, batch: f.B)
    XCTAssertEqual(
      stack.arena.tensors.map(\.name), f.state_dict_keys, "\(name): parameter names and order = PyTorch state_dict")
    for t in stack.arena.tensors {
      XCTAssertEqual(t.shape, f.params[t.name]!.shape, "\(name) \(t.name)")
      stack.arena.setValues(f.params[t.name]!.data.map(Float.init), of: t)
    }
    let T = f.T, B = f.B, D = f.D, O = stack.O
    // (B, T, n) batch-first -> (T, B, n) time-major, and back.
    func timeMajor(_ a: [Double], _ n: Int) -> [Float] {
      var r = [Float](repeating: 0, count: T * B * n)
      for b in 0..<B { for t in 0..<T { for j in 0..<n { r[(t * B + b) * n + j] = Float(a[(b * T + t) * n + j]) } } }
      return r
    }
    func batchFirst(_ a: [Float], _ n: Int) -> [Float] {
      var r = [Float](repeating: 0, count: T * B * n)
      for b in 0..<B { for t in 0..<T { for j in 0..<n { r[(b * T + t) * n + j] = a[(t * B + b) * n + j] } } }
      return r
    }
    let x = timeMajor(f.x.data, D), R = timeMajor(f.R.data, O)
    let lengths = f.lengths.map(Int32.init)
    var out = batchFirst(stack.forward(x, ldx: D, lengths: lengths), O)
    // The forward half past a length is never read (PyTorch's packed output has zeros there).
    let forwardWidth = bidirectional ? O / 2 : O
    for b in 0..<B { for t in f.lengths[b]..<T { for j in 0..<forwardWidth { out[(b * T + t) * O + j] = 0 } } }
    XCTAssertLessThan(maxRelativeDifference(out, f.out.data), 1e-4, "\(name) outputs")
    stack.arena.zeroGrads()
    let dx = batchFirst(stack.backward(R, x: x, ldx: D, lengths: lengths), D)
    for t in stack.arena.tensors {
      XCTAssertLessThan(
        maxRelativeDifference(stack.arena.grads(of: t), f.grads[t.name]!.data), 1e-4, "\(name) grad \(t.name)")
    }
    XCTAssertLessThan(maxRelativeDifference(dx, f.dx.data), 1e-4, "\(name) dx")
  }

  func testLSTM() throws {
    for bi in [false, true] { for layers in [1, 2] { try check(.lstm, bidirectional: bi, layers: layers) } }
  }
  func testPeepholeLSTM() throws {
    for bi in [false, true] { for layers in [1, 2] { try check(.lstm_peephole, bidirectional: bi, layers: layers) } }
  }
  func testGRU() throws {
    for bi in [false, true] { for layers in [1, 2] { try check(.gru, bidirectional: bi, layers: layers) } }
  }
}
