import MMTensor

/// One stage of a conv encoder: Conv2d(Ci, Co, k, stride 1, padding k/2) + ReLU + MaxPool2d(p), over a batch
/// held channel-major, (C, B, H, W), so that a stage is one sgemm over every sample's positions:
///
///     cols  (K, B·H·W)   im2col of x (Ci, B, H, W), K = Ci·k·k in PyTorch's weight order (ci, kh, kw)
///     y     (Co, B·Ho·Wo) = W (Co, K) · cols + b          Ho = H + 2·(k/2) − k + 1 (H, or H + 1 for even k)
///     a     = relu(y)
///     out   (Co, B, Hp, Wp) = maxpool_p(a)                Hp = ⌊Ho / p⌋ (PyTorch's floor mode; rows past p·Hp dropped)
///
/// Backward: the pooled gradient goes to each window's argmax, through the ReLU, then dW += dY · colsᵀ,
/// db += Σ dY, dcols = Wᵀ · dY, and col2im sums dcols into dx (Ci, B, H, W).
/// Legend: B = batch, C = channels, H × W = the image, k = kernel, p = pool. Buffers sized for maxBatch once.
final class Conv2DLayer {
  let ci: Int, co: Int, k: Int, p: Int, h: Int, w: Int  // input (ci, h, w), output channels, kernel, pool
  let ho: Int, wo: Int, hp: Int, wp: Int  // after the convolution, after the pooling
  let weight, bias, gWeight, gBias: UnsafeMutablePointer<Float>  // (co, ci·k·k) (co)
  let cols: Buffer  // (K, B·ho·wo)
  let act: Buffer  // (co, B·ho·wo) relu(conv)
  let out: Buffer  // (co, B, hp, wp)
  let argmax: UnsafeMutablePointer<Int32>  // (co, B, hp, wp): each window's winner, as an offset in act's plane
  let dAct: Buffer  // (co, B·ho·wo)
  /// (K, B·ho·wo): d loss / d cols, written over `cols` (the weight gradient has read them by then).
  var dCols: Buffer { cols }
  var batch = 0

  var K: Int { ci * k * k }
  /// Floats of one sample's output: co·hp·wp.
  var outputSize: Int { co * hp * wp }

  init(
    arena: ParameterArena, name: String, input: (c: Int, h: Int, w: Int), channels: Int, kernel: Int, pool: Int,
    maxBatch B: Int
  ) {
    ci = input.c; h = input.h; w = input.w; co = channels; k = kernel; p = pool
    ho = h + 2 * (k / 2) - k + 1; wo = w + 2 * (k / 2) - k + 1
    hp = ho / p; wp = wo / p
    weight = arena.value(name + "weight"); bias = arena.value(name + "bias")
    gWeight = arena.grad(name + "weight"); gBias = arena.grad(name + "bias")
    let K = ci * k * k, positions = B * ho * wo
    cols = Buffer(count: K * positions)
    act = Buffer(count: co * positions); dAct = Buffer(count: co * positions)
    out = Buffer(count: co * B * hp * wp)
    argmax = .allocate(capacity: co * B * hp * wp); argmax.initialize(repeating: 0, count: co * B * hp * wp)
  }

  deinit { argmax.deallocate() }

  /// The output sides of a stage over an h × w input: (Ho, Wo) after the convolution, (Hp, Wp) after pooling.
  static func sides(h: Int, w: Int, kernel k: Int, pool p: Int) -> (hp: Int, wp: Int) {
    ((h + 2 * (k / 2) - k + 1) / p, (w + 2 * (k / 2) - k + 1) / p)
  }

  /// x (ci, B, h, w) -> (co, B, hp, wp).
  /// The output columns ox whose input column ox + kw − pad lies inside the image: lo..<hi (may be empty).
  @inline(__always) func columns(_ kw: Int) -> (Int, Int) {
    let shift = kw - k / 2
    let lo = min(max(0, -shift), wo)
    return (lo, max(lo, min(wo, w - shift)))
  }

  func forward(_ x: UnsafePointer<Float>, batch B: Int) -> UnsafePointer<Float> {
    batch = B
    let n = B * ho * wo, pad = k / 2, c = cols.pointer
    // im2col: cols[(ci, kh, kw), (b, oy, ox)] = x[ci, b, oy + kh − pad, ox + kw − pad] (0 outside)
    for q in 0..<ci {
      for kh in 0..<k {
        for kw in 0..<k {
          let row = c + ((q * k + kh) * k + kw) * n
          let (lo, hi) = columns(kw)  // ox in lo..<hi reads inside the image: one copy, zeros around it
          for b in 0..<B {
            let plane = x + (q * B + b) * h * w
            for oy in 0..<ho {
              let iy = oy + kh - pad, dst = row + (b * ho + oy) * wo
              guard iy >= 0 && iy < h else { dst.update(repeating: 0, count: wo); continue }
              dst.update(repeating: 0, count: lo)
              (dst + lo).update(from: plane + iy * w + lo + kw - pad, count: hi - lo)
              (dst + hi).update(repeating: 0, count: wo - hi)
            }
          }
        }
      }
    }
    let a = act.pointer
    BLAS.gemm(m: co, n: n, k: K, a: weight, lda: K, b: c, ldb: n, beta: 0, c: a, ldc: n)
    for o in 0..<co {
      let row = a + o * n, bo = bias[o]
      for i in 0..<n { row[i] = max(row[i] + bo, 0) }
    }
    // max pooling: window (py, px) of plane (o, b); the first maximum wins, as PyTorch's
    let y = out.pointer
    for o in 0..<co {
      for b in 0..<B {
        let plane = a + (o * B + b) * ho * wo, base = (o * B + b) * hp * wp
        for py in 0..<hp {
          for px in 0..<wp {
            var best = plane[py * p * wo + px * p], at = py * p * wo + px * p
            for dy in 0..<p {
              for dx in 0..<p {
                let i = (py * p + dy) * wo + px * p + dx
                if plane[i] > best { best = plane[i]; at = i }
              }
            }
            y[base + py * wp + px] = best
            argmax[base + py * wp + px] = Int32(at)
          }
        }
      }
    }
    return UnsafePointer(y)
  }

  /// dOut (co, B, hp, wp) of the last forward -> dx (ci, B, h, w) when non-nil; accumulates the gradients.
  func backward(_ dOut: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>?) {
    let B = batch, n = B * ho * wo, da = dAct.pointer, a = act.pointer
    da.update(repeating: 0, count: co * n)
    for o in 0..<co {
      for b in 0..<B {
        let base = (o * B + b) * hp * wp, plane = (o * B + b) * ho * wo
        for i in 0..<(hp * wp) { da[plane + Int(argmax[base + i])] += dOut[base + i] }
      }
    }
    for i in 0..<(co * n) { da[i] = a[i] > 0 ? da[i] : 0 }  // relu
    // W (co, K) += dY (co, n) · colsᵀ (n, K);  b += Σ_n dY
    BLAS.gemm(transB: true, m: co, n: K, k: n, a: da, lda: n, b: cols.pointer, ldb: n, beta: 1, c: gWeight, ldc: K)
    for o in 0..<co {  // eight running sums, then their total: a single one is a chain of dependent adds
      let row = UnsafeRawPointer(da + o * n)
      var lanes = SIMD8<Float>(), i = 0
      while i + 8 <= n {
        lanes += row.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
        i += 8
      }
      var s = lanes.sum()
      while i < n { s += (da + o * n)[i]; i += 1 }
      gBias[o] += s
    }
    guard let dx else { return }
    // dcols (K, n) = Wᵀ (K, co) · dY (co, n); col2im sums them back into dx
    let dc = dCols.pointer, pad = k / 2
    BLAS.gemm(transA: true, m: K, n: n, k: co, a: weight, lda: K, b: da, ldb: n, beta: 0, c: dc, ldc: n)
    dx.update(repeating: 0, count: ci * B * h * w)
    for q in 0..<ci {
      for kh in 0..<k {
        for kw in 0..<k {
          let row = dc + ((q * k + kh) * k + kw) * n
          let (lo, hi) = columns(kw)
          for b in 0..<B {
            let plane = dx + (q * B + b) * h * w
            for oy in 0..<ho {
              let iy = oy + kh - pad
              guard iy >= 0 && iy < h else { continue }
              let src = row + (b * ho + oy) * wo, dst = plane + iy * w + kw - pad
              for ox in lo..<hi { dst[ox] += src[ox] }
            }
          }
        }
      }
    }
  }
}
