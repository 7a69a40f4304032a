#if canImport(Glibc)
  import Glibc
#endif
import MMCore

/// Where a run's time goes, for metrics.jsonl and `launch/bench.sh` (the Performance article).
///
///     startup_s    prepare(): open and check the data, load the shard, build and broadcast the model (max over ranks)
///     load_s       ShardLoader.load alone (max over ranks); load_bytes: the largest shard's feature bytes (float32)
///     train_s      an epoch's training steps (what samples_per_s divides by)
///     mpi_wait_s   of train_s, the time a rank spends in the step's collectives (mean over ranks)
///     peak_rss_mb  peak resident memory of a rank so far (max over ranks)
public struct RunTiming: Sendable {
  public var startupSeconds = 0.0
  public var loadSeconds = 0.0
  public var loadBytes = 0

  /// Monotonic seconds (MonotonicClock).
  @inline(__always) public static func now() -> Double { MonotonicClock.now() }

  /// This process's peak resident set size, in bytes.
  public static func peakRSS() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return usage.ru_maxrss * 1024  // kilobytes on Linux
  }
}
