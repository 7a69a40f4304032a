import MMCore
/// One parameter tensor of a model: its PyTorch state_dict name and shape, and the bound of its uniform
/// initialisation as PyTorch's module would draw it (1/√H for recurrent tensors, 1/√fan_in for Linear).
public struct ParameterSpec: Equatable, Sendable {
  public var name: String
  public var shape: [Int]
  public var bound: Double
  /// Drawn from N(0, 1) instead (nn.Embedding's initialisation); `bound` is then unused.
  public var normal = false
  /// Never stepped by the optimiser (a pretrained embedding, frozen): placed at the end of the arena.
  public var frozen = false
  public init(_ name: String, _ shape: [Int], bound: Double) {
    self.name = name; self.shape = shape; self.bound = bound
  }
}

/// What one encoder reads and how big it is.
public struct EncoderSpec: Equatable, Sendable {
  /// State_dict prefix: "fusion." (early fusion's single encoder) or "encoders.<modality>.".
  public var prefix: String
  /// Index into the batch's per-modality lengths; nil = the fused lengths (early fusion).
  public var modality: Int?
  public var column: Int, features: Int, steps: Int
  /// `task.target: step`: the encoder returns its top layer's whole sequence (T, B, Hs), not a pooled vector.
  public var perStep = false
  /// A static vector's MLP widths (`model.encoders.<m>: {kind: mlp, widths}`): an MLPEncoder; nil: recurrent.
  public var mlp: [Int]? = nil
  /// An image's convolutions (`model.encoders.<m>: {kind: conv, ...}`): a ConvEncoder; with `frames`, an image
  /// sequence's, run on every frame in front of the recurrent stack.
  public var conv: ConvShape? = nil
  /// An image sequence [N, T, C, H, W]: `conv` runs on each frame, the recurrent encoder reads its output.
  public var frames = false
  /// Token ids [N, T] (one column): their embedding, whose vectors the recurrent encoder reads.
  public var embed: EmbedShape? = nil
  /// `model.hidden` for this encoder: one width for every layer (`[64]`), or one per layer (`[128, 64]`).
  public var widths: [Int]

  /// The top layer's width (per direction).
  public var hidden: Int { widths.last! }

  /// Layer k's width of a `layers`-deep stack.
  public func width(layer k: Int) -> Int { widths.count == 1 ? widths[0] : widths[k] }

  /// Whether the layers differ in width: the stack is then one module per layer (nn.ModuleList of one-layer
  /// nn.LSTM) rather than one nn.LSTM(num_layers=L), which PyTorch can only build with one width.
  public var layersDiffer: Bool { Set(widths).count > 1 }

  /// Where layer k's tensors live, and its index in their names: "fusion.lstm." and k (nn.LSTM's
  /// `weight_ih_l{k}`), or, when the layers differ in width, "encoders.text.gru.{k}." and 0.
  public func recurrentPrefix(_ cell: CellKind, layer k: Int) -> (prefix: String, layer: Int) {
    let module = prefix + cell.module + "."
    return layersDiffer ? (module + "\(k).", 0) : (module, k)
  }
}

/// Everything that fixes a model's architecture and parameter layout: the data's modalities as the model
/// sees them, the `Architecture` (`model:`'s choices; `spec.fusion` etc. read through to it), the task and
/// the output count. `make` builds the model.
///
/// Early fusion is one encoder over all columns; the other fusions are one encoder per modality. Then a
/// fusion of the pooled vectors, then a head.
@dynamicMemberLookup
public struct ModelSpec: Equatable, Sendable {
  /// One modality as the model sees it: its columns in the fused batch, its steps and its hidden size.
  public struct Input: Equatable, Sendable {
    public var name: String
    public var column: Int, features: Int, steps: Int
    /// Its encoder's width for every layer (`[64]`), or one per layer (`[128, 64]`, as many as model.layers).
    public var widths: [Int]
    /// The top layer's width.
    public var hidden: Int { widths.last! }
    /// A static vector [N, D] (one step): the widths of its MLP encoder (`[]`: passed through); nil for a
    /// sequence, which has a recurrent encoder.
    public var mlp: [Int]? = nil
    /// An image [N, C, H, W] (one step of C·H·W features): its conv encoder; with `frames`, an image sequence
    /// [N, T, C, H, W] whose frames go through it into the recurrent encoder.
    public var conv: ConvShape? = nil
    public var frames = false
    /// Token ids [N, T] (one column of the fused batch): the embedding in front of its recurrent encoder.
    public var embed: EmbedShape? = nil
    public init(name: String, column: Int, features: Int, steps: Int, widths: [Int]) {
      precondition(!widths.isEmpty && widths.allSatisfy { $0 > 0 }, "\(name): widths \(widths)")
      self.name = name; self.column = column; self.features = features; self.steps = steps; self.widths = widths
    }
    /// One width for every layer.
    public init(name: String, column: Int, features: Int, steps: Int, hidden: Int) {
      self.init(name: name, column: column, features: features, steps: steps, widths: [hidden])
    }
  }

  public var inputs: [Input]
  public var architecture: Architecture
  public var task: TaskKind
  public var outputs: Int
  /// `task.target`: `step` runs the head on every step of the (single, early-fusion) encoder's top layer, so
  /// logits are (T, B, C) time-major: T·B rows, sample b's step t at row t·B + b.
  public var target: TargetKind = .sample

  public subscript<T>(dynamicMember field: WritableKeyPath<Architecture, T>) -> T {
    get { architecture[keyPath: field] }
    set { architecture[keyPath: field] = newValue }
  }

  public init(inputs: [Input], architecture: Architecture, task: TaskKind, outputs: Int) {
    self.inputs = inputs; self.architecture = architecture; self.task = task; self.outputs = outputs
  }

  public init(
    inputs: [Input], fusion: FusionKind = .early, cell: CellKind = .lstm, layers: Int = 1, bidirectional: Bool = false,
    pooling: PoolingKind = .last, attentionSize: Int? = nil, fusionSize: Int? = nil, headHidden: [Int]? = nil,
    dropout: Double = 0, task: TaskKind, outputs: Int
  ) {
    self.init(
      inputs: inputs,
      architecture: Architecture(
        fusion: fusion, cell: cell, layers: layers, bidirectional: bidirectional, pooling: pooling,
        attentionSize: attentionSize,
        fusionSize: fusionSize, headHidden: headHidden, dropout: dropout), task: task, outputs: outputs)
  }

  /// Width of the fused batch rows (Σ features) and its steps (the longest modality's).
  public var width: Int { inputs.reduce(0) { $0 + $1.features } }
  public var maxSteps: Int { inputs.map(\.steps).max() ?? 1 }

  public var encoders: [EncoderSpec] {
    if architecture.fusion.concatenatesSteps {
      return [
        EncoderSpec(
          prefix: "fusion.", modality: nil, column: 0, features: width, steps: inputs[0].steps,
          perStep: target == .step, widths: inputs[0].widths)
      ]
    }
    precondition(target == .sample, "a per-step target needs early fusion (one time axis)")
    return inputs.enumerated().map { m, input in
      EncoderSpec(
        prefix: "encoders.\(input.name).", modality: m, column: input.column, features: input.features,
        steps: input.steps, mlp: input.mlp, conv: input.conv, frames: input.frames, embed: input.embed,
        widths: input.widths)
    }
  }

  /// Size of each encoder's pooled vector.
  public var pooledSizes: [Int] { encoders.map { $0.outputSize(architecture) } }
  /// `model.fusion_size` with the fusion's default (attention: the largest encoder output size; tensor: 8).
  public var resolvedFusionSize: Int {
    architecture.fusionSize ?? architecture.fusion.method.defaultSize(pooled: pooledSizes)
  }
  /// `model.head_hidden` with the fusion's default (a Linear head, [], for early fusion; [64] for the others).
  public var resolvedHeadHidden: [Int] {
    architecture.headHidden ?? [architecture.fusion.method.defaultHeadHidden].filter { $0 > 0 }
  }
  public var fusedSize: Int { architecture.fusion.method.outputSize(pooled: pooledSizes, size: resolvedFusionSize) }

  /// Rows of logits per sample: 1, or the steps T of the one encoder for a per-step target.
  public var rowsPerSample: Int { target == .step ? maxSteps : 1 }

  /// Every tensor in state_dict order: encoders (recurrent stack, then pooling), fusion, head.
  public var parameterSpecs: [ParameterSpec] {
    var specs = encoders.flatMap { $0.parameterSpecs(architecture) }
    specs += architecture.fusion.method.parameterSpecs(
      names: inputs.map(\.name), pooled: pooledSizes, size: resolvedFusionSize)
    let (sizes, indexed) = Perceptron.head(input: fusedSize, hidden: resolvedHeadHidden, outputs: outputs)
    specs += Perceptron.parameterSpecs(prefix: "head.", sizes: sizes, indexed: indexed)
    // the embeddings last, the trained ones before the frozen ones (the optimiser steps a prefix of the arena)
    let tables = inputs.compactMap { input in input.embed.map { $0.parameterSpec(modality: input.name) } }
    return specs + tables.filter { !$0.frozen } + tables.filter(\.frozen)
  }

  /// `inputGradient`: backward also writes d loss / d batch.x into `model.inputGradient` (tests only).
  /// `trailingGradients`: floats after the gradients that the first gradient bucket carries along
  /// (ParameterArena.trailing).
  public func make(maxBatch: Int, inputGradient: Bool = false, trailingGradients: Int = 0) -> MultimodalModel {
    MultimodalModel(self, maxBatch: maxBatch, inputGradient: inputGradient, trailingGradients: trailingGradients)
  }

  /// One line for the console: "early fusion, 1x LSTM(409 -> 32), head 2 (multiclass)".
  public var summary: String {
    let cellName = architecture.cell.displayName
    let dir = architecture.bidirectional ? "bidirectional " : ""
    let pool =
      target == .step
      ? ", every step" : architecture.pooling == .last ? "" : ", \(architecture.pooling.rawValue) pooling"
    let drop = architecture.dropout > 0 ? ", dropout \(architecture.dropout)" : ""
    let hh = resolvedHeadHidden
    let head =
      hh.isEmpty
      ? "head \(outputs)" : "head MLP " + ([fusedSize] + hh + [outputs]).map(String.init).joined(separator: " -> ")
    if architecture.fusion.concatenatesSteps {
      return
        "\(architecture.fusion.rawValue) fusion, \(architecture.layers)x \(dir)\(cellName)(\(width) -> \(Self.widthsText(inputs[0].widths)))\(pool)\(drop), \(head) (\(task.rawValue))"
    }
    let encs = inputs.map { input in
      let embedded = input.embed.map { "embed \($0.vocabulary) x \($0.size)\($0.frozen ? " frozen" : ""), " } ?? ""
      let to =
        input.conv.map { "conv " + $0.stages.map(String.init).joined(separator: " -> ") + " (\($0.outputSize))" }
        ?? input.mlp.map { $0.isEmpty ? "as is" : "mlp " + Self.widthsText($0) } ?? Self.widthsText(input.widths)
      return "\(input.name) \(input.embed == nil ? String(input.features) : "ids") -> \(embedded)\(to)"
    }.joined(separator: ", ")
    let fusionText = architecture.fusion.method.summary(pooled: pooledSizes, size: resolvedFusionSize)
    return
      "\(architecture.fusion.rawValue) fusion, \(architecture.layers)x \(dir)\(cellName) per modality (\(encs))\(pool)\(drop), \(fusionText), \(head) (\(task.rawValue))"
  }
}

extension ModelSpec {
  /// "64", or "128 -> 64" when the layers differ in width.
  static func widthsText(_ widths: [Int]) -> String {
    Set(widths).count == 1 ? String(widths[0]) : widths.map(String.init).joined(separator: " -> ")
  }

  /// The core model: early fusion of one D-wide input into a stack of LSTM layers, last-step pooling, a
  /// Linear head (the README's EarlyFusionLSTM).
  public static func earlyLSTM(
    input D: Int, hidden H: Int, layers: Int, outputs C: Int, steps T: Int, task: TaskKind = .multiclass
  ) -> ModelSpec {
    ModelSpec(
      inputs: [Input(name: "x", column: 0, features: D, steps: T, hidden: H)], layers: layers, task: task, outputs: C)
  }
}
