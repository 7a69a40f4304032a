import Foundation
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
      throw EvalError("\(p): not found; is \(runDir) a run directory of mmtrain cv?")
    }
    do { return try ReportFiles.decoder().decode(FoldManifest.self, from: data) } catch {
      throw EvalError("\(p): not a valid fold manifest (\(error)); start the run again in another checkpoint.dir")
    }
  }

  /// The part of the manifest one fold's checkpoints carry (attribute `cv_manifest`).
  public func foldAttribute(_ f: Int) -> String {
    struct One: Codable { var strategy: FoldStrategy; var k: Int; var shuffle: Bool; var seed: UInt64; var data: DataRef; var fold: Int; var test: [Int]; var train: [Int] }
    let one = One(strategy: strategy, k: k, shuffle: shuffle, seed: seed, data: data, fold: f, test: folds[f].test, train: folds[f].train)
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

  public static func path(_ runDir: String, fold: Int) -> String { "\(runDir)/fold-\(fold)/fold-result.json" }

  public static func read(_ runDir: String, fold: Int) throws -> FoldOutcome? {
    let p = path(runDir, fold: fold)
    guard let data = FileManager.default.contents(atPath: p) else { return nil }
    do { return try ReportFiles.decoder().decode(FoldOutcome.self, from: data) } catch {
      throw EvalError("\(p): not a valid fold result (\(error)); delete it and run the fold again (mmtrain cv --resume)")
    }
  }
}

/// The per-epoch curves of a run directory's metrics.jsonl (every epoch once, also across resumes).
enum Curves {
  static func read(_ metricsPath: String) -> [EpochPoint] {
    guard let text = try? String(contentsOfFile: metricsPath, encoding: .utf8) else { return [] }
    var byEpoch: [Int: EpochPoint] = [:]
    for line in text.split(separator: "\n") {
      guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], let e = o["epoch"] as? Int else { continue }
      func d(_ k: String) -> Double? { (o[k] as? NSNumber)?.doubleValue }
      byEpoch[e] = EpochPoint(epoch: e, trainLoss: d("train_loss"), trainAccuracy: d("train_accuracy"), valLoss: d("val_loss"), valAccuracy: d("val_accuracy"))
    }
    return byEpoch.keys.sorted().map { byEpoch[$0]! }
  }
}
