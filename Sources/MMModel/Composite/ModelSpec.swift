import MMCore
/// One parameter tensor of a model: its PyTorch state_dict name and shape, and the bound of its uniform
/// initialisation as PyTorch's module would draw it (1/√H for recurrent tensors, 1/√fan_in for Linear).
public struct ParameterSpec: Equatable, Sendable {
  public var name: String
  public var shape: [Int]
  public var bound: Double
  public init(_ name: String, _ shape: [Int], bound: Double) { self.name = name; self.shape = shape; self.bound = bound }
}

/// What one encoder reads and how big it is.
public struct EncoderSpec: Equatable, Sendable {
  /// State_dict prefix: "fusion." (early fusion's single encoder) or "encoders.<modality>.".
  public var prefix: String
  /// Index into the batch's per-modality lengths; nil = the fused lengths (early fusion).
  public var modality: Int?
  public var column: Int, features: Int, steps: Int, hidden: Int

  /// "fusion.lstm.", "encoders.text.gru.": where the recurrent stack's tensors live.
  public func recurrentPrefix(_ cell: CellKind) -> String { prefix + (cell == .gru ? "gru." : "lstm.") }
}

/// Everything that fixes a model's architecture and parameter layout; `make` builds it.
///
/// Early fusion is one encoder over all columns; late, attention and tensor fusion are one encoder per
/// modality. Then a fusion of the pooled vectors, then a head.
public struct ModelSpec: Equatable, Sendable {
  /// One modality as the model sees it: its columns in the fused batch, its steps and its hidden size.
  public struct Input: Equatable, Sendable {
    public var name: String
    public var column: Int, features: Int, steps: Int, hidden: Int
    public init(name: String, column: Int, features: Int, steps: Int, hidden: Int) {
      self.name = name; self.column = column; self.features = features; self.steps = steps; self.hidden = hidden
    }
  }

  public var inputs: [Input]
  public var fusion: FusionKind
  public var cell: CellKind
  public var layers: Int
  public var bidirectional: Bool
  public var pooling: PoolingKind
  public var attentionSize: Int?
  public var fusionSize: Int?
  public var headHidden: Int?
  public var dropout: Double
  public var task: TaskKind
  public var outputs: Int

  public init(inputs: [Input], fusion: FusionKind = .early, cell: CellKind = .lstm, layers: Int = 1, bidirectional: Bool = false,
              pooling: PoolingKind = .last, attentionSize: Int? = nil, fusionSize: Int? = nil, headHidden: Int? = nil,
              dropout: Double = 0, task: TaskKind, outputs: Int) {
    self.inputs = inputs; self.fusion = fusion; self.cell = cell; self.layers = layers; self.bidirectional = bidirectional
    self.pooling = pooling; self.attentionSize = attentionSize; self.fusionSize = fusionSize; self.headHidden = headHidden
    self.dropout = dropout; self.task = task; self.outputs = outputs
  }

  /// Width of the fused batch rows (Σ features) and its steps (the longest modality's).
  public var width: Int { inputs.reduce(0) { $0 + $1.features } }
  public var maxSteps: Int { inputs.map(\.steps).max() ?? 1 }

  public var encoders: [EncoderSpec] {
    if fusion == .early {
      return [EncoderSpec(prefix: "fusion.", modality: nil, column: 0, features: width, steps: inputs[0].steps, hidden: inputs[0].hidden)]
    }
    return inputs.enumerated().map { m, input in
      EncoderSpec(prefix: "encoders.\(input.name).", modality: m, column: input.column, features: input.features,
                  steps: input.steps, hidden: input.hidden)
    }
  }

  /// Size of each encoder's pooled vector.
  public var pooledSizes: [Int] { encoders.map { $0.hidden * (bidirectional ? 2 : 1) } }
  /// `model.fusion_size` with its default: the (largest) encoder output size for attention, 8 for tensor.
  public var resolvedFusionSize: Int { fusionSize ?? (fusion == .tensor ? 8 : pooledSizes.max()!) }
  /// `model.head_hidden` with its default: 0 (Linear) for early fusion, 64 for the others.
  public var resolvedHeadHidden: Int { headHidden ?? (fusion == .early ? 0 : 64) }
  public var fusedSize: Int { FusionLayer.outputSize(fusion, pooled: pooledSizes, size: resolvedFusionSize) }

  /// Every tensor in state_dict order: encoders (recurrent stack, then pooling), fusion, head.
  public var parameterSpecs: [ParameterSpec] {
    var specs: [ParameterSpec] = []
    for (e, P) in zip(encoders, pooledSizes) {
      let bound = 1 / Double(e.hidden).squareRoot()
      for k in 0..<layers {
        let input = k == 0 ? e.features : P
        specs += RecurrentStack.parameterSpecs(
          cell: cell, bidirectional: bidirectional, prefix: e.recurrentPrefix(cell), layer: k, input: input, hidden: e.hidden
        ).map { ParameterSpec($0.name, $0.shape, bound: bound) }
      }
      specs += Pooling.parameterSpecs(pooling, prefix: e.prefix, size: P, attention: attentionSize ?? P)
    }
    specs += FusionLayer.parameterSpecs(fusion, names: inputs.map(\.name), pooled: pooledSizes, size: resolvedFusionSize)
    specs += Head.parameterSpecs(input: fusedSize, hidden: resolvedHeadHidden, outputs: outputs)
    return specs
  }

  /// `inputGradient`: backward also writes d loss / d batch.x into `model.inputGradient` (tests only).
  public func make(maxBatch: Int, inputGradient: Bool = false) -> MultimodalModel {
    MultimodalModel(self, maxBatch: maxBatch, inputGradient: inputGradient)
  }

  /// One line for the console: "early fusion, 1x LSTM(409 -> 32), head 2 (multiclass)".
  public var summary: String {
    let cellName = cell == .gru ? "GRU" : cell == .lstm ? "LSTM" : "peephole LSTM"
    let dir = bidirectional ? "bidirectional " : ""
    let pool = pooling == .last ? "" : ", \(pooling.rawValue) pooling"
    let drop = dropout > 0 ? ", dropout \(dropout)" : ""
    let hh = resolvedHeadHidden
    let head = hh == 0 ? "head \(outputs)" : "head MLP \(fusedSize) -> \(hh) -> \(outputs)"
    if fusion == .early {
      return "early fusion, \(layers)x \(dir)\(cellName)(\(width) -> \(inputs[0].hidden))\(pool)\(drop), \(head) (\(task.rawValue))"
    }
    let encs = inputs.map { "\($0.name) \($0.features) -> \($0.hidden)" }.joined(separator: ", ")
    let fusionText = fusion == .late ? "concat \(fusedSize)" : fusion == .attention ? "attention \(resolvedFusionSize)" : "tensor \(resolvedFusionSize)+1 per modality = \(fusedSize)"
    return "\(fusion.rawValue) fusion, \(layers)x \(dir)\(cellName) per modality (\(encs))\(pool)\(drop), \(fusionText), \(head) (\(task.rawValue))"
  }
}

extension ModelSpec {
  /// The core model: early fusion of one D-wide input into a stack of LSTM layers, last-step pooling, a
  /// Linear head (the README's EarlyFusionLSTM).
  public static func earlyLSTM(input D: Int, hidden H: Int, layers: Int, outputs C: Int, steps T: Int, task: TaskKind = .multiclass) -> ModelSpec {
    ModelSpec(inputs: [Input(name: "x", column: 0, features: D, steps: T, hidden: H)], layers: layers, task: task, outputs: C)
  }
}
