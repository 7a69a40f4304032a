import MMTensor

/// One direction of a recurrent layer: it owns the input and hidden projections, the time loop and the
/// weight-gradient GEMMs; the cell (Cell.swift) supplies the gate width, its extra vectors and the point-wise step.
///
///     weight_ih (G, D)   weight_hh (G, H)   bias_ih (G)   bias_hh (G)   [cell extras (H) ...]
///
/// `reversed` (used by BidirectionalLayer): sample b with length L runs its valid steps back to front, as
/// pack_padded_sequence does: step s reads input step L-1-s, and output row s is that step's hidden state,
/// so the output is in the direction's own time. Rows s >= L run on the padding and are never read.
///
/// Legend: T = steps, B = batch, D = input features, H = hidden, G = gate width (4H LSTM, 3H GRU).
public final class UnidirectionalLayer: RecurrentLayer {
  public let cell: CellKind
  public let inputSize: Int, hidden: Int, maxSteps: Int, maxBatch: Int
  public let reversed: Bool
  public var outputSize: Int { hidden }

  // Parameter and gradient views into the arena.
  let wIh, wHh, bIh, bHh: UnsafeMutablePointer<Float>      // (G, D) (G, H) (G) (G)
  let gWIh, gWHh, gBIh, gBHh: UnsafeMutablePointer<Float>
  let extras, gExtras: [UnsafeMutablePointer<Float>]       // the cell's (H) vectors: peephole w_ci, w_cf, w_co

  // Forward caches (what backward needs), sized for (maxSteps, maxBatch).
  let gates: Buffer   // (T, B, G)    input projection + biases, then the activated gates (in place)
  let hg: Buffer      // (T, B, G)    GRU only: h_{t-1}·W_hhᵀ + b_hh
  let cells: Buffer   // (T+1, B, H)  LSTMs only: c_{-1} = 0, then c_0 ... c_{T-1}
  let tanhC: Buffer   // (T, B, H)    LSTMs only: tanh(c_t)
  let hs: Buffer      // (T+1, B, H)  h_{-1} = 0, then h_0 ... h_{T-1}; the output is hs[1...]
  // Backward scratch.
  let dGates: Buffer  // (T, B, G)    gradient of the input projection's pre-activations (= of the hidden one for LSTMs)
  let dHg: Buffer     // (T, B, G)    GRU only: gradient of hg
  let dh: Buffer      // (B, H)       dL/dh_t flowing backwards in time
  let dc: Buffer      // (B, H)       LSTMs only: dL/dc_t flowing backwards in time

  public init(cell: CellKind, arena: ParameterArena, names: RecurrentParameterNames, input D: Int, hidden H: Int,
              maxSteps T: Int, maxBatch B: Int, reversed: Bool = false) {
    self.cell = cell; inputSize = D; hidden = H; maxSteps = T; maxBatch = B; self.reversed = reversed
    let G = cell.gateCount * H
    for (name, shape) in [(names.weightIH, [G, D]), (names.weightHH, [G, H]), (names.biasIH, [G]), (names.biasHH, [G])] + names.extras.map({ ($0, [H]) }) {
      precondition(arena.tensor(name).shape == shape, "\(name): arena shape \(arena.tensor(name).shape), layer expects \(shape)")
    }
    wIh = arena.value(names.weightIH); wHh = arena.value(names.weightHH)
    bIh = arena.value(names.biasIH); bHh = arena.value(names.biasHH)
    gWIh = arena.grad(names.weightIH); gWHh = arena.grad(names.weightHH)
    gBIh = arena.grad(names.biasIH); gBHh = arena.grad(names.biasHH)
    extras = names.extras.map { arena.value($0) }
    gExtras = names.extras.map { arena.grad($0) }
    let apart = cell.keepsHiddenProjectionApart, lstm = cell.hasCellState
    gates = Buffer(count: T * B * G)
    hg = Buffer(count: apart ? T * B * G : 0)
    cells = Buffer(count: lstm ? (T + 1) * B * H : 0)
    tanhC = Buffer(count: lstm ? T * B * H : 0)
    hs = Buffer(count: (T + 1) * B * H)
    dGates = Buffer(count: T * B * G)
    dHg = Buffer(count: apart ? T * B * G : 0)
    dh = Buffer(count: B * H)
    dc = Buffer(count: lstm ? B * H : 0)
  }

  public func forward(_ x: UnsafePointer<Float>, ldx: Int, lengths: UnsafePointer<Int32>, steps T: Int, batch B: Int) -> UnsafePointer<Float> {
    precondition(T <= maxSteps && B <= maxBatch, "recurrent workspace is (\(maxSteps), \(maxBatch)); got (\(T), \(B))")
    precondition(ldx >= inputSize, "ldx \(ldx) < input size \(inputSize)")
    for b in 0..<B { precondition(lengths[b] >= 0 && Int(lengths[b]) <= T, "length \(lengths[b]) of sample \(b) outside 0...\(T)") }
    let H = hidden, G = cell.gateCount * H, D = inputSize
    let gp = gates.pointer, hp = hs.pointer
    // Input projection of all steps at once: gates (T*B, G) = x (T*B, D; row stride ldx) · W_ihᵀ, then the biases:
    // both for the LSTMs, b_ih only for GRU (b_hh goes with the hidden projection).
    BLAS.gemm(transB: true, m: T * B, n: G, k: D, a: x, lda: ldx, b: wIh, ldb: D, beta: 0, c: gp, ldc: G)
    if cell.keepsHiddenProjectionApart {
      for row in 0..<(T * B) {
        let g = gp + row * G
        for j in 0..<G { g[j] += bIh[j] }
      }
    } else {
      for row in 0..<(T * B) {
        let g = gp + row * G
        for j in 0..<G { g[j] += bIh[j] + bHh[j] }
      }
    }
    if reversed { reverseWithinLengths(gp, lengths, G, T, B) }   // to the direction's own time
    hp.update(repeating: 0, count: B * H)
    if cell.hasCellState { cells.pointer.update(repeating: 0, count: B * H) }
    for t in 0..<T {
      let gt = gp + t * B * G, hPrev = hp + t * B * H, hNext = hp + (t + 1) * B * H
      switch cell {
      case .lstm, .lstm_peephole:
        let cPrev = cells.pointer + t * B * H, cNext = cells.pointer + (t + 1) * B * H, tct = tanhC.pointer + t * B * H
        // gates_t (B, G) += h_{t-1} (B, H) · W_hhᵀ   (h_{-1} = 0: nothing to add at t = 0)
        if t > 0 { BLAS.gemm(transB: true, m: B, n: G, k: H, a: hPrev, lda: H, b: wHh, ldb: H, beta: 1, c: gt, ldc: G) }
        if cell == .lstm {
          lstmCellForward(h: hNext, c: cNext, tanhC: tct, gates: gt, cPrev: cPrev, B, H)
        } else {
          peepholeCellForward(h: hNext, c: cNext, tanhC: tct, gates: gt, cPrev: cPrev, wci: extras[0], wcf: extras[1], wco: extras[2], B, H)
        }
      case .gru:
        // hg_t (B, G) = h_{t-1} (B, H) · W_hhᵀ + b_hh   (h_{-1} = 0: b_hh alone at t = 0)
        let hgt = hg.pointer + t * B * G
        for b in 0..<B { (hgt + b * G).update(from: bHh, count: G) }
        if t > 0 { BLAS.gemm(transB: true, m: B, n: G, k: H, a: hPrev, lda: H, b: wHh, ldb: H, beta: 1, c: hgt, ldc: G) }
        gruCellForward(h: hNext, gates: gt, hg: hgt, hPrev: hPrev, B, H)
      }
    }
    return UnsafePointer(hp + B * H)
  }

  public func backward(_ dOut: UnsafeMutablePointer<Float>, input x: UnsafePointer<Float>, ldx: Int,
                       lengths: UnsafePointer<Int32>, dx: UnsafeMutablePointer<Float>?, steps T: Int, batch B: Int) {
    backward(dOut, input: x, ldx: ldx, lengths: lengths, dx: dx, accumulateDx: false, steps: T, batch: B)
  }

  /// As the protocol's backward; `accumulateDx` adds into dx instead (the reverse half of a bidirectional layer).
  func backward(_ dOut: UnsafeMutablePointer<Float>, input x: UnsafePointer<Float>, ldx: Int,
                lengths: UnsafePointer<Int32>, dx: UnsafeMutablePointer<Float>?, accumulateDx: Bool, steps T: Int, batch B: Int) {
    let H = hidden, G = cell.gateCount * H, D = inputSize
    let gp = gates.pointer, hp = hs.pointer, dgp = dGates.pointer, dhp = dh.pointer
    // Outputs past a sample's length are never read: their gradient is zero, whatever dOut holds there.
    for b in 0..<B {
      for t in Int(lengths[b])..<T { (dOut + (t * B + b) * H).update(repeating: 0, count: H) }
    }
    dhp.update(repeating: 0, count: B * H)
    if cell.hasCellState { dc.pointer.update(repeating: 0, count: B * H) }
    for t in stride(from: T - 1, through: 0, by: -1) {
      let gt = gp + t * B * G, dgt = dgp + t * B * G, dOutT = dOut + t * B * H, hPrev = hp + t * B * H
      switch cell {
      case .lstm, .lstm_peephole:
        let cPrev = cells.pointer + t * B * H, tct = tanhC.pointer + t * B * H
        if cell == .lstm {
          lstmCellBackward(dGates: dgt, dc: dc.pointer, dOut: dOutT, dhNext: dhp, gates: gt, cPrev: cPrev, tanhC: tct, B, H)
        } else {
          peepholeCellBackward(dGates: dgt, dc: dc.pointer, dOut: dOutT, dhNext: dhp, gates: gt, cPrev: cPrev, tanhC: tct,
                               wci: extras[0], wcf: extras[1], wco: extras[2], B, H)
        }
        // dh_{t-1} (B, H) = dgates_t (B, G) · W_hh (G, H)   (dh_{-1} is not needed)
        if t > 0 { BLAS.gemm(m: B, n: H, k: G, a: dgt, lda: G, b: wHh, ldb: H, beta: 0, c: dhp, ldc: H) }
      case .gru:
        let dhgt = dHg.pointer + t * B * G
        gruCellBackward(dXg: dgt, dHg: dhgt, dh: dhp, dOut: dOutT, gates: gt, hg: hg.pointer + t * B * G, hPrev: hPrev, B, H)
        // dh_{t-1} (B, H) = z ⊙ dh_t (the cell wrote it) + dhg_t (B, G) · W_hh (G, H)   (dh_{-1} is not needed)
        if t > 0 { BLAS.gemm(m: B, n: H, k: G, a: dhgt, lda: G, b: wHh, ldb: H, beta: 1, c: dhp, ldc: H) }
      }
    }
    // Weight gradients over all steps at once. First those paired with the direction's own time:
    // dW_hh (G, H) += dhiddenᵀ (G, T*B) · h_{t-1} (T*B, H), where dhidden is dgates (LSTMs) or dhg (GRU).
    let dHidden = cell.keepsHiddenProjectionApart ? dHg.pointer : dgp
    BLAS.gemm(transA: true, m: G, n: H, k: T * B, a: dHidden, lda: G, b: hp, ldb: H, beta: 1, c: gWHh, ldc: H)
    // db_ih (G) += column sums of dgates;  db_hh (G) += column sums of dhidden.
    if cell.keepsHiddenProjectionApart {
      for row in 0..<(T * B) {
        let dg = dgp + row * G, dhg = dHidden + row * G
        for j in 0..<G {
          gBIh[j] += dg[j]
          gBHh[j] += dhg[j]
        }
      }
    } else {
      for row in 0..<(T * B) {
        let dg = dgp + row * G
        for j in 0..<G {
          gBIh[j] += dg[j]
          gBHh[j] += dg[j]
        }
      }
    }
    if cell == .lstm_peephole {
      peepholeWeightGradients(dwci: gExtras[0], dwcf: gExtras[1], dwco: gExtras[2], dGates: dgp, cells: cells.pointer, T * B, B, H)
    }
    // Then those paired with the input, in input time.
    if reversed { reverseWithinLengths(dgp, lengths, G, T, B) }
    // dW_ih (G, D) += dgatesᵀ (G, T*B) · x (T*B, D; row stride ldx)
    BLAS.gemm(transA: true, m: G, n: D, k: T * B, a: dgp, lda: G, b: x, ldb: ldx, beta: 1, c: gWIh, ldc: D)
    // dx (T*B, D) (+)= dgates (T*B, G) · W_ih (G, D)
    if let dx {
      BLAS.gemm(m: T * B, n: D, k: G, a: dgp, lda: G, b: wIh, ldb: D, beta: accumulateDx ? 1 : 0, c: dx, ldc: D)
    }
  }
}
