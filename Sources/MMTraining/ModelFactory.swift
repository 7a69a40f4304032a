import MMConfig
import MMCore
import MMData
import MMModel

extension ModelSpec {
  /// Checks the keys that name modalities against those the data resolved to (model order), before any data
  /// is read: the per-modality maps (`data.steps`, `model.hidden`) have an entry for every sequence and none
  /// for another name; `model.encoders` names static vectors; early fusion (one time axis) has sequences only.
  public static func checkPerModalityKeys(_ c: TrainConfig, modalities: [DataSchema.Modality]) throws {
    let sequences = modalities.filter { $0.kind.hasSteps }.map(\.name)
    let others = modalities.filter { !$0.kind.hasSteps }
    let frames = modalities.filter { $0.kind == .imageSequence }
    try c.data.steps.check(key: "data.steps", modalities: sequences, alsoAllowed: others.map(\.name))
    try c.model.hidden.check(key: "model.hidden", modalities: sequences, alsoAllowed: others.map(\.name))
    let encoded = others + frames
    for name in c.model.encoders.keys.sorted() where !encoded.contains(where: { $0.name == name }) {
      let what =
        sequences.contains(name)
        ? "'\(name)' is a sequence (its encoder is recurrent: model.hidden, model.layers, model.cell)"
        : "the run has no modality '\(name)' (its modalities: \(modalities.map(\.name).joined(separator: ", ")))"
      throw MMError.usage(
        "model.encoders.\(name): \(what); model.encoders sizes static vectors [N, D] and images [N, C, H, W]")
    }
    for m in encoded {
      let key = "model.encoders.\(m.name)"
      switch (m.kind, c.model.encoders[m.name]) {
      case (.image, nil), (.image, .mlp?), (.imageSequence, nil), (.imageSequence, .mlp?):
        let shape = ((m.kind == .imageSequence ? ["T"] : []) + m.imageShape!.map(String.init)).joined(separator: ", ")
        throw MMError.usage(
          "'\(m.name)' is an \(m.kind.description) [N, \(shape)]: it needs a conv encoder, e.g. \(key): {kind: conv, "
            + "channels: [32, 64], kernel: 3, pool: 2}")
      case (.vector, .conv?):
        throw MMError.usage(
          "\(key): conv is for images [N, C, H, W]; '\(m.name)' is a static vector [N, D] (use kind mlp)")
      case (.image, .conv(_, let kernel, let pool)?), (.imageSequence, .conv(_, let kernel, let pool)?):
        let shape = m.convShape(c.model.encoders[m.name])!
        if let j = shape.sides.indices.dropFirst().first(where: { shape.sides[$0].h == 0 || shape.sides[$0].w == 0 }) {
          let before = shape.sides[j - 1]
          throw MMError.usage(
            "\(key): convolution \(j) turns a \(before.h) x \(before.w) input into \(shape.sides[j].h) x \(shape.sides[j].w) "
              + "(kernel \(kernel), pool \(pool)): its pooling leaves nothing; use fewer channels entries or a smaller pool"
          )
        }
      default: break
      }
    }
    let tokens = modalities.filter { $0.kind == .tokens }
    for name in c.model.embed.keys.sorted() where !tokens.contains(where: { $0.name == name }) {
      let what =
        modalities.contains { $0.name == name }
        ? "'\(name)' is not token ids (an embedding reads integer [N, T] ids)"
        : "the run has no modality '\(name)' (its modalities: \(modalities.map(\.name).joined(separator: ", ")))"
      throw MMError.usage("model.embed.\(name): \(what)")
    }
    if let m = tokens.first, c.data.align == .interpolate {
      throw MMError.usage(
        "data.align is interpolate, but '\(m.name)' holds token ids \(m.kind.contract), which cannot be resampled "
          + "(an id between two ids is no word); use data.align: pad or truncate")
    }
    if c.model.fusion.concatenatesSteps, let other = (others + frames + tokens).first {
      throw MMError.usage(
        "model.fusion is \(c.model.fusion.rawValue), but '\(other.name)' is \(other.kind == .vector || other.kind == .tokens ? "a" : "an") "
          + "\(other.kind.description) \(other.kind.contract): "
          + "early fusion concatenates the modalities' features step by step, so every modality must be a sequence "
          + "[N, T, D]; use model.fusion: late, attention, tensor or gated")
    }
  }

  /// The model a config asks for, over the modalities the data resolved to (model order), once
  /// `checkPerModalityKeys` has passed for them.
  /// `embeddings`: each token modality's (Embeddings.resolve).
  public static func make(
    _ c: TrainConfig, modalities: [DataSchema.Modality], outputs: Int, embeddings: [String: EmbedShape] = [:]
  ) -> ModelSpec {
    var inputs: [Input] = []
    var column = 0
    for m in modalities {
      var input = Input(
        name: m.name, column: column, features: m.features,
        steps: m.kind.hasSteps ? c.data.steps.value(for: m.name)! : 1,
        widths: c.model.hidden.value(for: m.name)?.widths ?? [1])
      if m.kind == .vector, case .mlp(let widths)? = c.model.encoders[m.name] {
        input.mlp = widths
      } else if m.kind == .vector {
        input.mlp = []
      }
      input.conv = m.convShape(c.model.encoders[m.name])
      input.frames = m.kind == .imageSequence
      input.embed = embeddings[m.name]
      inputs.append(input)
      column += m.features
    }
    var spec = ModelSpec(inputs: inputs, architecture: c.model.architecture, task: c.task.kind, outputs: outputs)
    spec.target = c.task.target
    return spec
  }
}

extension DataSchema.Modality {
  /// An image's (or each frame's) convolutions for `model.encoders.<name>`; nil for other kinds or choices.
  func convShape(_ choice: EncoderChoice?) -> ConvShape? {
    guard let s = imageShape, case .conv(let channels, let kernel, let pool)? = choice else { return nil }
    return ConvShape(channels: s[0], height: s[1], width: s[2], stages: channels, kernel: kernel, pool: pool)
  }
}

extension DataSchema.ModalityKind {
  /// The dataset's shape as the contract writes it: "[N, T, D]", "[N, D]", "[N, C, H, W]", "[N, T, C, H, W]".
  var contract: String {
    switch self {
    case .sequence: return "[N, T, D]"
    case .vector: return "[N, D]"
    case .image: return "[N, C, H, W]"
    case .imageSequence: return "[N, T, C, H, W]"
    case .tokens: return "integer [N, T]"
    }
  }
}
