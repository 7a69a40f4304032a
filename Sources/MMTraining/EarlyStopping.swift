import MMCheckpoint
import MMConfig

/// Early stopping (Keras' EarlyStopping with restore_best_weights): after each epoch the validation metric
/// either improves on the best by more than min_delta (the best moves, the wait resets) or the wait grows;
/// at `patience` the run stops. The state is saved in every checkpoint.
final class EarlyStopper {
  let settings: EarlyStopping
  private(set) var state: Checkpoint.EarlyStoppingState

  init(_ settings: EarlyStopping, resumed: Checkpoint.EarlyStoppingState?) {
    self.settings = settings
    state = resumed ?? .init(best: settings.metric.higherIsBetter ? -.infinity : .infinity, bestEpoch: 0, wait: 0)
  }

  /// Records epoch `epoch`'s (1-based) metric; true when it is the new best.
  func observe(_ value: Double, epoch: Int) -> Bool {
    let improved =
      settings.metric.higherIsBetter
      ? value - settings.minDelta > state.best : value + settings.minDelta < state.best
    if improved {
      state = .init(best: value, bestEpoch: epoch, wait: 0)
    } else {
      state.wait += 1
    }
    return improved
  }

  var shouldStop: Bool { state.wait >= settings.patience }
}
