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
/// rows. The output is unpacked to (T, B, H), zero at steps >= L. Step t's rows are the first B_t of step
/// t-1's, so h_{t-1} and c_{t-1} are read where step t-1 wrote them (no copies), and backward writes the
/// gates' gradients over the gates themselves (each element's gates are read before its gradients are stored).
///
/// `reversed` (used by BidirectionalLayer): sample b with length L runs its valid steps back to front: step s
/// reads input step L-1-s, and output row s is that step's hidden state, so the output is in the
/// direction's own time.
///
/// Legend: T = steps, B = batch, D = input features, H = hidden, G = gate width (4H LSTM, 3H GRU), N = Σ lengths.
public final class UnidirectionalLayer: RecurrentLayer {
  public let kind: CellKind
  let cell: any RecurrentCell  // kind.cell, unwrapped once: the time loops call it once per step
  public let inputSize: Int, hidden: Int, maxSteps: Int, maxBatch: Int
  public let reversed: Bool
  public var outputSize: Int { hidden }
  public var poll: (() -> Void)? = nil

  // Parameter and gradient views into the arena.
  let wIh, wHh, bIh, bHh: UnsafeMutablePointer<Float>  // (G, D) (G, H) (G) (G)
  let gWIh, gWHh, gBIh, gBHh: UnsafeMutablePointer<Float>
  let extras, gExtras: [UnsafeMutablePointer<Float>]  // the cell's (H) vectors: peephole w_ci, w_cf, w_co

  // The packing of the last forward.
  let perm: UnsafeMutablePointer<Int>  // (B)    samples by length, longest first (stable)
  let active: UnsafeMutablePointer<Int>  // (T+1)  B_t: samples with L > t (B_T = 0)
  let offsets: UnsafeMutablePointer<Int>  // (T+1)  first packed row of step t; offsets[T] = N
  let sortedLengths: UnsafeMutablePointer<Int>  // (B) lengths in perm order
  /// No padding and forward in time: the packed layout is the time-major one (perm is the identity), so x,
  /// dOut and dx are used in place and the output is hOut itself (no gather, scatter or zero fill).
  var dense = false
  // Forward caches (what backward needs), packed: N <= T·B rows.
  let xs: Buffer  // (N, D)   the input rows, gathered in step order (backward: reused for dx)
  // (G)      b_ih + b_hh (LSTMs: added by the steps' products) or b_ih (GRU: the GEMM's pre-broadcast C)
  let bias: Buffer
  /// W_hhᵀ (H, G) packed by every forward for the steps' products (see there), W_hh (G, H) by every backward.
  let packedWHh: PackedMatrix
  let gates: Buffer  // (N, G)   input projection + biases, then the activated gates (in place); backward: dgates,
  //          the gradient of the pre-activations (= of the hidden projection for LSTMs), in place
  let hg: Buffer  // (N, G)   GRU only: h_{t-1}·W_hhᵀ + b_hh; backward: dhg, its gradient, in place
  let hOut: Buffer  // (N, H)   h_t (step t-1's first B_t rows are step t's h_{t-1})
  let cOut: Buffer  // (N, H)   LSTMs only: c_t (likewise c_{t-1})
  let tanhC: Buffer  // (N, H)   LSTMs only: tanh(c_t)
  let zeros: Buffer  // (B, H)   h_{-1} = c_{-1} = 0
  let output: Buffer  // (T, B, H) h_t unpacked, zero at t >= L
  // Backward scratch.
  let dOutP: Buffer  // (N, H)   dOut packed; after the time loop, h_{t-1} gathered for dW_hh
  let dBias: Buffer  // (2, G)   column sums of dgates and of dhg (GRU), gathered step by step while hot
  let dh: Buffer  // (B, H)   dL/dh_t flowing backwards in time (perm order)
  let dc: Buffer  // (B, H)   LSTMs only: dL/dc_t flowing backwards in time

  public init(
    cell: CellKind, arena: ParameterArena, names: RecurrentParameterNames, input D: Int, hidden H: Int,
    maxSteps T: Int, maxBatch B: Int, reversed: Bool = false
  ) {
    kind = cell; self.cell = cell.cell; inputSize = D; hidden = H; maxSteps = T; maxBatch = B; self.reversed = reversed
    let G = cell.gateCount * H
    for (name, shape) in [
      (names.weightIH, [G, D]), (names.weightHH, [G, H]), (names.biasIH, [G]), (names.biasHH, [G]),
    ] + names.extras.map({ ($0, [H]) }) {
      precondition(
        arena.tensor(name).shape == shape, "\(name): arena shape \(arena.tensor(name).shape), layer expects \(shape)")
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
    let apart = self.cell.keepsHiddenProjectionApart, lstm = self.cell.hasCellState, N = T * B
    xs = Buffer(count: N * D)
    bias = Buffer(count: G)
    packedWHh = PackedMatrix(shapes: [(H, G), (G, H)])
    gates = Buffer(count: N * G)
    hg = Buffer(count: apart ? N * G : 0)
    hOut = Buffer(count: N * H)
    cOut = Buffer(count: lstm ? N * H : 0)
    tanhC = Buffer(count: lstm ? N * H : 0)
    zeros = Buffer(count: B * H)
    output = Buffer(count: N * H)
    dOutP = Buffer(count: N * H)
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

  /// Step t's rows of h_{t-1} (or c_{t-1}) in `states` (hOut, cOut): the first B_t rows of step t-1; zeros at t = 0.
  @inline(__always) func previous(_ states: UnsafeMutablePointer<Float>, _ t: Int) -> UnsafePointer<Float> {
    UnsafePointer(t > 0 ? states + offsets[t - 1] * hidden : zeros.pointer)
  }

  /// The input step that packed step t of sample perm[j] reads.
  @inline(__always) func inputStep(_ t: Int, _ j: Int) -> Int { reversed ? sortedLengths[j] - 1 - t : t }

  public func forward(_ x: UnsafePointer<Float>, ldx: Int, lengths: UnsafePointer<Int32>, steps T: Int, batch B: Int)
    -> UnsafePointer<Float>
  {
    precondition(T <= maxSteps && B <= maxBatch, "recurrent workspace is (\(maxSteps), \(maxBatch)); got (\(T), \(B))")
    precondition(ldx >= inputSize, "ldx \(ldx) < input size \(inputSize)")
    for b in 0..<B {
      precondition(lengths[b] >= 0 && Int(lengths[b]) <= T, "length \(lengths[b]) of sample \(b) outside 0...\(T)")
    }
    let H = hidden, G = cell.gateCount * H, D = inputSize
    pack(lengths, T, B)
    let N = offsets[T]
    let gp = gates.pointer, hop = hOut.pointer
    // The valid input rows in step order: xs (N, D) gathered, or x itself (row stride ldx) when dense.
    let xp = dense ? x : UnsafePointer(xs.pointer), ldxp = dense ? ldx : D
    if !dense {
      for t in 0..<T {
        for j in 0..<active[t] {
          (xs.pointer + (offsets[t] + j) * D).update(from: x + (inputStep(t, j) * B + perm[j]) * ldx, count: D)
        }
      }
    }
    // Input projection of every valid row at once: gates (N, G) = xs (N, D) · W_ihᵀ. The LSTMs' biases
    // (b_ih + b_hh) are added by each step's packed product below, as it stores the step's gates (no pass of
    // their own over (N, G)); GRU's b_ih is the GEMM's pre-broadcast C (beta = 1), its b_hh goes with hg.
    let apart = cell.keepsHiddenProjectionApart
    for j in 0..<G { bias[j] = apart ? bIh[j] : bIh[j] + bHh[j] }
    if apart { for r in 0..<N { (gp + r * G).update(from: bias.pointer, count: G) } }
    BLAS.gemm(transB: true, m: N, n: G, k: D, a: xp, lda: ldxp, b: wIh, ldb: D, beta: apart ? 1 : 0, c: gp, ldc: G)
    // W_hhᵀ (H, G) packed once per forward: each step's h_{t-1} (B_t, H) · W_hhᵀ is then the micro-kernel alone
    // (PackedMatrix), where OpenBLAS would re-pack W_hh on every step.
    packedWHh.pack(wHh, ld: H, transposed: true, k: H, n: G)
    for t in 0..<T where active[t] > 0 { cell.forward(self, rows(t)) }
    if dense { return UnsafePointer(hop) }
    // Unpack: output (T, B, H), zero past each length.
    let out = output.pointer
    out.update(repeating: 0, count: T * B * H)
    for t in 0..<T {
      for j in 0..<active[t] { (out + (t * B + perm[j]) * H).update(from: hop + (offsets[t] + j) * H, count: H) }
    }
    return UnsafePointer(out)
  }

  /// Step t's packed rows, for the cell.
  @inline(__always) func rows(_ t: Int) -> StepRows { StepRows(t: t, n: active[t], r: offsets[t]) }

  public func backward(
    _ dOut: UnsafeMutablePointer<Float>, input x: UnsafePointer<Float>, ldx: Int,
    lengths: UnsafePointer<Int32>, dx: UnsafeMutablePointer<Float>?, steps T: Int, batch B: Int
  ) {
    backward(dOut, input: x, ldx: ldx, lengths: lengths, dx: dx, accumulateDx: false, steps: T, batch: B)
  }

  /// As the protocol's backward; `accumulateDx` adds into dx instead (the reverse half of a bidirectional layer).
  /// Uses the packing of the last forward (same lengths).
  func backward(
    _ dOut: UnsafeMutablePointer<Float>, input x: UnsafePointer<Float>, ldx: Int,
    lengths: UnsafePointer<Int32>, dx: UnsafeMutablePointer<Float>?, accumulateDx: Bool, steps T: Int, batch B: Int
  ) {
    let H = hidden, G = cell.gateCount * H, D = inputSize, N = offsets[T]
    let dgp = gates.pointer, dhp = dh.pointer, hop = hOut.pointer
    // Only the valid rows of dOut matter (those past a length are never read): pack them (dense: as they are).
    let dop = dense ? dOut : dOutP.pointer
    if !dense {
      for t in 0..<T {
        for j in 0..<active[t] { (dop + (offsets[t] + j) * H).update(from: dOut + (t * B + perm[j]) * H, count: H) }
      }
    }
    let apart = cell.keepsHiddenProjectionApart
    // W_hh (G, H) for the steps' dh_{t-1}, as W_hhᵀ in forward
    packedWHh.pack(wHh, ld: H, transposed: false, k: G, n: H)
    let dbx = dBias.pointer, dbh = apart ? dBias.pointer + G : dBias.pointer  // the cell sums dhg into dbh
    dBias.zero()
    for t in stride(from: T - 1, through: 0, by: -1) where active[t] > 0 {
      poll?()
      let n = active[t], r = offsets[t], ended = active[t + 1]
      // Samples whose last step is t start with nothing from the future.
      (dhp + ended * H).update(repeating: 0, count: (n - ended) * H)
      if cell.hasCellState { (dc.pointer + ended * H).update(repeating: 0, count: (n - ended) * H) }
      let dgt = dgp + r * G
      cell.backward(self, StepRows(t: t, n: n, r: r), dOut: dop + r * H)
      for row in 0..<n { let d = dgt + row * G; for j in 0..<G { dbx[j] += d[j] } }  // db_ih: column sums of dgates
    }
    // Weight gradients over all N valid rows at once.
    // dW_hh (G, H) += dhiddenᵀ (G, N) · h_{t-1} (N, H), where dhidden is dgates (LSTMs) or dhg (GRU). Step 0's
    // rows (the first B_0) have h_{-1} = 0 and are left out. Dense, row B + i's h_{t-1} is h_t of row i; else the
    // rows' h_{t-1} are gathered into dOutP (free now).
    let dHidden = apart ? hg.pointer : dgp, first = active[0]
    var hPrevRows = UnsafePointer(hop)
    if !dense {
      for t in 1..<max(T, 1) where active[t] > 0 {
        (dOutP.pointer + offsets[t] * H).update(from: previous(hop, t), count: active[t] * H)
      }
      hPrevRows = UnsafePointer(dOutP.pointer + first * H)
    }
    if N > first {
      BLAS.gemm(
        transA: true, m: G, n: H, k: N - first, a: dHidden + first * G, lda: G, b: hPrevRows, ldb: H, beta: 1, c: gWHh,
        ldc: H)
    }
    // db_ih (G) += column sums of dgates;  db_hh (G) += column sums of dhidden (summed in the loop above).
    for j in 0..<G {
      gBIh[j] += dbx[j]
      gBHh[j] += dbh[j]
    }
    cell.accumulateExtraGradients(self, steps: T)
    // dW_ih (G, D) += dgatesᵀ (G, N) · xs (N, D)   (dense: x, row stride ldx)
    BLAS.gemm(
      transA: true, m: G, n: D, k: N, a: dgp, lda: G, b: dense ? x : UnsafePointer(xs.pointer), ldb: dense ? ldx : D,
      beta: 1, c: gWIh, ldc: D)
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

/// Step t of a layer's packed caches as a cell sees it: its n = B_t rows start at packed row r, so its gates
/// are `gates[r ..< r + n]` (n, G), its h_t `hOut[r ..< r + n]` (n, H) and its h_{t-1} `previous(hOut, t)`.
struct StepRows {
  let t: Int, n: Int, r: Int
}
