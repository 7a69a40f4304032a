/// `task.kind`: what is predicted. The data layer reads the labels for it and the model sizes its head and
/// picks its loss by it, so it lives below both.
public enum TaskKind: String, CaseIterable, Sendable {
  case binary, multiclass, regression
}
