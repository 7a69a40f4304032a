import MMModel
import MMTensor
import TestSupport
import XCTest

/// Central finite differences against backward for every recurrent cell × {unidirectional, bidirectional} ×
/// {1, 2 layers}: entries of every parameter tensor and of x. Lengths include 0 and T; layer 0 reads x with a row
/// stride ldx > D (junk columns beside it); the loss is Σ over valid steps of out ⊙ R (R fixed, random), while
/// backward gets R at every step, so it must ignore the padding's rows. Float32, eps = 1e-2:
/// tolerance 2e-3 absolute + 2% relative.
final class RecurrentGradientCheckTests: XCTestCase {
  func gradientCheck(_ cell: CellKind, bidirectional: Bool, layers: Int) {
    let T = 5, B = 5, D = 3, H = 3, ldx = D + 2
    let lengths: [Int32] = [5, 0, 2, 1, 4]
    let stack = RecurrentStackHarness(
      cell: cell, bidirectional: bidirectional, layers: layers, input: D, hidden: H, steps: T, batch: B)
    var rng = RNG(seed: 21)
    for i in 0..<stack.arena.count { stack.arena.values[i] = Float(rng.uniform(-0.9, 0.9)) }  // a little past 1/√H
    var x = (0..<(T * B * ldx)).map { _ in Float(rng.normal()) }
    let O = stack.O
    let R = (0..<(T * B * O)).map { _ in Float(rng.normal()) }
    let name = "\(cell) \(bidirectional ? "bidirectional" : "unidirectional") \(layers) layer(s)"

    func loss() -> Double {
      let out = stack.forward(x, ldx: ldx, lengths: lengths)
      var s = 0.0
      for b in 0..<B {
        for t in 0..<Int(lengths[b]) {
          for j in 0..<O { s += Double(out[(t * B + b) * O + j]) * Double(R[(t * B + b) * O + j]) }
        }
      }
      return s
    }
    func numeric(_ set: (Float) -> Void, at saved: Float) -> Double {
      let eps: Float = 1e-2
      set(saved + eps)
      let up = loss()
      set(saved - eps)
      let down = loss()
      set(saved)
      return (up - down) / Double(2 * eps)
    }

    stack.arena.zeroGrads()
    _ = loss()
    let dx = stack.backward(R, x: x, ldx: ldx, lengths: lengths)
    for t in stack.arena.tensors {
      let picks = Set((0..<8).map { _ in Int(rng.next() % UInt64(t.count)) })
      for i in picks {
        let p = t.offset + i
        let fd = numeric({ stack.arena.values[p] = $0 }, at: stack.arena.values[p])
        let analytic = Double(stack.arena.grads[t.offset + i])
        XCTAssertTrue(
          isClose(analytic, fd, rtol: 2e-2, atol: 2e-3),
          "\(name) \(t.name)[\(i)]: backward \(analytic), finite difference \(fd)")
      }
    }
    var nonZero = 0
    for _ in 0..<20 {
      let r = Int(rng.next() % UInt64(T * B)), d = Int(rng.next() % UInt64(D))
      let fd = numeric({ x[r * ldx + d] = $0 }, at: x[r * ldx + d])
      let analytic = Double(dx[r * D + d])
      if analytic != 0 { nonZero += 1 }
      XCTAssertTrue(
        isClose(analytic, fd, rtol: 2e-2, atol: 2e-3),
        "\(name) dx[step \(r / B), sample \(r % B), \(d)]: backward \(analytic), finite difference \(fd)")
    }
    XCTAssertGreaterThan(nonZero, 0, "\(name): dx checked only at padding")
    // Padding gets no gradient, and the junk columns beside x (ldx > D) are never read.
    for b in 0..<B {
      for t in Int(lengths[b])..<T {
        for d in 0..<D { XCTAssertEqual(dx[(t * B + b) * D + d], 0, "\(name) dx at padding") }
      }
    }
    let before = stack.forward(x, ldx: ldx, lengths: lengths)
    for r in 0..<(T * B) { for d in D..<ldx { x[r * ldx + d] = 1e6 } }
    XCTAssertEqual(stack.forward(x, ldx: ldx, lengths: lengths), before, "\(name): columns past D changed the output")
  }

  func testLSTM() {
    for bi in [false, true] { for layers in [1, 2] { gradientCheck(.lstm, bidirectional: bi, layers: layers) } }
  }
  func testPeepholeLSTM() {
    for bi in [false, true] {
      for layers in [1, 2] { gradientCheck(.lstm_peephole, bidirectional: bi, layers: layers) }
    }
  }
  func testGRU() {
    for bi in [false, true] { for layers in [1, 2] { gradientCheck(.gru, bidirectional: bi, layers: layers) } }
  }

  /// The reverse half is zero past each length; the forward half is deterministic there; a length-0 sample
  /// leaves its reverse half all zero. Two forwards of the same batch agree bit for bit.
  func testPaddingRowsOfTheOutput() {
    let T = 4, B = 3, D = 2, H = 2
    let lengths: [Int32] = [4, 0, 2]
    for cell in CellKind.allCases {
      let stack = RecurrentStackHarness(
        cell: cell, bidirectional: true, layers: 2, input: D, hidden: H, steps: T, batch: B)
      var rng = RNG(seed: 3)
      for i in 0..<stack.arena.count { stack.arena.values[i] = Float(rng.uniform(-0.7, 0.7)) }
      let x = (0..<(T * B * D)).map { _ in Float(rng.normal()) }
      let out = stack.forward(x, ldx: D, lengths: lengths)
      XCTAssertEqual(stack.forward(x, ldx: D, lengths: lengths), out, "\(cell): forward is deterministic")
      for b in 0..<B {
        for t in Int(lengths[b])..<T {
          for j in H..<(2 * H) { XCTAssertEqual(out[(t * B + b) * 2 * H + j], 0, "\(cell) reverse half at padding") }
        }
      }
    }
  }
}
