import MMTensor

/// One direction of a recurrent layer: it owns the input and hidden projections, the time loop and the
/// weight-gradient GEMMs; the cell (Cell.swift) supplies the gate width, its extra vectors and the point-wise step.
///
///     weight_ih (G, D)   weight_hh (G, H)   bias_ih (G)   bias_hh (G)   [cell extras (H) ...]
///
/// Padded steps are skipped, as pack_padded_sequence does: the batch is ordered by length (longest first,
/// `perm`), and step t runs only the B_t samples still going, which are the first B_t of that order. Every
/// cache is packed: step t's rows are rows offsets[t] ..< offsets[t] + B_t, N = Σ_b L_b rows in all, so the
/// input projection, dW_ih and dx are single GEMMs over the N valid rows only and each step's GEMM has B_t
/// rows. The output is unpacked to (T, B, H), zero at steps >= L.
///
/// `reversed` (used by BidirectionalLayer): sample b with length L runs its valid steps back to front: step s
/// reads input step L-1-s, and output row s is that step's hidden state, so the output is in the
/// direction's own time.
///
/// Legend: T = steps, B = batch, D = input features, H = hidden, G = gate width (4H LSTM, 3H GRU), N = Σ lengths.
public final class UnidirectionalLayer: RecurrentLayer {
  public let cell: CellKind
  public let inputSize: Int, hidden: Int, maxSteps: Int, maxBatch: Int
  public let reversed: Bool
  public var outputSize: Int { hidden }

  // Parameter and gradient views into the arena.
  let wIh, wHh, bIh, bHh: UnsafeMutablePointer<Float>      // (G, D) (G, H) (G) (G)
  let gWIh, gWHh, gBIh, gBHh: UnsafeMutablePointer<Float>
  let extras, gExtras: [UnsafeMutablePointer<Float>]       // the cell's (H) vectors: peephole w_ci, w_cf, w_co

  // The packing of the last forward.
  let perm: UnsafeMutablePointer<Int>       // (B)    samples by length, longest first (stable)
  let active: UnsafeMutablePointer<Int>     // (T+1)  B_t: samples with L > t (B_T = 0)
  let offsets: UnsafeMutablePointer<Int>    // (T+1)  first packed row of step t; offsets[T] = N
  let sortedLengths: UnsafeMutablePointer<Int>  // (B) lengths in perm order
  /// No padding and forward in time: the packed layout is the time-major one (perm is the identity), so x,
  /// dOut and dx are used in place and the output is hOut itself (no gather, scatter or zero fill).
  var dense = false
  // Forward caches (what backward needs), packed: N <= T·B rows.
  let xs: Buffer      // (N, D)   the input rows, gathered in step order (backward: reused for dx)
  let bias: Buffer    // (G)      b_ih + b_hh (LSTMs) or b_ih (GRU): the GEMM's pre-broadcast C
  let packedWHhT: PackedMatrix  // (H, G)  W_hhᵀ packed for the steps' products, by every forward (see there)
  let packedWHh: PackedMatrix   // (G, H)  W_hh packed for the steps' backward products, by every backward
  let gates: Buffer   // (N, G)   input projection + biases, then the activated gates (in place)
  let hg: Buffer      // (N, G)   GRU only: h_{t-1}·W_hhᵀ + b_hh
  let hPrev: Buffer   // (N, H)   h_{t-1} of each row (0 at t = 0): the hidden GEMM's input
  let hOut: Buffer    // (N, H)   h_t
  let cPrev: Buffer   // (N, H)   LSTMs only: c_{t-1} (0 at t = 0)
  let cOut: Buffer    // (N, H)   LSTMs only: c_t
  let tanhC: Buffer   // (N, H)   LSTMs only: tanh(c_t)
  let output: Buffer  // (T, B, H) h_t unpacked, zero at t >= L
  // Backward scratch.
  let dOutP: Buffer   // (N, H)   dOut packed
  let dGates: Buffer  // (N, G)   gradient of the input projection's pre-activations (= of the hidden one for LSTMs)
  let dHg: Buffer     // (N, G)   GRU only: gradient of hg
  let dBias: Buffer   // (2, G)   column sums of dgates and of dhg (GRU), gathered step by step while hot
  let dh: Buffer      // (B, H)   dL/dh_t flowing backwards in time (perm order)
  let dc: Buffer      // (B, H)   LSTMs only: dL/dc_t flowing backwards in time

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
    perm = .allocate(capacity: B); perm.initialize(repeating: 0, count: B)
    sortedLengths = .allocate(capacity: B); sortedLengths.initialize(repeating: 0, count: B)
    active = .allocate(capacity: T + 1); active.initialize(repeating: 0, count: T + 1)
    offsets = .allocate(capacity: T + 1); offsets.initialize(repeating: 0, count: T + 1)
    let apart = cell.keepsHiddenProjectionApart, lstm = cell.hasCellState, N = T * B
    xs = Buffer(count: N * D)
    bias = Buffer(count: G)
    packedWHhT = PackedMatrix(k: H, n: G)
    packedWHh = PackedMatrix(k: G, n: H)
    gates = Buffer(count: N * G)
    hg = Buffer(count: apart ? N * G : 0)
    hPrev = Buffer(count: N * H)
    hOut = Buffer(count: N * H)
    cPrev = Buffer(count: lstm ? N * H : 0)
    cOut = Buffer(count: lstm ? N * H : 0)
    tanhC = Buffer(count: lstm ? N * H : 0)
    output = Buffer(count: N * H)
    dOutP = Buffer(count: N * H)
    dGates = Buffer(count: N * G)
    dHg = Buffer(count: apart ? N * G : 0)
    dBias = Buffer(count: 2 * G)
    dh = Buffer(count: B * H)
    dc = Buffer(count: lstm ? B * H : 0)
  }

  deinit { perm.deallocate(); sortedLengths.deallocate(); active.deallocate(); offsets.deallocate() }

  /// perm, B_t and offsets for these lengths. Insertion sort (B is a batch): no allocation.
  func pack(_ lengths: UnsafePointer<Int32>, _ T: Int, _ B: Int) {
    for b in 0..<B {
      let L = Int(lengths[b])
      var k = b
      while k > 0 && sortedLengths[k - 1] < L { perm[k] = perm[k - 1]; sortedLengths[k] = sortedLengths[k - 1]; k -= 1 }
      perm[k] = b; sortedLengths[k] = L
    }
    var n = B, row = 0
    for t in 0...T {
      while n > 0 && sortedLengths[n - 1] <= t { n -= 1 }
      active[t] = t < T ? n : 0
      offsets[t] = row
      if t < T { row += n }
    }
    dense = row == T * B && !reversed
  }

  /// The input step that packed step t of sample perm[j] reads.
  @inline(__always) func inputStep(_ t: Int, _ j: Int) -> Int { reversed ? sortedLengths[j] - 1 - t : t }

  public func forward(_ x: UnsafePointer<Float>, ldx: Int, lengths: UnsafePointer<Int32>, steps T: Int, batch B: Int) -> UnsafePointer<Float> {
    precondition(T <= maxSteps && B <= maxBatch, "recurrent workspace is (\(maxSteps), \(maxBatch)); got (\(T), \(B))")
    precondition(ldx >= inputSize, "ldx \(ldx) < input size \(inputSize)")
    for b in 0..<B { precondition(lengths[b] >= 0 && Int(lengths[b]) <= T, "length \(lengths[b]) of sample \(b) outside 0...\(T)") }
    let H = hidden, G = cell.gateCount * H, D = inputSize
    pack(lengths, T, B)
    let N = offsets[T]
    let gp = gates.pointer, hpp = hPrev.pointer, hop = hOut.pointer
    // The valid input rows in step order: xs (N, D) gathered, or x itself (row stride ldx) when dense.
    let xp = dense ? x : UnsafePointer(xs.pointer), ldxp = dense ? ldx : D
    if !dense {
      for t in 0..<T {
        for j in 0..<active[t] {
          (xs.pointer + (offsets[t] + j) * D).update(from: x + (inputStep(t, j) * B + perm[j]) * ldx, count: D)
        }
      }
    }
    // Input projection of every valid row at once, the biases folded in as the GEMM's C (beta = 1):
    // gates (N, G) = bias + xs (N, D) · W_ihᵀ, bias = b_ih + b_hh for the LSTMs, b_ih for GRU (b_hh goes with hg).
    let apart = cell.keepsHiddenProjectionApart
    for j in 0..<G { bias[j] = apart ? bIh[j] : bIh[j] + bHh[j] }
    for r in 0..<N { (gp + r * G).update(from: bias.pointer, count: G) }
    BLAS.gemm(transB: true, m: N, n: G, k: D, a: xp, lda: ldxp, b: wIh, ldb: D, beta: 1, c: gp, ldc: G)
    // W_hhᵀ (H, G) packed once per forward: each step's h_{t-1} (B_t, H) · W_hhᵀ is then the micro-kernel alone
    // (PackedMatrix), where OpenBLAS would re-pack W_hh on every step.
    packedWHhT.pack(wHh, ld: H, transposed: true)
    for t in 0..<T where active[t] > 0 {
      let n = active[t], r = offsets[t]
      let gt = gp + r * G, hPrevT = hpp + r * H, hNext = hop + r * H
      if t == 0 { hPrevT.update(repeating: 0, count: n * H) }
      switch cell {
      case .lstm, .lstm_peephole:
        let cPrevT = cPrev.pointer + r * H, cNext = cOut.pointer + r * H, tct = tanhC.pointer + r * H
        if t == 0 { cPrevT.update(repeating: 0, count: n * H) }
        // gates_t (B_t, G) += h_{t-1} (B_t, H) · W_hhᵀ   (h_{-1} = 0: nothing to add at t = 0)
        if t > 0 { packedWHhT.multiply(m: n, a: hPrevT, lda: H, accumulate: true, c: gt, ldc: G) }
        if cell == .lstm {
          lstmCellForward(h: hNext, c: cNext, tanhC: tct, gates: gt, cPrev: cPrevT, n, H)
        } else {
          peepholeCellForward(h: hNext, c: cNext, tanhC: tct, gates: gt, cPrev: cPrevT, wci: extras[0], wcf: extras[1], wco: extras[2], n, H)
        }
        if t + 1 < T { (cPrev.pointer + offsets[t + 1] * H).update(from: cNext, count: active[t + 1] * H) }
      case .gru:
        // hg_t (B_t, G) = b_hh + h_{t-1} (B_t, H) · W_hhᵀ   (h_{-1} = 0: b_hh alone at t = 0)
        let hgt = hg.pointer + r * G
        for b in 0..<n { (hgt + b * G).update(from: bHh, count: G) }
        if t > 0 { packedWHhT.multiply(m: n, a: hPrevT, lda: H, accumulate: true, c: hgt, ldc: G) }
        gruCellForward(h: hNext, gates: gt, hg: hgt, hPrev: hPrevT, n, H)
      }
      // The samples still going at t+1 are the first B_{t+1}: their h_t is the next step's h_{t-1}.
      if t + 1 < T { (hpp + offsets[t + 1] * H).update(from: hNext, count: active[t + 1] * H) }
    }
    if dense { return UnsafePointer(hop) }
    // Unpack: output (T, B, H), zero past each length.
    let out = output.pointer
    out.update(repeating: 0, count: T * B * H)
    for t in 0..<T {
      for j in 0..<active[t] { (out + (t * B + perm[j]) * H).update(from: hop + (offsets[t] + j) * H, count: H) }
    }
    return UnsafePointer(out)
  }

  public func backward(_ dOut: UnsafeMutablePointer<Float>, input x: UnsafePointer<Float>, ldx: Int,
                       lengths: UnsafePointer<Int32>, dx: UnsafeMutablePointer<Float>?, steps T: Int, batch B: Int) {
    backward(dOut, input: x, ldx: ldx, lengths: lengths, dx: dx, accumulateDx: false, steps: T, batch: B)
  }

  /// As the protocol's backward; `accumulateDx` adds into dx instead (the reverse half of a bidirectional layer).
  /// Uses the packing of the last forward (same lengths).
  func backward(_ dOut: UnsafeMutablePointer<Float>, input x: UnsafePointer<Float>, ldx: Int,
                lengths: UnsafePointer<Int32>, dx: UnsafeMutablePointer<Float>?, accumulateDx: Bool, steps T: Int, batch B: Int) {
    let H = hidden, G = cell.gateCount * H, D = inputSize, N = offsets[T]
    let gp = gates.pointer, dgp = dGates.pointer, dhp = dh.pointer, hpp = hPrev.pointer
    // Only the valid rows of dOut matter (those past a length are never read): pack them (dense: as they are).
    let dop = dense ? dOut : dOutP.pointer
    if !dense {
      for t in 0..<T {
        for j in 0..<active[t] { (dop + (offsets[t] + j) * H).update(from: dOut + (t * B + perm[j]) * H, count: H) }
      }
    }
    let apart = cell.keepsHiddenProjectionApart
    packedWHh.pack(wHh, ld: H, transposed: false)   // W_hh (G, H) for the steps' dh_{t-1}, as packedWHhT in forward
    let dbx = dBias.pointer, dbh = apart ? dBias.pointer + G : dBias.pointer
    dBias.zero()
    for t in stride(from: T - 1, through: 0, by: -1) where active[t] > 0 {
      let n = active[t], r = offsets[t], ended = active[t + 1]
      // Samples whose last step is t start with nothing from the future.
      (dhp + ended * H).update(repeating: 0, count: (n - ended) * H)
      if cell.hasCellState { (dc.pointer + ended * H).update(repeating: 0, count: (n - ended) * H) }
      let gt = gp + r * G, dgt = dgp + r * G, dOutT = dop + r * H
      switch cell {
      case .lstm, .lstm_peephole:
        let cPrevT = cPrev.pointer + r * H, tct = tanhC.pointer + r * H
        if cell == .lstm {
          lstmCellBackward(dGates: dgt, dc: dc.pointer, dOut: dOutT, dhNext: dhp, gates: gt, cPrev: cPrevT, tanhC: tct, n, H)
        } else {
          peepholeCellBackward(dGates: dgt, dc: dc.pointer, dOut: dOutT, dhNext: dhp, gates: gt, cPrev: cPrevT, tanhC: tct,
                               wci: extras[0], wcf: extras[1], wco: extras[2], n, H)
        }
        // dh_{t-1} (B_t, H) = dgates_t (B_t, G) · W_hh (G, H)   (dh_{-1} is not needed)
        if t > 0 { packedWHh.multiply(m: n, a: dgt, lda: G, accumulate: false, c: dhp, ldc: H) }
      case .gru:
        let dhgt = dHg.pointer + r * G
        gruCellBackward(dXg: dgt, dHg: dhgt, dh: dhp, dOut: dOutT, gates: gt, hg: hg.pointer + r * G, hPrev: hpp + r * H, n, H)
        // dh_{t-1} (B_t, H) = z ⊙ dh_t (the cell wrote it) + dhg_t (B_t, G) · W_hh (G, H)   (dh_{-1} is not needed)
        if t > 0 { packedWHh.multiply(m: n, a: dhgt, lda: G, accumulate: true, c: dhp, ldc: H) }
        for row in 0..<n { let d = dhgt + row * G; for j in 0..<G { dbh[j] += d[j] } }   // db_hh: column sums of dhg
      }
      for row in 0..<n { let d = dgt + row * G; for j in 0..<G { dbx[j] += d[j] } }      // db_ih: column sums of dgates
    }
    // Weight gradients over all N valid rows at once.
    // dW_hh (G, H) += dhiddenᵀ (G, N) · h_{t-1} (N, H), where dhidden is dgates (LSTMs) or dhg (GRU).
    let dHidden = cell.keepsHiddenProjectionApart ? dHg.pointer : dgp
    BLAS.gemm(transA: true, m: G, n: H, k: N, a: dHidden, lda: G, b: hpp, ldb: H, beta: 1, c: gWHh, ldc: H)
    // db_ih (G) += column sums of dgates;  db_hh (G) += column sums of dhidden (summed in the loop above).
    for j in 0..<G {
      gBIh[j] += dbx[j]
      gBHh[j] += dbh[j]
    }
    if cell == .lstm_peephole {
      peepholeWeightGradients(dwci: gExtras[0], dwcf: gExtras[1], dwco: gExtras[2], dGates: dgp, cPrev: cPrev.pointer, c: cOut.pointer, N, H)
    }
    // dW_ih (G, D) += dgatesᵀ (G, N) · xs (N, D)   (dense: x, row stride ldx)
    BLAS.gemm(transA: true, m: G, n: D, k: N, a: dgp, lda: G, b: dense ? x : UnsafePointer(xs.pointer), ldb: dense ? ldx : D, beta: 1, c: gWIh, ldc: D)
    // dx (T·B, D) (+)= dgates (N, G) · W_ih (G, D): in place when dense; else into xs (free now), then scattered
    // to the input steps (zero elsewhere).
    if let dx, dense {
      BLAS.gemm(m: N, n: D, k: G, a: dgp, lda: G, b: wIh, ldb: D, beta: accumulateDx ? 1 : 0, c: dx, ldc: D)
    } else if let dx {
      let dxp = xs.pointer
      BLAS.gemm(m: N, n: D, k: G, a: dgp, lda: G, b: wIh, ldb: D, beta: 0, c: dxp, ldc: D)
      if !accumulateDx { dx.update(repeating: 0, count: T * B * D) }
      for t in 0..<T {
        for j in 0..<active[t] {
          let src = dxp + (offsets[t] + j) * D, dst = dx + (inputStep(t, j) * B + perm[j]) * D
          if accumulateDx { for k in 0..<D { dst[k] += src[k] } } else { dst.update(from: src, count: D) }
        }
      }
    }
  }
}
