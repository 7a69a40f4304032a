import MMTensor

/// Combines the encoders' pooled vectors p_m (B, P_m), m = 0..<M, into one vector per sample (B, F_out).
/// One file per fusion in Fusion/, each with its equations and its tensors:
///
///     early      one encoder over all modalities' features concatenated per step; its pooled vector as is
///     late       [p_0 | p_1 | ...]                                                        F_out = Σ P_m
///     attention  self-attention over projected per-modality tokens, mean over present ones  F_out = F
///     tensor     outer product of the projected vectors with a 1 appended (TFN)            F_out = (F+1)^M
///     gated      Σ_m g_m ⊙ tanh(W_m p_m + b_m), gates g_m = σ(U_m [p_0; ...] + c_m)          F_out = F
///
/// Legend: B = batch, M = modalities, P_m = pooled size of encoder m, F = fusion size (`model.fusion_size`).
protocol FusionMethod: Sendable {
  /// `model.fusion`'s value.
  var name: String { get }
  /// Whether the modalities are concatenated step by step into one sequence for a single encoder (early
  /// fusion: one time axis, and a dropped modality has its columns zeroed) rather than each having its own.
  var concatenatesSteps: Bool { get }
  /// `model.head_hidden` when null: 0 (a Linear head) or the MLP's width.
  var defaultHeadHidden: Int { get }
  /// `model.fusion_size` when null.
  func defaultSize(pooled P: [Int]) -> Int
  func outputSize(pooled P: [Int], size F: Int) -> Int
  /// The fusion's tensors (names under "fusion."), in state_dict order; `names` are the modalities in model order.
  func parameterSpecs(names: [String], pooled P: [Int], size F: Int) -> [ParameterSpec]
  /// The fusion in the console's model line: "concat 12", "attention 8".
  func summary(pooled P: [Int], size F: Int) -> String
  /// The fusion over the arena, its workspace sized for `maxBatch`.
  func makeLayer(names: [String], pooled P: [Int], size F: Int, arena: ParameterArena, maxBatch B: Int)
    -> any FusionLayer
}

/// A model's fusion: called once per forward and backward.
protocol FusionLayer: AnyObject {
  var outputSize: Int { get }
  /// pooled p_m (B, P_m) each; lengths (M, B) per-modality valid steps (nil: all present, early fusion).
  /// Returns (B, F_out), valid until the next forward.
  func forward(_ p: [UnsafePointer<Float>], lengths: UnsafePointer<Int32>?, batch B: Int) -> UnsafePointer<Float>
  /// dOut (B, F_out) -> dPooled_m (B, P_m) (overwritten); accumulates parameter gradients.
  func backward(_ dOut: UnsafePointer<Float>, dPooled: [UnsafeMutablePointer<Float>])
}

/// `model.fusion`: how the modalities are combined.
public struct FusionKind: RegisteredKind {
  let method: any FusionMethod
  init(_ method: any FusionMethod) { self.method = method }
  public var rawValue: String { method.name }

  /// The registry: every fusion `model.fusion` accepts, in the order the docs list them.
  public static let allCases: [FusionKind] = [.early, .late, .attention, .tensor, .gated]

  /// Early fusion: the modalities concatenated per step into one encoder's input (one time axis), rather than
  /// one encoder per modality.
  public var concatenatesSteps: Bool { method.concatenatesSteps }
}

/// tok_m = W_m p_m + b_m (F) for every modality m, as `fusion.proj.<modality>` = nn.Linear(P_m, F); the
/// shared first stage of the fusions that project (attention, tensor, gated). Tokens are stored per sample,
/// `stride` floats apart: tok (B, M, stride), token m of sample b at (b·M + m)·stride, its first F floats.
final class ModalityProjections {
  static func parameterSpecs(names: [String], pooled P: [Int], size F: Int) -> [ParameterSpec] {
    zip(names, P).flatMap { name, p -> [ParameterSpec] in
      let bound = 1 / Double(p).squareRoot()
      return [
        .init("fusion.proj.\(name).weight", [F, p], bound: bound), .init("fusion.proj.\(name).bias", [F], bound: bound),
      ]
    }
  }

  let pooled: [Int], size: Int, stride: Int, M: Int
  let projW, projB, projGW, projGB: [UnsafeMutablePointer<Float>]  // per modality (F, P_m) (F)
  let tok: Buffer  // (B, M, stride)
  let dTok: Buffer  // (B, M, stride)
  var inputs: [UnsafePointer<Float>] = []  // the last forward's p_m

  init(names: [String], pooled P: [Int], size F: Int, stride: Int, arena: ParameterArena, maxBatch B: Int) {
    pooled = P; size = F; self.stride = stride; M = P.count
    projW = names.map { arena.value("fusion.proj.\($0).weight") }
    projB = names.map { arena.value("fusion.proj.\($0).bias") }
    projGW = names.map { arena.grad("fusion.proj.\($0).weight") }
    projGB = names.map { arena.grad("fusion.proj.\($0).bias") }
    tok = Buffer(count: B * M * stride); dTok = Buffer(count: B * M * stride)
    inputs.reserveCapacity(M)
  }

  /// tok[:, m, :F] (B, F) = p_m (B, P_m) · W_mᵀ + b_m.
  func project(_ p: [UnsafePointer<Float>], B: Int) {
    inputs.removeAll(keepingCapacity: true); inputs.append(contentsOf: p)
    let t = tok.pointer, F = size, Fz = stride
    for m in 0..<M {
      BLAS.gemm(
        transB: true, m: B, n: F, k: pooled[m], a: p[m], lda: pooled[m], b: projW[m], ldb: pooled[m], beta: 0,
        c: t + m * Fz, ldc: M * Fz)
      for b in 0..<B { let r = t + (b * M + m) * Fz; for j in 0..<F { r[j] += projB[m][j] } }
    }
  }

  /// From dTok[:, m, :F] back through tok_m = W_m p_m + b_m: parameter gradients and dPooled_m (overwritten).
  func unproject(_ dPooled: [UnsafeMutablePointer<Float>], B: Int) {
    let dt = dTok.pointer, F = size, Fz = stride
    for m in 0..<M {
      let P = pooled[m]
      // W_m (F, P) += dTok_mᵀ (F, B) · p_m (B, P);  b_m += Σ_b dTok_m;  dp_m (B, P) = dTok_m (B, F) · W_m (F, P)
      BLAS.gemm(
        transA: true, m: F, n: P, k: B, a: dt + m * Fz, lda: M * Fz, b: inputs[m], ldb: P, beta: 1, c: projGW[m], ldc: P
      )
      for b in 0..<B { let r = dt + (b * M + m) * Fz; for j in 0..<F { projGB[m][j] += r[j] } }
      BLAS.gemm(m: B, n: P, k: F, a: dt + m * Fz, lda: M * Fz, b: projW[m], ldb: P, beta: 0, c: dPooled[m], ldc: P)
    }
  }
}
