import Foundation
import MMDistributed

/// The loader's read rate per node: on a cluster many hosts read one file from a shared filesystem (NFS,
/// Lustre), and a slow node or a filesystem that serves some hosts worse shows here first. Every rank's bytes
/// and seconds are summed per host name (one all-reduce at start-up); rank 0 prints one line when the run spans
/// more than one node: per node its ranks, bytes and the slowest rank's seconds, and their rate.
enum NodeLoad {
  static let nameBytes = 64

  /// Collective. nil on one node.
  static func line(bytes: Int, seconds: Double, comm: Communicator) -> String? {
    let slot = nameBytes + 2, W = comm.size
    var all = [Double](repeating: 0, count: W * slot)
    let base = comm.rank * slot
    for (k, b) in SharedRunDirectory.hostName.utf8.prefix(nameBytes).enumerated() { all[base + k] = Double(b) }
    all[base + nameBytes] = Double(bytes)
    all[base + nameBytes + 1] = seconds
    comm.allreduceSum(&all)
    var order: [String] = [], nodes: [String: (ranks: Int, bytes: Double, seconds: Double)] = [:]
    for r in 0..<W {
      let codes = all[(r * slot)..<(r * slot + nameBytes)].prefix { $0 != 0 }.map { UInt8($0) }
      let name = String(decoding: codes, as: UTF8.self)
      if nodes[name] == nil { order.append(name) }
      var n = nodes[name] ?? (0, 0, 0)
      n.ranks += 1; n.bytes += all[r * slot + nameBytes]; n.seconds = max(n.seconds, all[r * slot + nameBytes + 1])
      nodes[name] = n
    }
    guard order.count > 1 else { return nil }
    return "load per node: "
      + order.map { name in
        let n = nodes[name]!
        return String(
          format: "%@ %d rank%@, %.0f MB in %.2f s (%.2f GB/s)", name, n.ranks, n.ranks == 1 ? "" : "s", n.bytes / 1e6,
          n.seconds, n.bytes / 1e9 / max(n.seconds, 1e-9))
      }.joined(separator: "; ")
  }
}
