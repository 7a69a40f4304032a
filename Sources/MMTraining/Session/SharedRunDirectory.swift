import Foundation
import MMCore
import MMDistributed

/// Every rank must see one and the same run directory. On several nodes, a checkpoint.dir on a node-local
/// disk (/tmp, a local scratch) is a different folder of the same name on each node: rank 0 writes the
/// checkpoints where the other nodes cannot read them, and a requeue onto other nodes starts from nothing.
///
/// So at start-up, before anything in the directory changes, rank 0 writes a marker with a fresh random token
/// into it and broadcasts the marker's name and text (the broadcast orders the write before every read); each
/// rank reads the marker back, and a rank that does not find it stops the run with one line. The marker's name
/// is new on every run, so an NFS client's cached "no such file" for an earlier name cannot hide it, and
/// close-to-open consistency makes its text visible; rank 0 removes it once every rank has read it.
public enum SharedRunDirectory {
  /// What rank 0 wrote: the file's name inside the run directory and its text ("<token> <host>").
  public struct Marker: Equatable, Sendable {
    public let name: String
    public let text: String
    /// The host rank 0 wrote it on.
    public var host: String { text.split(separator: " ").dropFirst().first.map(String.init) ?? "?" }
  }

  static let prefix = ".shared-check-"

  /// Rank 0: writes a new marker into `directory` (which exists and is writable: RunDirectory.prepare).
  public static func write(into directory: String) throws -> Marker {
    let token = String(UInt64.random(in: 1...UInt64.max), radix: 16)
    let marker = Marker(name: prefix + token, text: "\(token) \(hostName)")
    do {
      try marker.text.write(toFile: directory + "/" + marker.name, atomically: false, encoding: .utf8)
    } catch {
      throw MMError("checkpoint.dir '\(directory)': cannot write \(marker.name) (\(error.localizedDescription))")
    }
    return marker
  }

  /// Any rank: nil when `directory` holds `marker`, else why not, in a few words.
  public static func mismatch(in directory: String, marker: Marker) -> String? {
    let path = directory + "/" + marker.name
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
      return FileManager.default.fileExists(atPath: directory)
        ? "it is not there" : "the folder does not exist"
    }
    return text == marker.text ? nil : "it holds another text there"
  }

  /// Collective: throws the agreed one-line error (usage: the fix is a shared checkpoint.dir) when any rank
  /// does not see rank 0's marker. One process: nothing to compare, nothing written.
  public static func check(_ directory: String, comm: Communicator) throws {
    guard comm.size > 1 else { return }
    var written: Marker? = nil
    var writeError: Error? = nil
    var bytes: [UInt8] = []
    if comm.isRoot {
      do {
        let marker = try write(into: directory)
        written = marker
        bytes = Array((marker.name + "\n" + marker.text).utf8)
      } catch { writeError = error }
    }
    comm.broadcast(&bytes, root: 0)
    // After the agreement every rank has read it (agree is collective).
    defer { if let written { unlink(directory + "/" + written.name) } }
    try comm.agree {
      if let writeError { throw writeError }
      let parts = String(decoding: bytes, as: UTF8.self).split(separator: "\n", maxSplits: 1).map(String.init)
      guard parts.count == 2 else { throw MMError("rank 0 wrote no marker into checkpoint.dir '\(directory)'") }
      let marker = Marker(name: parts[0], text: parts[1])
      if let why = mismatch(in: directory, marker: marker) {
        throw MMError.usage(
          "checkpoint.dir '\(directory)' is not the same folder on every node: rank 0 wrote \(marker.name) into it "
            + "on \(marker.host), but on \(hostName) \(why); put the run directory on a filesystem every node shares "
            + "(NFS, Lustre, GPFS), not a node-local disk (--set checkpoint.dir=/shared/path)")
      }
    }
  }

  /// This machine's name (gethostname: no name service lookup).
  static var hostName: String {
    var name = [CChar](repeating: 0, count: 256)
    return gethostname(&name, name.count - 1) == 0 ? String(cString: name) : "this node"
  }
}
