import Foundation
import MMCore

/// The run directory (`checkpoint.dir`): checkpoints `checkpoint-eNNNN.h5`, the `latest` link to the
/// newest, `metrics.jsonl`, `split.json` (the validation rows), and `STOPPED` while a run stopped by a
/// signal waits to be resumed. Only rank 0 touches it.
public struct RunDirectory {
  public let path: String
  public init(path: String) { self.path = path }

  public var latestLink: String { path + "/latest" }
  public var metricsPath: String { path + "/metrics.jsonl" }
  public var splitPath: String { path + "/split.json" }
  public var stopMarkerPath: String { path + "/STOPPED" }
  /// `checkpoint-e0003.h5` after 3 epochs; `checkpoint-e0003-s00017.h5` when stopped 17 steps into the 4th.
  public func checkpointPath(epoch: Int, stepInEpoch: Int = 0) -> String {
    path + String(format: "/checkpoint-e%04d", epoch) + (stepInEpoch > 0 ? String(format: "-s%05d", stepInEpoch) : "")
      + ".h5"
  }

  /// The best epoch's checkpoint under early stopping; not a rolling checkpoint, so `checkpoint.keep` never
  /// deletes it.
  public var bestCheckpointPath: String { path + "/checkpoint-best.h5" }

  /// Creates the directory and proves it is writable, before any training time is spent. Returns the
  /// folders it created (outermost first), for `removeIfUnused`.
  @discardableResult
  public func prepare() throws -> [String] {
    var created: [String] = []
    // mkdir -p by hand: Foundation's error on Linux hides the POSIX reason ("Not a directory", ...).
    var prefix = path.hasPrefix("/") ? "" : "."
    for part in path.split(separator: "/") {
      prefix += "/" + part
      var isDir: ObjCBool = false
      if FileManager.default.fileExists(atPath: prefix, isDirectory: &isDir) {
        if !isDir.boolValue {
          throw MMError(
            "checkpoint.dir '\(path)' cannot be created: '\(prefix)' is a file, not a directory (choose another directory)"
          )
        }
        continue
      }
      if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
        throw MMError(
          "checkpoint.dir '\(path)' cannot be created: \(prefix): \(String(cString: strerror(errno))) (choose a writable directory)"
        )
      }
      created.append(prefix)
    }
    // A test write of a checkpoint's worth of bytes, fsynced: a full disk or a read-only mount shows
    // now, before any training time is spent, not at the first checkpoint.
    let probe = path + "/.write-test-\(getpid())"
    defer { unlink(probe) }
    let fd = open(probe, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard fd >= 0 else {
      throw MMError(
        "checkpoint.dir '\(path)' is not writable: \(String(cString: strerror(errno))) (choose a writable directory with checkpoint.dir or --set checkpoint.dir=...)"
      )
    }
    defer { close(fd) }
    let bytes = [UInt8](repeating: 0, count: 64 * 1024)
    guard write(fd, bytes, bytes.count) == bytes.count, fsync(fd) == 0 else {
      throw MMError(
        "checkpoint.dir '\(path)' cannot be written: \(String(cString: strerror(errno))) (is the disk full? free space or choose another checkpoint.dir)"
      )
    }
    unlink(probe)
    return created
  }

  /// Drops the leftovers of a writer killed mid-checkpoint (never a checkpoint's name). Only under the run's
  /// lock (RunLock): a running writer's temporary file looks the same.
  public func removeLeftovers() {
    for name in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
    where name.hasPrefix(".checkpoint-") && name.contains(".tmp-") || name.hasPrefix(".latest.tmp-") {
      unlink(path + "/" + name)
    }
  }

  /// After a run that failed before its first checkpoint: removes the folders `prepare` created, as long
  /// as nothing but the files this run wrote (split.json) is in them, so no empty run directory is left.
  public func removeIfUnused(created: [String]) {
    guard checkpoints().isEmpty else { return }
    unlink(splitPath)
    for folder in created.reversed() { rmdir(folder) }  // rmdir never removes a folder that holds anything
  }

  /// Rank 0, when a signal stopped the run: `STOPPED` names the checkpoint and the reason, so a launcher
  /// can tell a clean stop from a crash whatever exit status mpirun reports.
  public func writeStopMarker(checkpoint: String, reason: String, epoch: Int, stepInEpoch: Int) throws {
    let text = """
      checkpoint: \(URL(fileURLWithPath: checkpoint).lastPathComponent)
      reason: \(reason)
      epoch: \(epoch)
      step_in_epoch: \(stepInEpoch)
      stopped: \(ISO8601DateFormatter().string(from: Date()))
      resume: mmtrain train --resume \(path)

      """
    do { try text.write(toFile: stopMarkerPath, atomically: true, encoding: .utf8) } catch {
      throw MMError("\(stopMarkerPath): cannot write the stop marker: \(error.localizedDescription)")
    }
  }

  /// `--resume` takes the run up again: the marker goes.
  public func removeStopMarker() { unlink(stopMarkerPath) }

  /// `split.json`: the validation rows (global sample indices), and the seed, fraction and kind
  /// (`data.split`) that chose them.
  public func writeSplit(seed: UInt64, fraction: Double, samples: Int, validationRows: [Int], kind: String = "random")
    throws
  {
    let object: [String: Any] = [
      "seed": seed, "validation_fraction": fraction, "samples": samples, "validation_rows": validationRows,
      "split": kind,
    ]
    let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    guard FileManager.default.createFile(atPath: splitPath, contents: data + Data("\n".utf8)) else {
      throw MMError("\(splitPath): cannot write the validation split")
    }
  }

  /// A fresh run must not overwrite another run's checkpoints: nothing is lost silently.
  public func ensureNoPreviousRun() throws {
    guard let last = checkpoints().last else { return }
    throw MMError(
      "checkpoint.dir '\(path)' already holds a run (\(last)): continue it with --resume \(path), or choose another checkpoint.dir"
    )
  }

  /// On resume: drops metrics.jsonl lines of epochs after the checkpoint (written before a crash, then redone).
  public func truncateMetrics(afterEpoch epoch: Int) throws {
    guard let text = try? String(contentsOfFile: metricsPath, encoding: .utf8) else { return }
    let kept = text.split(separator: "\n").filter { line in
      let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
      return (object?["epoch"] as? Int).map { $0 <= epoch } ?? true
    }
    try (kept.joined(separator: "\n") + (kept.isEmpty ? "" : "\n")).write(
      toFile: metricsPath, atomically: true, encoding: .utf8)
  }

  /// Points `latest` at `file` (a relative symlink, replaced atomically) and keeps the newest `keep` checkpoints.
  public func publish(_ file: String, keep: Int) throws {
    try pointLatest(at: file)
    let all = checkpoints()
    for old in all.dropLast(max(keep, 1)) { unlink(path + "/" + old) }
  }

  /// Points `latest` at `file` in this directory (a relative symlink, replaced atomically).
  public func pointLatest(at file: String) throws {
    let name = URL(fileURLWithPath: file).lastPathComponent
    let tmp = path + "/.latest.tmp-\(getpid())"
    unlink(tmp)
    guard symlink(name, tmp) == 0, rename(tmp, latestLink) == 0 else {
      throw MMError("\(latestLink): cannot update: \(String(cString: strerror(errno)))")
    }
  }

  /// Checkpoint file names in this directory, oldest first.
  public func checkpoints() -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [])
      .filter { $0.hasPrefix("checkpoint-e") && $0.hasSuffix(".h5") }
      .sorted { order($0) < order($1) }
  }

  /// "checkpoint-e0003.h5" sorts as e0003-s00000, before a mid-epoch "checkpoint-e0003-s00017.h5".
  private func order(_ name: String) -> String {
    name.contains("-s") ? name : name.replacingOccurrences(of: ".h5", with: "-s00000.h5")
  }

  /// The run directory `--resume TARGET` continues in: TARGET itself, or the folder of a checkpoint file;
  /// absolute, so the run continues there whatever the working directory.
  public static func runDirectory(ofResumeTarget target: String) -> String {
    var isDir: ObjCBool = false
    let url = URL(fileURLWithPath: target).standardizedFileURL
    _ = FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir)
    return isDir.boolValue ? url.path : url.deletingLastPathComponent().path
  }

  /// `--resume RUN_DIR_OR_FILE`: a checkpoint file as is, or a run directory's `latest`.
  public static func resolveCheckpoint(_ target: String) throws -> String {
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: target, isDirectory: &isDir) else {
      throw MMError("\(target): no such checkpoint file or run directory")
    }
    if !isDir.boolValue { return target }
    let run = RunDirectory(path: target)
    if FileManager.default.fileExists(atPath: run.latestLink) {
      return URL(fileURLWithPath: run.latestLink).resolvingSymlinksInPath().path
    }
    guard let last = run.checkpoints().last else {
      throw MMError("\(target): run directory holds no checkpoint (nothing to resume; train without --resume)")
    }
    return target + "/" + last
  }

  /// Appends one JSON object (`line`, without its newline) to metrics.jsonl.
  public func appendMetrics(line data: Data) throws {
    if !FileManager.default.fileExists(atPath: metricsPath) {
      _ = FileManager.default.createFile(atPath: metricsPath, contents: nil)
    }
    guard let h = FileHandle(forWritingAtPath: metricsPath) else {
      throw MMError("\(metricsPath): cannot open for appending")
    }
    defer { try? h.close() }
    do {
      try h.seekToEnd()
      try h.write(contentsOf: data + Data("\n".utf8))  // the throwing API: a full disk is an error, not a crash
    } catch {
      throw MMError("\(metricsPath): cannot append: \(Checkpoint.reason(of: error))")
    }
  }
}
