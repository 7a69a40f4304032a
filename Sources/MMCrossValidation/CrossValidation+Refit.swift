import Foundation
import MMCheckpoint
import MMConfig
import MMCore
import MMData
import MMDistributed
import MMEval
import MMHDF5
import MMTraining

/// `cv.refit`: one final model on every row after the folds.
extension CrossValidation {
  // MARK: - Refit

  /// `cv.refit`: one final model on every row, into RUN_DIR/final/ (as GridSearchCV's refit), trained for the
  /// folds' mean best epoch when early stopping chose the epochs, else for train.epochs; no validation split,
  /// so no early stopping. A stopped refit continues from its checkpoint on `cv --resume`.
  func refit(_ manifest: FoldManifest) throws {
    let dir = runDir + "/final"
    // Rank 0 reads the folds' best epochs; the rounded mean reaches every rank by one max-reduce.
    let epochs = comm.allreduceMax(
      try comm.agree { () -> Int in
        guard comm.isRoot else { return 0 }
        guard config.train.earlyStopping != nil else { return config.train.epochs }
        let best = try (0..<manifest.k).compactMap { try FoldOutcome.read(runDir, fold: $0)?.bestEpoch }
        guard !best.isEmpty else { return config.train.epochs }
        return max(1, Int((Double(best.reduce(0, +)) / Double(best.count)).rounded()))
      })
    var c = config
    c.checkpoint.dir = dir
    c.data.validationFraction = 0
    c.train.earlyStopping = nil
    c.train.epochs = epochs
    var options = TrainingSession.Options()
    options.progress = progressMode
    let run = RunDirectory(path: dir)
    let resumeFrom: String? = try comm.agree {
      run.checkpoints().isEmpty ? nil : try RunDirectory.resolveCheckpoint(dir)
    }
    if let resumeFrom { options.resume = try comm.agree { try Checkpoint.read(path: resumeFrom) } }
    let why = config.train.earlyStopping != nil ? "the folds' mean best epoch" : "train.epochs"
    console.line("refit: one model on all \(manifest.data.samples) samples for \(epochs) epochs (\(why)) -> \(dir)")
    try TrainLoop(try TrainingSession(config: c, comm: comm, options: options)).run()
    console.line("refit: done; the final model is \(dir)/latest")
  }
}
