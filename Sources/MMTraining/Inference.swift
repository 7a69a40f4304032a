import Foundation
import MMCheckpoint
import MMConfig
import MMCore
import MMData
import MMDistributed
import MMEval

/// The models `evaluate` and `predict` score a data file with: one checkpoint (a file, or a run directory's
/// latest), or, for the run directory of `mmtrain cv`, the ensemble of its k fold models (each fold's latest:
/// its best epoch under early stopping), whose outputs are averaged — probabilities for classification, values
/// for regression — as scikit-learn's VotingClassifier(voting="soft") and VotingRegressor do.
public struct InferenceModels {
  public struct Member {
    public let name: String  // "fold-0", or the checkpoint's file name
    public let path: String  // the checkpoint file
    public let checkpoint: Checkpoint.Contents
    /// The checkpoint's config, pointed at the data file.
    public let config: TrainConfig
  }

  public let members: [Member]
  /// The cv run directory whose folds these are; nil for one checkpoint.
  public let cvRunDir: String?
  public var isEnsemble: Bool { cvRunDir != nil }

  public init(members: [Member], cvRunDir: String?) {
    self.members = members
    self.cvRunDir = cvRunDir
  }

  /// One checkpoint file's model, its config pointed at the data by `overrides`.
  public static func member(_ name: String, _ path: String, _ overrides: [String]) throws -> Member {
    let contents = try Checkpoint.read(path: path)
    let config = try TrainConfig.parse(yaml: contents.configYAML, source: path, overrides: overrides)
    return Member(name: name, path: path, checkpoint: contents, config: config)
  }

  /// What the console and the report call these models.
  public var description: String {
    guard let cvRunDir else { return members[0].path }
    return "\(cvRunDir) (ensemble of \(members.count) fold models)"
  }
}

/// The scores of `InferenceModels` on every row of a data file.
public struct InferenceResult {
  /// The ensemble's (or the one model's) outputs.
  public let outputs: RowOutputs
  /// Each member's metrics (ensembles only; empty without labels).
  public let memberMetrics: [(name: String, path: String, metrics: EvalMetrics)]
  /// The last member's session: the data's schema, groups and the model's class names.
  public let session: TrainingSession
}

extension InferenceModels {
  /// Every row of the data file through every member, averaged. Collective: every rank runs it.
  public func run(comm: Communicator, labelsOptional: Bool) throws -> InferenceResult {
    var sum: RowOutputs? = nil
    var scores: [(name: String, path: String, metrics: EvalMetrics)] = []
    var last: TrainingSession? = nil
    for member in members {
      var options = TrainingSession.Options()
      options.inference = true
      options.initFrom = member.checkpoint
      options.labelsOptional = labelsOptional
      let session = try TrainingSession(config: member.config, comm: comm, options: options)
      let evaluator = Evaluator(session)
      let out = evaluator.predict(rows: Array(0..<session.schema.count))
      try comm.agree { try session.shard.checkSource() }  // rows read in place: the file as it was loaded
      if isEnsemble && session.schema.hasLabels { scores.append((member.name, member.path, evaluator.metrics(out))) }
      if var total = sum {
        for i in total.outputs.indices {
          for k in total.outputs[i].indices { total.outputs[i][k] += out.outputs[i][k] }
        }
        sum = total
      } else {
        sum = out
      }
      last = session
    }
    guard var mean = sum, let last else { preconditionFailure("at least one model") }
    let n = Double(members.count)
    if members.count > 1 { mean.outputs = mean.outputs.map { $0.map { $0 / n } } }
    return InferenceResult(outputs: mean, memberMetrics: scores, session: last)
  }
}
