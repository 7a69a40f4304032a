import MMTensor

// The LSTM cell's point-wise step (PyTorch nn.LSTM). Legend: B = batch rows of one step, H = hidden.

/// The four H-wide slices of one gate row (4H), in PyTorch's order i, f, g, o: the one place it is written.
@usableFromInline struct LSTMGates {
  @usableFromInline let i, f, g, o: UnsafeMutablePointer<Float>
  @inline(__always) init(_ row: UnsafeMutablePointer<Float>, _ H: Int) { i = row; f = row + H; g = row + 2 * H; o = row + 3 * H }
}

/// Forward of one step.
///   in:  gates (B, 4H) pre-activations x·W_ihᵀ + b_ih + b_hh + h_{t-1}·W_hhᵀ;  cPrev (B, H) = c_{t-1}
///   out: gates (B, 4H) activated in place (cached: backward needs i, f, g, o);  c (B, H);
///        tanhC (B, H) (cached);  h (B, H)
///     i = σ(.)  f = σ(.)  g = tanh(.)  o = σ(.)      c_t = f ⊙ c_{t-1} + i ⊙ g      h_t = o ⊙ tanh(c_t)
func lstmCellForward(
  h: UnsafeMutablePointer<Float>, c: UnsafeMutablePointer<Float>, tanhC: UnsafeMutablePointer<Float>,
  gates: UnsafeMutablePointer<Float>, cPrev: UnsafePointer<Float>, _ B: Int, _ H: Int
) {
  for b in 0..<B {
    let gt = LSTMGates(gates + b * 4 * H, H)
    Activations.sigmoid(gt.i, 2 * H)     // i, f
    Activations.tanh(gt.g, H)            // g
    Activations.sigmoid(gt.o, H)         // o
    let cp = cPrev + b * H, cb = c + b * H, tc = tanhC + b * H, hb = h + b * H
    for j in 0..<H {
      let cj = gt.f[j] * cp[j] + gt.i[j] * gt.g[j]   // c_t = f ⊙ c_{t-1} + i ⊙ g
      cb[j] = cj
      tc[j] = cj
    }
    Activations.tanh(tc, H)
    for j in 0..<H { hb[j] = gt.o[j] * tc[j] }        // h_t = o ⊙ tanh(c_t)
  }
}

/// Backward of one step.
///   in:  dOut (B, H) gradient of the step's output;  dhNext (B, H) = dL/dh_t through step t+1;
///        dc (B, H) = dL/dc_t through step t+1;  gates, cPrev, tanhC as cached by forward
///   out: dGates (B, 4H) gradient of the pre-activations;  dc (B, H) overwritten with dL/dc_{t-1}
///   (dL/dh_{t-1} = dGates · W_hh is the layer's GEMM)
func lstmCellBackward(
  dGates: UnsafeMutablePointer<Float>, dc: UnsafeMutablePointer<Float>,
  dOut: UnsafePointer<Float>, dhNext: UnsafePointer<Float>,
  gates: UnsafeMutablePointer<Float>, cPrev: UnsafePointer<Float>, tanhC: UnsafePointer<Float>, _ B: Int, _ H: Int
) {
  for b in 0..<B {
    let gt = LSTMGates(gates + b * 4 * H, H), dg = LSTMGates(dGates + b * 4 * H, H)
    let dhb = dhNext + b * H, dOutB = dOut + b * H, dcb = dc + b * H, cp = cPrev + b * H, tc = tanhC + b * H
    for j in 0..<H {
      let i = gt.i[j], f = gt.f[j], g = gt.g[j], o = gt.o[j]
      let dh = dhb[j] + dOutB[j]                          // h_t feeds the output and step t+1
      let dcj = dcb[j] + dh * o * (1 - tc[j] * tc[j])     // h_t = o ⊙ tanh(c_t)
      dg.i[j] = dcj * g * i * (1 - i)                     // c_t = f ⊙ c_{t-1} + i ⊙ g, i = σ(.)
      dg.f[j] = dcj * cp[j] * f * (1 - f)                 // f = σ(.)
      dg.g[j] = dcj * i * (1 - g * g)                     // g = tanh(.)
      dg.o[j] = dh * tc[j] * o * (1 - o)                  // o = σ(.)
      dcb[j] = dcj * f                                    // to c_{t-1}
    }
  }
}
