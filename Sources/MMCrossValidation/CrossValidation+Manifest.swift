import Foundation
import MMCheckpoint
import MMConfig
import MMCore
import MMData
import MMDistributed
import MMEval
import MMHDF5
import MMTraining

/// The fold manifest of a run: made by rank 0 (or read and held to this job's config and data), then
/// broadcast, so every rank and every job of the run uses the same folds.
extension CrossValidation {
  // MARK: - Manifest

  /// Rank 0 makes (or reads and checks) the manifest; every rank gets it by broadcast.
  func agreedManifest(_ mode: Mode) throws -> FoldManifest {
    var bytes: [UInt8] = []
    try comm.agree {
      guard comm.isRoot else { return }
      let existing = FileManager.default.fileExists(atPath: FoldManifest.path(runDir))
      let manifest: FoldManifest
      switch mode {
      case .fresh:
        let refuse = MMError(
          "checkpoint.dir '\(runDir)' already holds a cv run (\(FoldManifest.path(runDir))): continue it with "
            + "mmtrain cv --resume \(runDir), or choose another checkpoint.dir", kind: .usage)
        if existing { throw refuse }
        manifest = try makeManifest()
        try RunDirectory(path: runDir).prepare()
        lock = try RunLock(directory: runDir)
        if FileManager.default.fileExists(atPath: FoldManifest.path(runDir)) { throw refuse }  // made meanwhile
        try ReportFiles.atomicWrite(try manifest.encoded(), to: URL(fileURLWithPath: FoldManifest.path(runDir)))
      case .resume:
        lock = try RunLock(directory: runDir)
        manifest = try FoldManifest.read(runDir)
        try checkConfig(manifest, how: "cv --resume \(runDir)")
        try checkData(manifest)
      case .fold(let f):
        try RunDirectory(path: runDir).prepare()
        lock = try RunLock(directory: runDir, mode: .shared)  // fold jobs side by side, each locks its fold-K
        if existing {
          manifest = try FoldManifest.read(runDir)
          let made = try makeManifest()
          guard made.spec == manifest.spec, made.folds == manifest.folds else {
            throw MMError(
              "\(FoldManifest.path(runDir)) holds other folds than this config gives (cv.folds \(manifest.k), "
                + "cv.strategy \(manifest.strategy.rawValue), cv.shuffle \(manifest.shuffle), cv.seed \(manifest.seed)); "
                + "use the run's config or another checkpoint.dir", kind: .usage)
          }
          try checkConfig(manifest, how: "cv --fold \(f)")
          try checkData(manifest)
        } else {
          manifest = try makeManifest()
          try ReportFiles.atomicWrite(try manifest.encoded(), to: URL(fileURLWithPath: FoldManifest.path(runDir)))
        }
      }
      bytes = Array(try manifest.encoded())
    }
    comm.broadcast(&bytes, root: 0)
    return try ReportFiles.decoder().decode(FoldManifest.self, from: Data(bytes))
  }

  /// The resume rule (ResumeRules): this job's config may not change a key that shaped the folds already
  /// trained (model, data, task, cv, train.seed).
  func checkConfig(_ manifest: FoldManifest, how: String) throws {
    let saved = try TrainConfig.parse(yaml: manifest.config, source: FoldManifest.path(runDir))
    _ = try ResumeRules.checkCV(manifest: saved, run: config, how: how, manifestPath: FoldManifest.path(runDir))
  }

  /// Reads /labels (stratified) and /groups, assigns the folds.
  func makeManifest() throws -> FoldManifest {
    let c = config
    let file = try HDF5File(path: c.data.path, mode: .readOnly)
    defer { file.close() }
    let schema = try DataSchema.read(file)
    let strategy = c.cv.strategy
    if strategy.needsClasses && c.task.kind == .regression {
      throw MMError(
        "cv.strategy: \(strategy.rawValue) keeps class shares, but task.kind is regression; use cv.strategy: "
          + (strategy == .stratified ? "kfold" : "group"), kind: .usage)
    }
    if strategy.needsGroups && !schema.hasGroups {
      throw MMError(
        "\(c.data.path): cv.strategy: \(strategy.rawValue) needs the dataset /groups (integer [N]: the subject, speaker or "
          + "session of each sample); add it, or use cv.strategy: \(strategy == .group ? "kfold" : "stratified")")
    }
    let groups = schema.hasGroups ? try file.readInt64s("/groups").map(Int.init) : nil
    let names = try schema.resolveModalities(c.data.modalities).map(\.name)
    let labels = strategy.needsClasses ? try schema.strata(file, target: c.task.target, modalities: names) : nil
    var plan: FoldPlan
    do {
      plan = try FoldAssigner.assign(
        c.cv.spec, n: schema.count, labels: labels, groups: strategy.needsGroups ? groups : nil)
    } catch let e as MMError {
      throw MMError("\(c.data.path): \(e.message)", kind: e.kind)
    }
    let print = try DataFingerprint.of(path: c.data.path)
    return FoldManifest(
      strategy: strategy, k: c.cv.folds, shuffle: c.cv.shuffle, seed: c.cv.seed,
      data: .init(
        path: c.data.path, samples: schema.count, sizeBytes: print.size, mtime: print.mtime,
        schemaHash: print.schemaHash),
      classNames: schema.classNames, groups: groups, warnings: plan.warnings, config: c.yaml(), folds: plan.folds,
      configFile: configFile)
  }

  /// The data file must still be the one the folds were made for.
  func checkData(_ m: FoldManifest) throws {
    let now = try DataFingerprint.of(path: m.data.path)
    let then = DataFingerprint(size: m.data.sizeBytes, mtime: m.data.mtime, schemaHash: m.data.schemaHash)
    if now.size != then.size || now.schemaHash != then.schemaHash {
      throw MMError(
        "\(m.data.path) is not the file \(FoldManifest.path(runDir)) was made for (\(now.difference(from: then) ?? "changed")); "
          + "restore it, or start a new cv run in another checkpoint.dir")
    }
  }
}
