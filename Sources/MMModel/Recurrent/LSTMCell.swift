import MMTensor

// The LSTM cell's point-wise step (PyTorch nn.LSTM). Legend: B = batch rows of one step, H = hidden.

/// The four H-wide slices of one gate row (4H), in PyTorch's order i, f, g, o: the one place it is written.
@usableFromInline struct LSTMGates {
  @usableFromInline let i, f, g, o: UnsafeMutablePointer<Float>
  @inline(__always) init(_ row: UnsafeMutablePointer<Float>, _ H: Int) {
    i = row; f = row + H; g = row + 2 * H; o = row + 3 * H
  }
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
    Activations.sigmoid(gt.i, 2 * H)  // i, f
    Activations.tanh(gt.g, H)  // g
    Activations.sigmoid(gt.o, H)  // o
    let cp = cPrev + b * H, cb = c + b * H, tc = tanhC + b * H, hb = h + b * H
    for j in stride(from: 0, to: H, by: Lanes.width) {  // in vectors (Lanes): too many pointers for LLVM
      let n = min(Lanes.width, H - j)
      // c_t = f ⊙ c_{t-1} + i ⊙ g
      let cj = Lanes.load(gt.f, j, n) * Lanes.load(cp, j, n) + Lanes.load(gt.i, j, n) * Lanes.load(gt.g, j, n)
      Lanes.store(cj, cb, j, n)
      Lanes.store(cj, tc, j, n)
    }
    Activations.tanh(tc, H)
    for j in stride(from: 0, to: H, by: Lanes.width) {
      let n = min(Lanes.width, H - j)
      Lanes.store(Lanes.load(gt.o, j, n) * Lanes.load(tc, j, n), hb, j, n)  // h_t = o ⊙ tanh(c_t)
    }
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
    for j in stride(from: 0, to: H, by: Lanes.width) {  // in vectors (Lanes): too many pointers for LLVM
      let n = min(Lanes.width, H - j)
      let i = Lanes.load(gt.i, j, n), f = Lanes.load(gt.f, j, n), g = Lanes.load(gt.g, j, n), o = Lanes.load(gt.o, j, n)
      let tcj = Lanes.load(tc, j, n)
      let dh = Lanes.load(dhb, j, n) + Lanes.load(dOutB, j, n)  // h_t feeds the output and step t+1
      let dcj = Lanes.load(dcb, j, n) + dh * o * (1 - tcj * tcj)  // h_t = o ⊙ tanh(c_t)
      Lanes.store(dcj * g * i * (1 - i), dg.i, j, n)  // c_t = f ⊙ c_{t-1} + i ⊙ g, i = σ(.)
      Lanes.store(dcj * Lanes.load(cp, j, n) * f * (1 - f), dg.f, j, n)  // f = σ(.)
      Lanes.store(dcj * i * (1 - g * g), dg.g, j, n)  // g = tanh(.)
      Lanes.store(dh * tcj * o * (1 - o), dg.o, j, n)  // o = σ(.)
      Lanes.store(dcj * f, dcb, j, n)  // to c_{t-1}
    }
  }
}

/// nn.LSTM's cell (`model.cell: lstm`).
struct LSTMCell: RecurrentCell {
  var name: String { "lstm" }
  var module: String { "lstm" }
  var displayName: String { "LSTM" }
  var gateCount: Int { 4 }
  var extraParameters: [String] { [] }
  var hasCellState: Bool { true }
  var keepsHiddenProjectionApart: Bool { false }

  func forward(_ l: UnidirectionalLayer, _ s: StepRows) {
    let c = l.lstmCaches(s)
    l.addHiddenProjection(s)
    lstmCellForward(h: c.h, c: c.c, tanhC: c.tanhC, gates: c.gates, cPrev: c.cPrev, s.n, l.hidden)
  }

  func backward(_ l: UnidirectionalLayer, _ s: StepRows, dOut: UnsafePointer<Float>) {
    let c = l.lstmCaches(s)
    lstmCellBackward(
      dGates: c.gates, dc: l.dc.pointer, dOut: dOut, dhNext: l.dh.pointer, gates: c.gates, cPrev: c.cPrev,
      tanhC: c.tanhC, s.n, l.hidden)
    l.backpropagateGatesToHidden(s)
  }

  func accumulateExtraGradients(_ layer: UnidirectionalLayer, steps T: Int) {}
}

extension CellKind {
  public static let lstm = CellKind(LSTMCell())
}

/// Step t's rows of an LSTM layer's caches (the peephole cell's too).
struct LSTMStepCaches {
  let gates: UnsafeMutablePointer<Float>  // (n, 4H) pre-activations, then the activated gates; backward: dgates
  let h: UnsafeMutablePointer<Float>  // (n, H) h_t
  let c: UnsafeMutablePointer<Float>  // (n, H) c_t
  let cPrev: UnsafePointer<Float>  // (n, H) c_{t-1} (zeros at t = 0)
  let tanhC: UnsafeMutablePointer<Float>  // (n, H) tanh(c_t)
}

extension UnidirectionalLayer {
  @inline(__always) func lstmCaches(_ s: StepRows) -> LSTMStepCaches {
    let H = hidden, G = 4 * H
    return LSTMStepCaches(
      gates: gates.pointer + s.r * G, h: hOut.pointer + s.r * H, c: cOut.pointer + s.r * H,
      cPrev: previous(cOut.pointer, s.t), tanhC: tanhC.pointer + s.r * H)
  }

  /// gates_t (B_t, G) = (x_t·W_ihᵀ + h_{t-1} (B_t, H) · W_hhᵀ) + bias   (h_{-1} = 0: the bias alone at t = 0)
  @inline(__always) func addHiddenProjection(_ s: StepRows) {
    let H = hidden, G = 4 * H, gt = gates.pointer + s.r * G
    if s.t > 0 {
      packedWHh.multiply(
        m: s.n, a: previous(hOut.pointer, s.t), lda: H, accumulate: true, bias: bias.pointer, c: gt, ldc: G)
    } else {
      let bp = bias.pointer
      for b in 0..<s.n { let row = gt + b * G; for j in 0..<G { row[j] += bp[j] } }
    }
  }

  /// dh_{t-1} (B_t, H) = dgates_t (B_t, G) · W_hh (G, H)   (dh_{-1} is not needed)
  @inline(__always) func backpropagateGatesToHidden(_ s: StepRows) {
    let H = hidden, G = 4 * H
    if s.t > 0 {
      packedWHh.multiply(m: s.n, a: gates.pointer + s.r * G, lda: G, accumulate: false, c: dh.pointer, ldc: H)
    }
  }
}
