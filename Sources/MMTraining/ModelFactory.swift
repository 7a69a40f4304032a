import MMConfig
import MMData
import MMModel

extension ModelSpec {
  /// Checks the per-modality maps (`data.steps`, `model.hidden`) against the modalities the data resolved
  /// to: every entry names one of them and each has one. Run before any data is read.
  public static func checkPerModalityKeys(_ c: TrainConfig, modalities names: [String]) throws {
    try c.data.steps.check(key: "data.steps", modalities: names)
    try c.model.hidden.check(key: "model.hidden", modalities: names)
  }

  /// The model a config asks for, over the modalities the data resolved to (model order), once
  /// `checkPerModalityKeys` has passed for them.
  public static func make(_ c: TrainConfig, modalities: [DataSchema.Modality], outputs: Int) -> ModelSpec {
    var inputs: [Input] = []
    var column = 0
    for m in modalities {
      inputs.append(
        Input(
          name: m.name, column: column, features: m.features, steps: c.data.steps.value(for: m.name)!,
          widths: c.model.hidden.value(for: m.name)!.widths))
      column += m.features
    }
    var spec = ModelSpec(inputs: inputs, architecture: c.model.architecture, task: c.task.kind, outputs: outputs)
    spec.target = c.task.target
    return spec
  }
}
