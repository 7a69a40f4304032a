import Foundation
import MMCheckpoint
import MMCore
import MMTraining

extension InferenceModels {
  /// `target`: a checkpoint file, a run directory, or a cv run directory (folds.json). `overrides` are laid
  /// over each checkpoint's config (`data.path`, `data.missing`).
  public static func load(_ target: String, overrides: [String]) throws -> InferenceModels {
    let manifestPath = FoldManifest.path(target)
    guard FileManager.default.fileExists(atPath: manifestPath) else {
      let path = try RunDirectory.resolveCheckpoint(target)
      return InferenceModels(
        members: [try member(URL(fileURLWithPath: path).lastPathComponent, path, overrides)], cvRunDir: nil)
    }
    let manifest = try FoldManifest.read(target)
    var members: [Member] = []
    for f in 0..<manifest.k {
      let dir = "\(target)/fold-\(f)"
      guard FileManager.default.fileExists(atPath: FoldOutcome.path(target, fold: f)),
        let path = try? RunDirectory.resolveCheckpoint(dir)
      else {
        throw MMError(
          "\(target) is a cv run whose fold \(f) is not finished (no \(FoldOutcome.path(target, fold: f))): finish it "
            + "(mmtrain cv --resume \(target)), or score one fold's model with --checkpoint \(target)/fold-K")
      }
      members.append(try member("fold-\(f)", path, overrides))
    }
    return InferenceModels(members: members, cvRunDir: target)
  }
}
