// The architecture choices of `model:`. MMConfig reads them from YAML into an `Architecture` (its `model`
// section holds one); ModelSpec adds the data's modalities to it. The kinds (cell, pooling, fusion) are
// chosen by name from one registry each:
//
//     kind      protocol (behaviour)              registry                 one file per kind
//     cell      RecurrentCell   Recurrent/Cell.swift      CellKind.allCases        Recurrent/*Cell.swift
//     pooling   PoolingMethod   Composite/Pooling.swift   PoolingKind.allCases     Composite/Pooling/*.swift
//     fusion    FusionMethod    Composite/Fusion.swift    FusionKind.allCases      Composite/Fusion/*.swift
//
// A new kind is a new file (a type conforming to the protocol, and `extension XKind { static let x = ... }`)
// plus its line in the registry. A name that is not registered is a config error listing the valid names.

/// Everything `model:` chooses apart from the per-modality hidden sizes (`model.hidden`, which ModelSpec
/// resolves into its inputs). Declared once: the config's model section and ModelSpec both hold this value.
public struct Architecture: Equatable, Sendable {
  public var fusion: FusionKind
  public var cell: CellKind
  public var layers: Int
  public var bidirectional: Bool
  public var pooling: PoolingKind
  /// nil = the encoder's output size.
  public var attentionSize: Int?
  /// nil = the fusion's default (FusionMethod.defaultSize).
  public var fusionSize: Int?
  /// The head's hidden widths (`[32, 16]`: Linear→ReLU→Linear→ReLU→Linear; `[]`: a Linear head); nil = the
  /// fusion's default (FusionMethod.defaultHeadHidden): a Linear head for early fusion, [64] for the others.
  public var headHidden: [Int]?
  public var dropout: Double

  public init(
    fusion: FusionKind = .early, cell: CellKind = .lstm, layers: Int = 1, bidirectional: Bool = false,
    pooling: PoolingKind = .last, attentionSize: Int? = nil, fusionSize: Int? = nil, headHidden: [Int]? = nil,
    dropout: Double = 0
  ) {
    self.fusion = fusion; self.cell = cell; self.layers = layers; self.bidirectional = bidirectional;
    self.pooling = pooling
    self.attentionSize = attentionSize; self.fusionSize = fusionSize; self.headHidden = headHidden;
    self.dropout = dropout
  }
}

/// `model.encoders.<m>`: the encoder of a modality that is not a sequence.
public enum EncoderChoice: Equatable, Sendable {
  /// Linear + ReLU per width (`widths: []` passes the vector through): a static vector's encoder.
  case mlp(widths: [Int])
  /// Conv2d(kernel, padding kernel/2) + ReLU + MaxPool2d(pool) per channel count, then flatten: an image's.
  case conv(channels: [Int], kernel: Int, pool: Int)

  /// `{kind: mlp, widths: [32]}`, `{kind: conv, channels: [64, 128], kernel: 3, pool: 2}`.
  public var yaml: String {
    let list = { (v: [Int]) in "[" + v.map(String.init).joined(separator: ", ") + "]" }
    switch self {
    case .mlp(let w): return "{kind: mlp, widths: \(list(w))}"
    case .conv(let c, let k, let p): return "{kind: conv, channels: \(list(c)), kernel: \(k), pool: \(p)}"
    }
  }

  /// "mlp", "conv".
  public var kind: String {
    switch self {
    case .mlp: return "mlp"
    case .conv: return "conv"
    }
  }
}

/// `model.embed.<m>`: the embedding of a token-id modality (integer [N, T]): its width and whether it trains.
public struct EmbedChoice: Equatable, Sendable {
  /// E; nil: the width of the pretrained vectors in the file (`/embeddings/<m>` [V, E]).
  public var size: Int?
  /// nil: frozen when the file holds pretrained vectors (as nn.Embedding.from_pretrained), trained otherwise.
  public var freeze: Bool?
  public init(size: Int? = nil, freeze: Bool? = nil) { self.size = size; self.freeze = freeze }

  /// `{size: 100, freeze: true}`; only the fields given.
  public var yaml: String {
    "{" + [size.map { "size: \($0)" }, freeze.map { "freeze: \($0)" }].compactMap { $0 }.joined(separator: ", ") + "}"
  }
}

/// A kind chosen by name (`model.cell`, `model.pooling`, `model.fusion`): a value wrapping the kind's
/// implementation, equal by name. `allCases` is the registry: `init(rawValue:)` finds only registered kinds,
/// and the config's choice of valid names is that list.
public protocol RegisteredKind: RawRepresentable, CaseIterable, Hashable, Sendable, CustomStringConvertible
where RawValue == String, AllCases == [Self] {}

extension RegisteredKind {
  public init?(rawValue: String) {
    guard let kind = Self.allCases.first(where: { $0.rawValue == rawValue }) else { return nil }
    self = kind
  }
  public static func == (a: Self, b: Self) -> Bool { a.rawValue == b.rawValue }
  public func hash(into hasher: inout Hasher) { hasher.combine(rawValue) }
  public var description: String { rawValue }
}
