/// `task.kind`: what is predicted. The data layer reads the labels for it and the model sizes its head and
/// picks its loss by it, so it lives below both.
public enum TaskKind: String, CaseIterable, Sendable {
  case binary, multiclass, regression
}

/// `task.target`: one label per sample (`sample`), or one per time step (`step`: /labels [N, T], the head
/// runs on every valid step of the top recurrent layer, and losses and metrics are over the valid steps).
public enum TargetKind: String, CaseIterable, Sendable {
  case sample, step
}
