import Foundation
import MMConfig
import MMCore
import MMData
import MMEval

/// RUN_DIR/folds.json: the fold manifest of a cv run. Rank 0 writes it once; `--resume`, `--fold K` and
/// `--merge` read it back, so every job of a run uses the same folds.
public struct FoldManifest: Codable, Equatable {
  public var format = "mmtrain-folds"
  public var formatVersion = 1
  public var strategy: FoldStrategy
  public var k: Int
  public var shuffle: Bool
  public var seed: UInt64
  public var data: DataRef
  public var classNames: [String]?
  /// `/groups` when the file has it (for predictions.csv).
  public var groups: [Int]?
  public var warnings: [String]
  /// The resolved YAML of the run (checkpoint.dir = RUN_DIR).
  public var config: String
  public var folds: [Fold]
  /// The name of the config file the run was started with (the report's title), when there was one.
  public var configFile: String? = nil

  public struct DataRef: Codable, Equatable {
    public var path: String
    public var samples: Int
    public var sizeBytes: Int64
    public var mtime: Double
    public var schemaHash: String
    /// "size-schemaHash": what the report shows.
    public var fingerprint: String { "\(sizeBytes)-\(schemaHash)" }
  }

  public var spec: FoldSpec { FoldSpec(k: k, strategy: strategy, shuffle: shuffle, seed: seed) }

  public static func path(_ runDir: String) -> String { runDir + "/folds.json" }

  public func encoded() throws -> Data { try ReportFiles.encoder().encode(self) }

  public static func read(_ runDir: String) throws -> FoldManifest {
    let p = path(runDir)
    guard let data = FileManager.default.contents(atPath: p) else {
      throw MMError("\(p): not found; is \(runDir) a run directory of mmtrain cv?")
    }
    do { return try ReportFiles.decoder().decode(FoldManifest.self, from: data) } catch {
      throw MMError("\(p): not a valid fold manifest (\(error)); start the run again in another checkpoint.dir")
    }
  }

  /// The part of the manifest one fold's checkpoints carry (attribute `cv_manifest`).
  public func foldAttribute(_ f: Int) -> String {
    struct One: Codable {
      var strategy: FoldStrategy; var k: Int; var shuffle: Bool; var seed: UInt64; var data: DataRef; var fold: Int;
      var test: [Int]; var train: [Int]
    }
    let one = One(
      strategy: strategy, k: k, shuffle: shuffle, seed: seed, data: data, fold: f, test: folds[f].test,
      train: folds[f].train)
    let e = JSONEncoder()
    e.keyEncodingStrategy = .convertToSnakeCase
    return String(decoding: (try? e.encode(one)) ?? Data(), as: UTF8.self)
  }
}

/// RUN_DIR/fold-K/fold-result.json: one finished fold — its report entry and its test predictions. A fold
/// with this file is done: `--resume` skips it and `--merge` reads it.
public struct FoldOutcome: Codable, Equatable {
  public var fold: Int
  public var worldSize: Int
  public var result: FoldResult
  public var rows: [Int]
  public var outputs: [[Double]]
  public var labels: [[Double]]
  /// Per-step targets: each row's time step (`rows` repeats a sample once per valid step); nil otherwise.
  public var steps: [Int]? = nil
  /// The resolved YAML this fold trained with (checkpoint.dir = RUN_DIR); nil in runs before it was recorded.
  public var config: String? = nil
  /// The epoch whose weights the fold kept, when early stopping chose it.
  public var bestEpoch: Int? = nil

  public static func path(_ runDir: String, fold: Int) -> String { "\(runDir)/fold-\(fold)/fold-result.json" }

  public static func read(_ runDir: String, fold: Int) throws -> FoldOutcome? {
    let p = path(runDir, fold: fold)
    guard let data = FileManager.default.contents(atPath: p) else { return nil }
    do { return try ReportFiles.decoder().decode(FoldOutcome.self, from: data) } catch {
      throw MMError("\(p): not a valid fold result (\(error)); delete it and run the fold again (mmtrain cv --resume)")
    }
  }
}

/// The settings the folds of a cv run trained with. Every fold follows the manifest's config in the keys that
/// shape a model (ResumeRules); keys that only shape the future (train.epochs, train.lr, ...) may have been
/// changed by a `cv --resume --set` for the folds not yet finished. The report then states the difference
/// instead of claiming one config for all.
enum FoldSettings {
  /// Keys that say where and how a run executes, not what it computes.
  static func isOperational(_ key: String) -> Bool {
    key.hasPrefix("checkpoint.") || key.hasPrefix("dist.")
      || ["data.path", "cv.parallel_folds", "cv.refit", "train.blas_threads"].contains(key)
  }

  /// The config the report shows (the folds' own when they agree) and one warning per key they differ in.
  /// Throws when a fold trained with a frozen key other than the manifest's (a result from another experiment).
  static func reconcile(_ manifest: FoldManifest, _ outcomes: [FoldOutcome], runDir: String) throws -> (
    config: String, warnings: [String]
  ) {
    let source = FoldManifest.path(runDir)
    let saved = try TrainConfig.parse(yaml: manifest.config, source: source)
    var configs: [(fold: Int, yaml: String, config: TrainConfig)] = []
    for o in outcomes {
      let yaml = o.config ?? manifest.config
      let c = try TrainConfig.parse(yaml: yaml, source: FoldOutcome.path(runDir, fold: o.fold))
      if let change = ResumeRules.changedKeys(checkpoint: saved, run: c).first {
        throw MMError(
          "\(FoldOutcome.path(runDir, fold: o.fold)): fold \(o.fold) trained with \(change.key) = \(change.run), but the run's "
            + "folds train with \(change.checkpoint) (\(source)); delete that fold's folder and run it again (mmtrain cv --resume \(runDir))"
        )
      }
      configs.append((o.fold, yaml, c))
    }
    var warnings: [String] = []
    let rendered = configs.map(\.config.renderedKeys)
    for (k, key) in (rendered.first ?? []).map(\.key).enumerated() where !isOperational(key) {
      let values = rendered.map { $0[k].value }
      guard Set(values).count > 1 else { continue }
      var folds: [String: [Int]] = [:]
      for (i, v) in values.enumerated() { folds[v, default: []].append(configs[i].fold) }
      let parts = folds.sorted { $0.value[0] < $1.value[0] }.map { value, fs in
        "\(value) (fold\(fs.count == 1 ? "" : "s") \(fs.map(String.init).joined(separator: ", ")))"
      }
      warnings.append(
        "the folds trained with different \(key): \(parts.joined(separator: "; ")); the config shown is fold \(configs[0].fold)'s"
      )
    }
    return (configs.first?.yaml ?? manifest.config, warnings)
  }
}
