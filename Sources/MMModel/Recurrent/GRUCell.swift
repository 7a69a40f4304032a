import MMTensor

// The GRU cell's point-wise step (PyTorch nn.GRU). Legend: B = batch rows of one step, H = hidden.
// The hidden projection stays apart from the input one because r gates only its n slice:
//     xg = x·W_ihᵀ + b_ih (B, 3H)        hg = h_{t-1}·W_hhᵀ + b_hh (B, 3H)
//     r = σ(xg_r + hg_r)    z = σ(xg_z + hg_z)    n = tanh(xg_n + r ⊙ hg_n)    h_t = (1 − z) ⊙ n + z ⊙ h_{t-1}

/// The three H-wide slices of one gate row (3H), in PyTorch's order r, z, n: the one place it is written.
@usableFromInline struct GRUGates {
  @usableFromInline let r, z, n: UnsafeMutablePointer<Float>
  @inline(__always) init(_ row: UnsafeMutablePointer<Float>, _ H: Int) { r = row; z = row + H; n = row + 2 * H }
}

/// Forward of one step.
///   in:  gates (B, 3H) = xg;  hg (B, 3H) (cached: backward needs hg_n);  hPrev (B, H)
///   out: gates (B, 3H) activated r, z, n in place (cached);  h (B, H)
func gruCellForward(
  h: UnsafeMutablePointer<Float>, gates: UnsafeMutablePointer<Float>,
  hg: UnsafeMutablePointer<Float>, hPrev: UnsafePointer<Float>, _ B: Int, _ H: Int
) {
  for b in 0..<B {
    let gt = GRUGates(gates + b * 3 * H, H), hgb = GRUGates(hg + b * 3 * H, H)
    let hp = hPrev + b * H, hb = h + b * H
    for j in 0..<2 * H { gt.r[j] += hgb.r[j] }  // r, z pre-activations: xg + hg
    Activations.sigmoid(gt.r, 2 * H)  // r, z
    for j in 0..<H { gt.n[j] += gt.r[j] * hgb.n[j] }  // xg_n + r ⊙ hg_n
    Activations.tanh(gt.n, H)  // n
    for j in 0..<H { hb[j] = (1 - gt.z[j]) * gt.n[j] + gt.z[j] * hp[j] }  // h_t = (1 − z) ⊙ n + z ⊙ h_{t-1}
  }
}

/// Backward of one step.
///   in:  dOut (B, H);  dh (B, H) = dL/dh_t through step t+1;  gates, hg, hPrev as cached by forward
///   out: dXg (B, 3H) gradient of xg (the input projection);  dHg (B, 3H) gradient of hg (the hidden one);
///        dh (B, H) overwritten with the direct part of dL/dh_{t-1}, z ⊙ dh_t (the layer adds dHg · W_hh)
func gruCellBackward(
  dXg: UnsafeMutablePointer<Float>, dHg: UnsafeMutablePointer<Float>, dh: UnsafeMutablePointer<Float>,
  dOut: UnsafePointer<Float>, gates: UnsafeMutablePointer<Float>, hg: UnsafeMutablePointer<Float>,
  hPrev: UnsafePointer<Float>, _ B: Int, _ H: Int
) {
  for b in 0..<B {
    let gt = GRUGates(gates + b * 3 * H, H), hgb = GRUGates(hg + b * 3 * H, H)
    let dx = GRUGates(dXg + b * 3 * H, H), dhg = GRUGates(dHg + b * 3 * H, H)
    let dhb = dh + b * H, dOutB = dOut + b * H, hp = hPrev + b * H
    for j in stride(from: 0, to: H, by: Lanes.width) {  // in vectors (Lanes): too many pointers for LLVM
      let c = min(Lanes.width, H - j)
      let r = Lanes.load(gt.r, j, c), z = Lanes.load(gt.z, j, c), n = Lanes.load(gt.n, j, c)
      let dht = Lanes.load(dhb, j, c) + Lanes.load(dOutB, j, c)  // h_t feeds the output and step t+1
      let dPreN = dht * (1 - z) * (1 - n * n)  // h_t = (1 − z) ⊙ n + z ⊙ h_{t-1}, n = tanh(.)
      let dPreZ = dht * (Lanes.load(hp, j, c) - n) * z * (1 - z)  // z = σ(.)
      let dPreR = dPreN * Lanes.load(hgb.n, j, c) * r * (1 - r)  // n = tanh(xg_n + r ⊙ hg_n), r = σ(.)
      Lanes.store(dPreR, dx.r, j, c); Lanes.store(dPreZ, dx.z, j, c); Lanes.store(dPreN, dx.n, j, c)
      Lanes.store(dPreR, dhg.r, j, c); Lanes.store(dPreZ, dhg.z, j, c); Lanes.store(dPreN * r, dhg.n, j, c)
      Lanes.store(dht * z, dhb, j, c)  // to h_{t-1} directly
    }
  }
}

/// nn.GRU's cell (`model.cell: gru`).
struct GRUCell: RecurrentCell {
  var name: String { "gru" }
  var module: String { "gru" }
  var displayName: String { "GRU" }
  var gateCount: Int { 3 }
  var extraParameters: [String] { [] }
  var hasCellState: Bool { false }
  var keepsHiddenProjectionApart: Bool { true }

  func forward(_ l: UnidirectionalLayer, _ s: StepRows) {
    let H = l.hidden, G = 3 * H, n = s.n, hPrev = l.previous(l.hOut.pointer, s.t)
    // hg_t (B_t, G) = b_hh + h_{t-1} (B_t, H) · W_hhᵀ   (h_{-1} = 0: b_hh alone at t = 0)
    let hgt = l.hg.pointer + s.r * G
    if s.t > 0 {
      l.packedWHh.multiply(m: n, a: hPrev, lda: H, accumulate: false, bias: l.bHh, c: hgt, ldc: G)
    } else {
      for b in 0..<n { (hgt + b * G).update(from: l.bHh, count: G) }
    }
    gruCellForward(h: l.hOut.pointer + s.r * H, gates: l.gates.pointer + s.r * G, hg: hgt, hPrev: hPrev, n, H)
  }

  func backward(_ l: UnidirectionalLayer, _ s: StepRows, dOut: UnsafePointer<Float>) {
    let H = l.hidden, G = 3 * H, n = s.n, dhp = l.dh.pointer
    let dhgt = l.hg.pointer + s.r * G  // dhg_t over hg_t
    gruCellBackward(
      dXg: l.gates.pointer + s.r * G, dHg: dhgt, dh: dhp, dOut: dOut, gates: l.gates.pointer + s.r * G, hg: dhgt,
      hPrev: l.previous(l.hOut.pointer, s.t), n, H)
    // dh_{t-1} (B_t, H) = z ⊙ dh_t (the cell wrote it) + dhg_t (B_t, G) · W_hh (G, H)   (dh_{-1} is not needed)
    if s.t > 0 { l.packedWHh.multiply(m: n, a: dhgt, lda: G, accumulate: true, c: dhp, ldc: H) }
    let dbh = l.dBias.pointer + G
    for row in 0..<n { let d = dhgt + row * G; for j in 0..<G { dbh[j] += d[j] } }  // db_hh: column sums of dhg
  }

  func accumulateExtraGradients(_ layer: UnidirectionalLayer, steps T: Int) {}
}

extension CellKind {
  public static let gru = CellKind(GRUCell())
}
