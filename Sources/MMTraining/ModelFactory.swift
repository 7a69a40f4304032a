import MMConfig
import MMCore
import MMData
import MMModel

extension ModelSpec {
  /// Checks the keys that name modalities against those the data resolved to (model order), before any data
  /// is read: the per-modality maps (`data.steps`, `model.hidden`) have an entry for every sequence and none
  /// for another name; `model.encoders` names static vectors; early fusion (one time axis) has sequences only.
  public static func checkPerModalityKeys(_ c: TrainConfig, modalities: [DataSchema.Modality]) throws {
    let sequences = modalities.filter { $0.kind == .sequence }.map(\.name)
    let vectors = modalities.filter { $0.kind == .vector }.map(\.name)
    try c.data.steps.check(key: "data.steps", modalities: sequences, alsoAllowed: vectors)
    try c.model.hidden.check(key: "model.hidden", modalities: sequences, alsoAllowed: vectors)
    for name in c.model.encoders.keys.sorted() where !vectors.contains(name) {
      let what =
        sequences.contains(name)
        ? "'\(name)' is a sequence (its encoder is recurrent: model.hidden, model.layers, model.cell)"
        : "the run has no modality '\(name)' (its modalities: \(modalities.map(\.name).joined(separator: ", ")))"
      throw MMError.usage("model.encoders.\(name): \(what); model.encoders sizes static vectors [N, D]")
    }
    if c.model.fusion.concatenatesSteps, let vector = vectors.first {
      throw MMError.usage(
        "model.fusion is \(c.model.fusion.rawValue), but '\(vector)' is a static vector [N, D]: early fusion concatenates "
          + "the modalities step by step, so every modality must be a sequence [N, T, D]; use model.fusion: late, "
          + "attention, tensor or gated")
    }
  }

  /// The model a config asks for, over the modalities the data resolved to (model order), once
  /// `checkPerModalityKeys` has passed for them.
  public static func make(_ c: TrainConfig, modalities: [DataSchema.Modality], outputs: Int) -> ModelSpec {
    var inputs: [Input] = []
    var column = 0
    for m in modalities {
      var input = Input(
        name: m.name, column: column, features: m.features,
        steps: m.kind == .vector ? 1 : c.data.steps.value(for: m.name)!,
        widths: c.model.hidden.value(for: m.name)?.widths ?? [1])
      if m.kind == .vector {
        switch c.model.encoders[m.name] ?? .mlp(widths: []) {
        case .mlp(let widths): input.mlp = widths
        }
      }
      inputs.append(input)
      column += m.features
    }
    var spec = ModelSpec(inputs: inputs, architecture: c.model.architecture, task: c.task.kind, outputs: outputs)
    spec.target = c.task.target
    return spec
  }
}
