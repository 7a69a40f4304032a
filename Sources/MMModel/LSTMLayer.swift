import Foundation
import MMTensor

/// A single-direction LSTM layer with PyTorch's semantics and parameter layout (`nn.LSTM`, layer k):
///
///     weight_ih_lk (4H, D)   weight_hh_lk (4H, H)   bias_ih_lk (4H)   bias_hh_lk (4H)
///
/// Gate order inside every 4H block is defined here only: i, f, g, o.
///
///     i = σ(x W_iᵀ + b_ii + h W_hiᵀ + b_hi)    f = σ(...)    g = tanh(...)    o = σ(...)
///     c_t = f ⊙ c_{t-1} + i ⊙ g                 h_t = o ⊙ tanh(c_t)
///
/// Legend: T = steps, B = batch, D = input features, H = hidden, G = 4H.
public final class LSTMLayer: RecurrentLayer {
  public static func parameterSpecs(prefix: String, layer k: Int, input D: Int, hidden H: Int) -> [(name: String, shape: [Int])] {
    [("\(prefix)weight_ih_l\(k)", [4 * H, D]), ("\(prefix)weight_hh_l\(k)", [4 * H, H]),
     ("\(prefix)bias_ih_l\(k)", [4 * H]), ("\(prefix)bias_hh_l\(k)", [4 * H])]
  }

  public let inputSize: Int, hidden: Int, maxSteps: Int, maxBatch: Int
  public var outputSize: Int { hidden }

  // Parameter and gradient views into the arena.
  let wIh, wHh, bIh, bHh: UnsafeMutablePointer<Float>      // (G, D) (G, H) (G) (G)
  let gWIh, gWHh, gBIh, gBHh: UnsafeMutablePointer<Float>

  // Forward caches (what backward needs), sized for (maxSteps, maxBatch).
  let gates: Buffer   // (T, B, G)   activated gates i, f, g, o
  let cells: Buffer   // (T+1, B, H) c_{-1} = 0, then c_0 ... c_{T-1}
  let tanhC: Buffer   // (T, B, H)   tanh(c_t)
  let hs: Buffer      // (T+1, B, H) h_{-1} = 0, then h_0 ... h_{T-1}; output = hs[1...]
  // Backward scratch.
  let dGates: Buffer  // (T, B, G)   gradient w.r.t. gate pre-activations
  let dh: Buffer      // (B, H)      dL/dh_t flowing backwards in time
  let dc: Buffer      // (B, H)      dL/dc_t flowing backwards in time

  public init(arena: ParameterArena, prefix: String, layer k: Int, input D: Int, hidden H: Int, maxSteps T: Int, maxBatch B: Int) {
    inputSize = D; hidden = H; maxSteps = T; maxBatch = B
    let names = LSTMLayer.parameterSpecs(prefix: prefix, layer: k, input: D, hidden: H).map(\.name)
    wIh = arena.value(names[0]); wHh = arena.value(names[1]); bIh = arena.value(names[2]); bHh = arena.value(names[3])
    gWIh = arena.grad(names[0]); gWHh = arena.grad(names[1]); gBIh = arena.grad(names[2]); gBHh = arena.grad(names[3])
    gates = Buffer(count: T * B * 4 * H)
    cells = Buffer(count: (T + 1) * B * H)
    tanhC = Buffer(count: T * B * H)
    hs = Buffer(count: (T + 1) * B * H)
    dGates = Buffer(count: T * B * 4 * H)
    dh = Buffer(count: B * H)
    dc = Buffer(count: B * H)
  }

  public func forward(_ x: UnsafePointer<Float>, ldx: Int, lengths: UnsafePointer<Int32>, steps T: Int, batch B: Int) -> UnsafePointer<Float> {
    precondition(T <= maxSteps && B <= maxBatch, "LSTM workspace is (\(maxSteps), \(maxBatch)); got (\(T), \(B))")
    let H = hidden, G = 4 * H, D = inputSize
    let gp = gates.pointer, cp = cells.pointer, tp = tanhC.pointer, hp = hs.pointer
    // Input projection of all steps at once: gates (T*B, G) = x (T*B, D) · W_ihᵀ, then + b_ih + b_hh.
    BLAS.gemm(transB: true, m: T * B, n: G, k: D, a: x, lda: ldx, b: wIh, ldb: D, beta: 0, c: gp, ldc: G)
    for row in 0..<(T * B) {
      let g = gp + row * G
      for j in 0..<G { g[j] += bIh[j] + bHh[j] }
    }
    cp.update(repeating: 0, count: B * H)
    hp.update(repeating: 0, count: B * H)
    for t in 0..<T {
      let gt = gp + t * B * G
      let hPrev = hp + t * B * H, hNext = hp + (t + 1) * B * H
      let cPrev = cp + t * B * H, cNext = cp + (t + 1) * B * H
      let tct = tp + t * B * H
      // gates_t (B, G) += h_{t-1} (B, H) · W_hhᵀ
      BLAS.gemm(transB: true, m: B, n: G, k: H, a: hPrev, lda: H, b: wHh, ldb: H, beta: 1, c: gt, ldc: G)
      for b in 0..<B {
        let g = gt + b * G
        Activations.sigmoid(g, 2 * H)          // i, f
        Activations.tanh(g + 2 * H, H)         // g
        Activations.sigmoid(g + 3 * H, H)      // o
        let i = g, f = g + H, gg = g + 2 * H, o = g + 3 * H
        let cp0 = cPrev + b * H, cn = cNext + b * H, tc = tct + b * H, hn = hNext + b * H
        for j in 0..<H {
          let c = f[j] * cp0[j] + i[j] * gg[j]   // c_t = f ⊙ c_{t-1} + i ⊙ g
          cn[j] = c
          tc[j] = c
        }
        Activations.tanh(tc, H)
        for j in 0..<H { hn[j] = o[j] * tc[j] }  // h_t = o ⊙ tanh(c_t)
      }
    }
    return UnsafePointer(hp + B * H)
  }

  public func backward(
    _ dOut: UnsafeMutablePointer<Float>, input x: UnsafePointer<Float>, ldx: Int, lengths: UnsafePointer<Int32>,
    dx: UnsafeMutablePointer<Float>?, steps T: Int, batch B: Int
  ) {
    let H = hidden, G = 4 * H, D = inputSize
    let gp = gates.pointer, cp = cells.pointer, tp = tanhC.pointer, dgp = dGates.pointer
    let dhp = dh.pointer, dcp = dc.pointer
    dhp.update(repeating: 0, count: B * H)
    dcp.update(repeating: 0, count: B * H)
    for t in stride(from: T - 1, through: 0, by: -1) {
      let gt = gp + t * B * G, dgt = dgp + t * B * G
      let cPrev = cp + t * B * H, tct = tp + t * B * H, dOutT = dOut + t * B * H
      for b in 0..<B {
        let g = gt + b * G, dg = dgt + b * G
        let i = g, f = g + H, gg = g + 2 * H, o = g + 3 * H
        let dhb = dhp + b * H, dcb = dcp + b * H, dOutB = dOutT + b * H
        let cpb = cPrev + b * H, tc = tct + b * H
        for j in 0..<H {
          let dhj = dhb[j] + dOutB[j]                                // h_t feeds the output and step t+1
          let dcj = dcb[j] + dhj * o[j] * (1 - tc[j] * tc[j])         // h_t = o ⊙ tanh(c_t)
          dg[j] = dcj * gg[j] * i[j] * (1 - i[j])                     // c_t = f ⊙ c_{t-1} + i ⊙ g, i = σ(.)
          dg[H + j] = dcj * cpb[j] * f[j] * (1 - f[j])                // f = σ(.)
          dg[2 * H + j] = dcj * i[j] * (1 - gg[j] * gg[j])            // g = tanh(.)
          dg[3 * H + j] = dhj * tc[j] * o[j] * (1 - o[j])             // o = σ(.)
          dcb[j] = dcj * f[j]                                         // to c_{t-1}
        }
      }
      // dh_{t-1} (B, H) = dgates_t (B, G) · W_hh (G, H)
      BLAS.gemm(m: B, n: H, k: G, a: dgt, lda: G, b: wHh, ldb: H, beta: 0, c: dhp, ldc: H)
    }
    // Weight gradients over all steps at once.
    // dW_ih (G, D) += dgatesᵀ (G, T*B) · x (T*B, D)
    BLAS.gemm(transA: true, m: G, n: D, k: T * B, a: dgp, lda: G, b: x, ldb: ldx, beta: 1, c: gWIh, ldc: D)
    // dW_hh (G, H) += dgatesᵀ (G, T*B) · h_{t-1} (T*B, H)
    BLAS.gemm(transA: true, m: G, n: H, k: T * B, a: dgp, lda: G, b: hs.pointer, ldb: H, beta: 1, c: gWHh, ldc: H)
    // db_ih (G) and db_hh (G) += column sums of dgates: both biases enter every pre-activation.
    for row in 0..<(T * B) {
      let dg = dgp + row * G
      for j in 0..<G {
        gBIh[j] += dg[j]
        gBHh[j] += dg[j]
      }
    }
    // dx (T*B, D) = dgates (T*B, G) · W_ih (G, D)
    if let dx {
      BLAS.gemm(m: T * B, n: D, k: G, a: dgp, lda: G, b: wIh, ldb: D, beta: 0, c: dx, ldc: D)
    }
  }
}
