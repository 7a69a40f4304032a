import Foundation
import MMCore
import MMDistributed

/// `cellbench allreduce FLOATS[,FLOATS...] [--compress fp16] [--buckets K] [--seconds S]`, under mpirun or srun:
/// the time of the step's gradient sum on a buffer of FLOATS floats, through the training loop's own path
/// (GradientExchange over MPICommunicator: MPI_Iallreduce in place of K equal buckets, then the wait). One
/// line per size; each figure is the median over repetitions of the slowest rank's time. launch/project.py
/// runs it on shaped links for the scaling projection (the Performance article).
func allreduceProbe(_ arguments: [String]) -> Never {
  var sizes: [Int] = []
  var compress = GradientCompression.none
  var buckets = 1
  var seconds = 2.0
  var rest = arguments[...]
  while let a = rest.popFirst() {
    switch a {
    case "--compress": compress = rest.popFirst().flatMap(GradientCompression.init(rawValue:)) ?? compress
    case "--buckets": buckets = rest.popFirst().flatMap { Int($0) } ?? buckets
    case "--seconds": seconds = rest.popFirst().flatMap { Double($0) } ?? seconds
    default: sizes += a.split(separator: ",").compactMap { Int($0) }
    }
  }
  guard !sizes.isEmpty, buckets >= 1, MPICommunicator.launchedByMPI else {
    FileHandle.standardError.write(
      Data("cellbench allreduce: want FLOATS[,FLOATS...] [--compress fp16] [--buckets K] under mpirun or srun\n".utf8))
    exit(64)
  }
  let comm = MPICommunicator()
  for n in sizes {
    let grads = UnsafeMutablePointer<Float>.allocate(capacity: n)
    grads.initialize(repeating: 1, count: n)
    let edges = (0...buckets).map { $0 * n / buckets }
    let exchange = GradientExchange(
      comm: comm, grads: grads, buckets: (0..<buckets).map { edges[$0]..<edges[$0 + 1] }, compress: compress)
    func sum() {
      exchange.startAll()
      exchange.finish()
    }
    for _ in 0..<3 { sum() }  // connections made, buffers registered
    // At least 5 repetitions and `seconds`; every rank stops when one has (the loop holds collectives).
    var times: [Double] = []
    let start = MonotonicClock.now()
    while true {
      comm.barrier()
      let t = MonotonicClock.now()
      sum()
      // The slowest rank's time, in microseconds (one integer max reduce).
      times.append(Double(comm.allreduceMax(Int((MonotonicClock.now() - t) * 1e6))) / 1e6)
      let done = times.count >= 5 && MonotonicClock.now() - start >= seconds
      if comm.allreduceMax(done ? 1 : 0) == 1 { break }
    }
    times.sort()
    let median = times[times.count / 2]
    let bytes = n * (compress == .fp16 ? 2 : 4)
    if comm.isRoot {
      print(
        String(
          format:
            "bench allreduce ranks=%d floats=%d bytes=%d compress=%@ buckets=%d reps=%d median_us=%.1f min_us=%.1f",
          comm.size, n, bytes, compress.rawValue, buckets, times.count, median * 1e6, times[0] * 1e6))
    }
    grads.deallocate()
  }
  comm.finalize()
  exit(0)
}
