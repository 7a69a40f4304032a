import Foundation
import MMCore

/// What `--resume RUN_DIR_OR_FILE` loads. A file is read as is (a damaged one is an error naming it). A run
/// directory resumes its `latest`; when that cannot be read (a checksum mismatch, a truncated file, a
/// dangling link), the next older checkpoint is tried, newest first, and `note` says which was skipped and why.
public enum ResumeSource {
  public static func load(_ target: String) throws -> (contents: Checkpoint.Contents, note: String?) {
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: target, isDirectory: &isDir) else {
      throw MMError("\(target): no such checkpoint file or run directory")
    }
    if !isDir.boolValue { return (try Checkpoint.read(path: target), nil) }
    let run = RunDirectory(path: target)
    var candidates: [String] = []
    if let link = try? FileManager.default.destinationOfSymbolicLink(atPath: run.latestLink) {
      candidates.append(link.hasPrefix("/") ? link : target + "/" + link)
    }
    for name in run.checkpoints().reversed() where !candidates.contains(target + "/" + name) {
      candidates.append(target + "/" + name)
    }
    guard !candidates.isEmpty else {
      throw MMError("\(target): run directory holds no checkpoint (nothing to resume; train without --resume)")
    }
    var skipped: [String] = []
    for path in candidates {
      do {
        let contents = try Checkpoint.read(path: path)
        let note =
          skipped.isEmpty
          ? nil
          : "\(skipped.joined(separator: "; ")); resuming from the newest valid checkpoint, \(URL(fileURLWithPath: path).lastPathComponent)"
        return (contents, note)
      } catch {
        let reason =
          FileManager.default.fileExists(atPath: path) ? "\(error)" : "\(path): missing (latest points to it)"
        skipped.append("skipped \(reason)")
      }
    }
    throw MMError("\(target): no valid checkpoint to resume from: \(skipped.joined(separator: "; "))")
  }
}
