import MMTensor

// The peephole LSTM cell's point-wise step (Gers & Schmidhuber, diagonal peepholes): i and f see c_{t-1},
// o sees c_t. PyTorch has no such module; Tests/Fixtures/make_cells_reference.py holds the reference.
// Legend: B = batch rows of one step, H = hidden; w_ci, w_cf, w_co (H) are weight_ci/cf/co_l{k}.

/// Forward of one step.
///   in:  gates (B, 4H) pre-activations x·W_ihᵀ + b_ih + b_hh + h_{t-1}·W_hhᵀ (no peepholes yet);
///        cPrev (B, H) = c_{t-1};  wci, wcf, wco (H)
///   out: gates (B, 4H) activated in place (cached);  c (B, H) (cached);  tanhC (B, H) (cached);  h (B, H)
///     i = σ(. + w_ci ⊙ c_{t-1})   f = σ(. + w_cf ⊙ c_{t-1})   g = tanh(.)   c_t = f ⊙ c_{t-1} + i ⊙ g
///     o = σ(. + w_co ⊙ c_t)       h_t = o ⊙ tanh(c_t)
func peepholeCellForward(
  h: UnsafeMutablePointer<Float>, c: UnsafeMutablePointer<Float>, tanhC: UnsafeMutablePointer<Float>,
  gates: UnsafeMutablePointer<Float>, cPrev: UnsafePointer<Float>,
  wci: UnsafePointer<Float>, wcf: UnsafePointer<Float>, wco: UnsafePointer<Float>, _ B: Int, _ H: Int
) {
  for b in 0..<B {
    let gt = LSTMGates(gates + b * 4 * H, H)
    let cp = cPrev + b * H, cb = c + b * H, tc = tanhC + b * H, hb = h + b * H
    for j in 0..<H {
      gt.i[j] += wci[j] * cp[j]
      gt.f[j] += wcf[j] * cp[j]
    }
    Activations.sigmoid(gt.i, 2 * H)  // i, f
    Activations.tanh(gt.g, H)  // g
    for j in 0..<H {
      let cj = gt.f[j] * cp[j] + gt.i[j] * gt.g[j]  // c_t = f ⊙ c_{t-1} + i ⊙ g
      cb[j] = cj
      tc[j] = cj
      gt.o[j] += wco[j] * cj
    }
    Activations.sigmoid(gt.o, H)  // o = σ(. + w_co ⊙ c_t)
    Activations.tanh(tc, H)
    for j in 0..<H { hb[j] = gt.o[j] * tc[j] }  // h_t = o ⊙ tanh(c_t)
  }
}

/// Backward of one step.
///   in:  dOut (B, H);  dhNext (B, H) = dL/dh_t through step t+1;  dc (B, H) = dL/dc_t through step t+1;
///        gates, cPrev, tanhC as cached by forward;  wci, wcf, wco (H)
///   out: dGates (B, 4H) gradient of the pre-activations;  dc (B, H) overwritten with dL/dc_{t-1}
///   (the peephole weights' gradients are `peepholeWeightGradients`, after the time loop)
func peepholeCellBackward(
  dGates: UnsafeMutablePointer<Float>, dc: UnsafeMutablePointer<Float>,
  dOut: UnsafePointer<Float>, dhNext: UnsafePointer<Float>,
  gates: UnsafeMutablePointer<Float>, cPrev: UnsafePointer<Float>, tanhC: UnsafePointer<Float>,
  wci: UnsafePointer<Float>, wcf: UnsafePointer<Float>, wco: UnsafePointer<Float>, _ B: Int, _ H: Int
) {
  for b in 0..<B {
    let gt = LSTMGates(gates + b * 4 * H, H), dg = LSTMGates(dGates + b * 4 * H, H)
    let dhb = dhNext + b * H, dOutB = dOut + b * H, dcb = dc + b * H, cp = cPrev + b * H, tc = tanhC + b * H
    for j in stride(from: 0, to: H, by: Lanes.width) {  // in vectors (Lanes): too many pointers for LLVM
      let n = min(Lanes.width, H - j)
      let i = Lanes.load(gt.i, j, n), f = Lanes.load(gt.f, j, n), g = Lanes.load(gt.g, j, n), o = Lanes.load(gt.o, j, n)
      let tcj = Lanes.load(tc, j, n)
      let dh = Lanes.load(dhb, j, n) + Lanes.load(dOutB, j, n)  // h_t feeds the output and step t+1
      let dPreO = dh * tcj * o * (1 - o)  // h_t = o ⊙ tanh(c_t), o = σ(.)
      let dcj = Lanes.load(dcb, j, n) + dh * o * (1 - tcj * tcj) + dPreO * Lanes.load(wco, j, n)  // ... and o sees c_t
      let dPreI = dcj * g * i * (1 - i)  // c_t = f ⊙ c_{t-1} + i ⊙ g
      let dPreF = dcj * Lanes.load(cp, j, n) * f * (1 - f)
      Lanes.store(dPreI, dg.i, j, n)
      Lanes.store(dPreF, dg.f, j, n)
      Lanes.store(dcj * i * (1 - g * g), dg.g, j, n)  // g = tanh(.)
      Lanes.store(dPreO, dg.o, j, n)
      // to c_{t-1}, directly and through i, f
      Lanes.store(dcj * f + dPreI * Lanes.load(wci, j, n) + dPreF * Lanes.load(wcf, j, n), dcb, j, n)
    }
  }
}

/// The peephole weights' gradients over all steps at once (after the time loop).
///   in:  dGates (N, 4H) pre-activation gradients of N rows;  cPrev, c (N, H): c_{t-1} and c_t of each row
///   out: dwci, dwcf, dwco (H) +=  Σ_r dI ⊙ c_{t-1},  Σ_r dF ⊙ c_{t-1},  Σ_r dO ⊙ c_t
func peepholeWeightGradients(
  dwci: UnsafeMutablePointer<Float>, dwcf: UnsafeMutablePointer<Float>, dwco: UnsafeMutablePointer<Float>,
  dGates: UnsafeMutablePointer<Float>, cPrev: UnsafePointer<Float>, c: UnsafePointer<Float>, _ N: Int, _ H: Int
) {
  for r in 0..<N {
    let dg = LSTMGates(dGates + r * 4 * H, H), cp = cPrev + r * H, cn = c + r * H
    for j in 0..<H {
      dwci[j] += dg.i[j] * cp[j]
      dwcf[j] += dg.f[j] * cp[j]
      dwco[j] += dg.o[j] * cn[j]
    }
  }
}

/// The LSTM with diagonal peepholes (`model.cell: lstm_peephole`); its tensors live under "lstm." as nn.LSTM's.
struct PeepholeLSTMCell: RecurrentCell {
  var name: String { "lstm_peephole" }
  var module: String { "lstm" }
  var displayName: String { "peephole LSTM" }
  var gateCount: Int { 4 }
  var extraParameters: [String] { ["weight_ci", "weight_cf", "weight_co"] }
  var hasCellState: Bool { true }
  var keepsHiddenProjectionApart: Bool { false }

  func forward(_ l: UnidirectionalLayer, _ s: StepRows) {
    let c = l.lstmCaches(s), w = l.extras
    l.addHiddenProjection(s)
    peepholeCellForward(
      h: c.h, c: c.c, tanhC: c.tanhC, gates: c.gates, cPrev: c.cPrev, wci: w[0], wcf: w[1], wco: w[2], s.n, l.hidden)
  }

  func backward(_ l: UnidirectionalLayer, _ s: StepRows, dOut: UnsafePointer<Float>) {
    let c = l.lstmCaches(s), w = l.extras
    peepholeCellBackward(
      dGates: c.gates, dc: l.dc.pointer, dOut: dOut, dhNext: l.dh.pointer, gates: c.gates, cPrev: c.cPrev,
      tanhC: c.tanhC, wci: w[0], wcf: w[1], wco: w[2], s.n, l.hidden)
    l.backpropagateGatesToHidden(s)
  }

  func accumulateExtraGradients(_ l: UnidirectionalLayer, steps T: Int) {
    let H = l.hidden, G = 4 * H, g = l.gExtras, cop = l.cOut.pointer
    for t in 0..<T where l.active[t] > 0 {
      let n = l.active[t], r = l.offsets[t]
      peepholeWeightGradients(
        dwci: g[0], dwcf: g[1], dwco: g[2], dGates: l.gates.pointer + r * G, cPrev: l.previous(cop, t), c: cop + r * H,
        n, H)
    }
  }
}

extension CellKind {
  public static let lstm_peephole = CellKind(PeepholeLSTMCell())
}
