#if canImport(Glibc)
  import Glibc
#endif

/// Monotonic seconds; reading the clock allocates nothing (safe inside the step).
public enum MonotonicClock {
  @inline(__always) public static func now() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + 1e-9 * Double(t.tv_nsec)
  }
}
