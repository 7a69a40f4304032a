import MMConfig
import MMData
import MMModel

extension ModelSpec {
  /// The model a config asks for, over the modalities the data resolved to (model order). Per-modality
  /// maps (`data.steps`, `model.hidden`) are checked against those modalities here.
  public static func make(_ c: TrainConfig, modalities: [DataSchema.Modality], outputs: Int) throws -> ModelSpec {
    let names = modalities.map(\.name)
    try c.data.steps.check(key: "data.steps", modalities: names)
    try c.model.hidden.check(key: "model.hidden", modalities: names)
    var inputs: [Input] = []
    var column = 0
    for m in modalities {
      inputs.append(Input(name: m.name, column: column, features: m.features, steps: c.data.steps.value(for: m.name)!,
                          hidden: c.model.hidden.value(for: m.name)!))
      column += m.features
    }
    return ModelSpec(
      inputs: inputs, fusion: c.model.fusion, cell: c.model.cell, layers: c.model.layers, bidirectional: c.model.bidirectional,
      pooling: c.model.pooling, attentionSize: c.model.attentionSize, fusionSize: c.model.fusionSize,
      headHidden: c.model.headHidden, dropout: c.model.dropout, task: c.task.kind, outputs: outputs)
  }
}
