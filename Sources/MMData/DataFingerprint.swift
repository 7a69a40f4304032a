import Foundation
import MMCore
import MMHDF5

/// What identifies a data file without reading its values: its size, its modification time, and a hash of
/// every dataset's name, shape and dtype. Checkpoints record it, so a run can tell whether it continues on
/// the file it was trained on.
public struct DataFingerprint: Equatable, Sendable {
  public var size: Int64  // bytes
  public var mtime: Double  // seconds since 1970
  public var schemaHash: String  // FNV-1a-64 of "path shape dtype" lines, every dataset, sorted; 16 hex digits

  public init(size: Int64, mtime: Double, schemaHash: String) {
    self.size = size; self.mtime = mtime; self.schemaHash = schemaHash
  }

  public static func of(path: String) throws -> DataFingerprint {
    var st = stat()
    guard stat(path, &st) == 0 else {
      throw MMError("\(path): cannot read the file's size and time: \(String(cString: strerror(errno)))")
    }
    let mtime = Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9
    let file = try HDF5File(path: path, mode: .readOnly)
    defer { file.close() }
    return DataFingerprint(
      size: Int64(st.st_size), mtime: mtime, schemaHash: fnv1a64Hex(try schemaLines(file, "/").joined()))
  }

  /// One line per dataset below `group`, depth first in name order: "/modalities/text [100, 20, 300] float32\n".
  static func schemaLines(_ file: HDF5File, _ group: String) throws -> [String] {
    var lines: [String] = []
    for name in try file.members(ofGroup: group).sorted() {
      let path = (group == "/" ? "" : group) + "/" + name
      if file.isGroup(path) {
        lines += try schemaLines(file, path)
      } else if file.isDataset(path) {
        let info = try file.datasetInfo(path)
        lines.append("\(path) \(info.shape) \(info.dtype)\n")
      }
    }
    return lines
  }

  /// What changed from `old` to `self`, in words ("size 1000 -> 2000 bytes; datasets (names, shapes or dtypes)
  /// differ"), or nil when nothing did.
  public func difference(from old: DataFingerprint) -> String? {
    var changes: [String] = []
    if schemaHash != old.schemaHash { changes.append("its datasets (names, shapes or dtypes) differ") }
    if size != old.size { changes.append("size \(old.size) -> \(size) bytes") }
    if mtime != old.mtime {
      let f = ISO8601DateFormatter()
      changes.append(
        "modified \(f.string(from: Date(timeIntervalSince1970: old.mtime))) -> \(f.string(from: Date(timeIntervalSince1970: mtime)))"
      )
    }
    return changes.isEmpty ? nil : changes.joined(separator: "; ")
  }
}

/// FNV-1a, 64 bits, as 16 lowercase hex digits: a stable hash (the same on every platform and run), for
/// telling files apart, not for security.
func fnv1a64Hex(_ text: String) -> String {
  var hash: UInt64 = 0xcbf2_9ce4_8422_2325
  for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
  let hex = String(hash, radix: 16)
  return String(repeating: "0", count: 16 - hex.count) + hex
}
