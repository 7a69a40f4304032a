import Foundation
import MMCore

/// Writing a path the user named (`predict --out`, a report, `synth --out`, a cv merge): the bytes go into a
/// temporary file beside the target, then rename(2) puts it in place. rename replaces a regular file
/// atomically and cannot replace a directory, so nothing but a regular file is ever replaced, and a reader
/// never sees half a file. A target that exists and is not a regular file is refused before anything is
/// written.
public enum OutputFile {
  /// Refuses a target that exists and is not a regular file (a symbolic link counts as what it points to),
  /// and (unless `folderMayBeMissing`) a target whose folder does not exist. `option` names where the path
  /// came from (`--out`), or nil for a file mmtrain chose itself.
  public static func check(_ path: String, option: String? = nil, folderMayBeMissing: Bool = false) throws {
    let name = option.map { "\($0) \(path)" } ?? path
    var st = stat()
    if stat(path, &st) == 0 {
      if st.st_mode & S_IFMT == S_IFDIR {
        throw MMError("\(name) is a directory; give a file path (mmtrain never replaces a directory)", kind: .usage)
      }
      if st.st_mode & S_IFMT != S_IFREG {
        throw MMError("\(name) exists and is not a regular file; give another path", kind: .usage)
      }
    } else if lstat(path, &st) == 0 {
      throw MMError("\(name) is a symbolic link to nothing; remove it or give another path", kind: .usage)
    }
    let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
    var isDirectory: ObjCBool = false
    if !FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory) {
      if folderMayBeMissing { return }
      throw MMError(
        "\(option.map { "\($0)'s" } ?? "the") folder \(folder) does not exist (create it first, or give another \(option ?? "path"))",
        kind: .usage)
    }
    if !isDirectory.boolValue {
      throw MMError(
        "\(option.map { "\($0)'s" } ?? "the") folder \(folder) is not a directory (give another \(option ?? "path"))",
        kind: .usage)
    }
  }

  /// Writes `data` to `path` through a temporary file and an atomic rename.
  public static func write(_ data: Data, to path: String, option: String? = nil) throws {
    try replace(path, option: option) { tmp in
      guard FileManager.default.createFile(atPath: tmp, contents: data) else {
        throw MMError("\(path): cannot write: \(String(cString: strerror(errno))) (is the folder writable?)")
      }
    }
  }

  /// Lets `body` write the new contents at a temporary path beside `path` (for writers that need a path,
  /// such as HDF5), then renames it over `path`. The temporary file is removed if anything fails.
  public static func replace(_ path: String, option: String? = nil, _ body: (String) throws -> Void) throws {
    try check(path, option: option)
    let target = resolvedTarget(path)
    let url = URL(fileURLWithPath: target)
    // unique per writer: concurrent jobs (Slurm array folds) may write the same file at once
    let tmp = url.deletingLastPathComponent()
      .appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(UUID().uuidString.prefix(8))").path
    do {
      try body(tmp)
      guard rename(tmp, target) == 0 else {
        throw MMError("\(option.map { "\($0) \(path)" } ?? path): cannot write: \(String(cString: strerror(errno)))")
      }
    } catch {
      unlink(tmp)
      throw error
    }
  }

  /// A symbolic link to a regular file is written through (the link stays, its file is replaced).
  static func resolvedTarget(_ path: String) -> String {
    var st = stat()
    guard lstat(path, &st) == 0, st.st_mode & S_IFMT == S_IFLNK, let real = realpath(path, nil) else { return path }
    defer { free(real) }
    return String(cString: real)
  }
}
