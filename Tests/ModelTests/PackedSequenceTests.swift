import MMModel
import MMTensor
import TestSupport
import XCTest

/// Recurrent layers skip padded steps (pack_padded_sequence): each step runs only the samples still going.
/// The results must equal the padded computation. For every cell and direction, a batch of mixed lengths
/// (0 included) is checked against each sample run alone on exactly its own steps (no padding at all):
/// outputs at valid steps, dx (zero past the length) and every parameter gradient (the sum over samples).
/// For the forward direction it is also checked against the fully padded run (every length = T, dOut zero
/// past each sample's length), which is what the layer computed before skipping.
final class PackedSequenceTests: XCTestCase {
  let D = 5, H = 4, T = 7
  let lengths: [Int32] = [5, 1, 7, 0, 3, 7]

  func testPackedEqualsPaddedForEveryCellAndDirection() {
    for cell in CellKind.allCases {
      for bidirectional in [false, true] {
        check(cell, bidirectional)
      }
    }
  }

  func check(_ cell: CellKind, _ bidirectional: Bool) {
    let B = lengths.count, name = "\(cell.rawValue)\(bidirectional ? " bidirectional" : "")"
    var rng = RNG(seed: 11, stream: 3)
    let batch = RecurrentStackHarness(
      cell: cell, bidirectional: bidirectional, layers: 2, input: D, hidden: H, steps: T, batch: B)
    let params = (0..<batch.arena.count).map { _ in Float(rng.uniform(-0.5, 0.5)) }
    batch.arena.values.pointer.update(from: params, count: params.count)
    let O = batch.O
    let x = (0..<(T * B * D)).map { _ in Float(rng.uniform(-1, 1)) }
    var dOut = (0..<(T * B * O)).map { _ in Float(rng.uniform(-1, 1)) }
    // A batch of other lengths first: nothing may carry over from it into the next (caches are reused).
    let earlier = batch.forward(x.map { -$0 }, ldx: D, lengths: lengths.reversed())
    _ = batch.backward(dOut.map { 2 * $0 }, x: x.map { -$0 }, ldx: D, lengths: lengths.reversed())
    XCTAssertFalse(earlier.isEmpty)
    batch.arena.zeroGrads()
    let out = batch.forward(x, ldx: D, lengths: lengths)
    let dx = batch.backward(dOut, x: x, ldx: D, lengths: lengths)
    let grads = Array(UnsafeBufferPointer(start: batch.arena.grads.pointer, count: batch.arena.count))

    // Each sample alone, on exactly its L steps.
    var sumGrads = [Float](repeating: 0, count: batch.arena.count)
    for b in 0..<B where lengths[b] > 0 {
      let L = Int(lengths[b])
      let one = RecurrentStackHarness(
        cell: cell, bidirectional: bidirectional, layers: 2, input: D, hidden: H, steps: L, batch: 1)
      one.arena.values.pointer.update(from: params, count: params.count)
      let xb = (0..<L).flatMap { t in row(x, t * B + b, D) }
      let ob = one.forward(xb, ldx: D, lengths: [Int32(L)])
      let dOb = (0..<L).flatMap { t in row(dOut, t * B + b, O) }
      let dxb = one.backward(dOb, x: xb, ldx: D, lengths: [Int32(L)])
      for t in 0..<L {
        XCTAssertLessThan(
          maxDifference(row(out, t * B + b, O), row(ob, t, O)), 1e-5, "\(name): output of sample \(b) at step \(t)")
        XCTAssertLessThan(
          maxDifference(row(dx, t * B + b, D), row(dxb, t, D)), 1e-5, "\(name): dx of sample \(b) at step \(t)")
      }
      for i in 0..<sumGrads.count { sumGrads[i] += one.arena.grads.pointer[i] }
    }
    for b in 0..<B {
      for t in Int(lengths[b])..<T {
        XCTAssertEqual(row(out, t * B + b, O), [Float](repeating: 0, count: O), "\(name): output past the length")
        XCTAssertEqual(row(dx, t * B + b, D), [Float](repeating: 0, count: D), "\(name): dx past the length")
      }
    }
    XCTAssertLessThan(
      maxDifference(grads, sumGrads), 1e-4, "\(name): parameter gradients = the sum over samples run alone")

    guard !bidirectional else { return }  // the padded reverse direction would run over the padding: not a reference
    // The fully padded run: every length T, dOut zero past each sample's length.
    let padded = RecurrentStackHarness(
      cell: cell, bidirectional: false, layers: 2, input: D, hidden: H, steps: T, batch: B)
    padded.arena.values.pointer.update(from: params, count: params.count)
    let full = [Int32](repeating: Int32(T), count: B)
    let outP = padded.forward(x, ldx: D, lengths: full)
    for b in 0..<B { for t in Int(lengths[b])..<T { for k in 0..<O { dOut[(t * B + b) * O + k] = 0 } } }
    let dxP = padded.backward(dOut, x: x, ldx: D, lengths: full)
    for b in 0..<B {
      for t in 0..<Int(lengths[b]) {
        XCTAssertLessThan(
          maxDifference(row(out, t * B + b, O), row(outP, t * B + b, O)), 1e-5, "\(name): padded output")
        XCTAssertLessThan(maxDifference(row(dx, t * B + b, D), row(dxP, t * B + b, D)), 1e-5, "\(name): padded dx")
      }
    }
    XCTAssertLessThan(
      maxDifference(grads, Array(UnsafeBufferPointer(start: padded.arena.grads.pointer, count: padded.arena.count))),
      1e-4,
      "\(name): parameter gradients = the padded run's")
  }

  /// Row r of a (rows, w) array.
  func row(_ a: [Float], _ r: Int, _ w: Int) -> [Float] { Array(a[(r * w)..<((r + 1) * w)]) }

  func maxDifference(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count)
    return zip(a, b).map { abs($0 - $1) }.max() ?? 0
  }
}
