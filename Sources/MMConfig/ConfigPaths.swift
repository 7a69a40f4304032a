// Paths in a config are resolved once, when the run starts: relative ones against the working directory
// the run was started from, and stored absolute (in the checkpoint's config too), so `--resume` finds the
// data and the run directory from any other working directory.
import Foundation
import MMCore

extension TrainConfig {
  /// `data.path` and `checkpoint.dir` made absolute against `directory` (normally the working directory).
  public func resolvingPaths(against directory: String = FileManager.default.currentDirectoryPath) -> TrainConfig {
    var c = self
    c.data.path = Self.absolute(data.path, against: directory)
    c.checkpoint.dir = Self.absolute(checkpoint.dir, against: directory)
    return c
  }

  public static func absolute(_ path: String, against directory: String) -> String {
    let url =
      path.hasPrefix("/") ? URL(fileURLWithPath: path) : URL(fileURLWithPath: directory).appendingPathComponent(path)
    return url.standardizedFileURL.path
  }

  /// A path as printed: relative to the working directory when it lies below it, absolute otherwise.
  public static func display(_ path: String, from directory: String = FileManager.default.currentDirectoryPath)
    -> String
  {
    let base = directory.hasSuffix("/") ? directory : directory + "/"
    return path.hasPrefix(base) ? String(path.dropFirst(base.count)) : path
  }

  /// Rules that need the world size, checked as early as the config itself.
  public func check(worldSize: Int) throws {
    if train.batchSize < worldSize {
      throw MMError.usage(
        "train.batch_size = \(train.batchSize) is smaller than the world size \(worldSize) (the global batch is split over the ranks; raise train.batch_size or start fewer ranks)"
      )
    }
  }
}
