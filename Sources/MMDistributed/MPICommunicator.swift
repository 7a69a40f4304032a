import CMPI
import Foundation
import MMCore

/// MPI_COMM_WORLD (or a part of it, from `split`), with errors returned (MPI_ERRORS_RETURN) and turned into
/// one line naming the call, the rank and MPI's own error string, followed by MPI_Abort of the whole world
/// so no rank is left waiting.
public final class MPICommunicator: Communicator {
  public let rank: Int
  public let size: Int
  /// This communicator's handle: MPI_COMM_WORLD, or a sub-communicator from `split`.
  private let handle: MPI_Comm
  /// The world rank (for error lines, which name the process the user can find).
  private let worldRank: Int
  private let isWorld: Bool
  private var finalized = false
  private var watchdog: CollectiveWatchdog?
  /// Outstanding non-blocking sums (allocated once: starting one allocates nothing).
  private let requests: UnsafeMutablePointer<MPI_Request?> = {
    let r = UnsafeMutablePointer<MPI_Request?>.allocate(capacity: MPICommunicator.maxPending)
    r.initialize(repeating: mm_request_null(), count: MPICommunicator.maxPending)
    return r
  }()
  private var pending = 0
  static let maxPending = 64
  /// The request of the blocking collective in progress, when the watchdog makes it non-blocking.
  private let collectiveRequest: UnsafeMutablePointer<MPI_Request?> = {
    let r = UnsafeMutablePointer<MPI_Request?>.allocate(capacity: 1)
    r.initialize(to: mm_request_null())
    return r
  }()

  /// True when this process was started by an MPI launcher (mpirun/orterun, srun with PMIx).
  public static var launchedByMPI: Bool {
    let env = ProcessInfo.processInfo.environment
    return env["OMPI_COMM_WORLD_SIZE"] != nil || env["PMIX_RANK"] != nil || env["PMI_RANK"] != nil
  }

  /// Initialises MPI (once per process).
  public init() {
    var argc: Int32 = 0
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = nil
    // Open MPI's non-blocking all-reduce (coll/libnbc, which serves every MPI_Iallreduce here) picks a binomial
    // tree, a reduce to rank 0 and then a broadcast (the whole buffer twice over), whenever the buffer is in
    // place or fewer than 4 ranks take part: always, for the gradient sums. Rabenseifner's reduce-scatter +
    // all-gather (algorithm 3; a ring below 2^k elements) moves each element once each way, as fast as the
    // blocking MPI_Allreduce (the Performance article has the timings). Read by MPI_Init; a value the user set
    // (mpirun --mca, the environment) is kept.
    setenv("OMPI_MCA_coll_libnbc_iallreduce_algorithm", "3", 0)
    let rc = MPI_Init(&argc, &argv)
    if rc != mm_success() {
      FileHandle.standardError.write(
        "mmtrain: MPI_Init failed (\(rc)); is this process started by mpirun or srun --mpi=pmix?\n".data(using: .utf8)!)
      exit(1)
    }
    MPI_Comm_set_errhandler(mm_comm_world(), mm_errors_return())
    var r: Int32 = 0, s: Int32 = 0
    MPI_Comm_rank(mm_comm_world(), &r)
    MPI_Comm_size(mm_comm_world(), &s)
    rank = Int(r); size = Int(s)
    handle = mm_comm_world()
    worldRank = rank
    isWorld = true
  }

  private init(handle: MPI_Comm, worldRank: Int) {
    self.handle = handle
    self.worldRank = worldRank
    isWorld = false
    MPI_Comm_set_errhandler(handle, mm_errors_return())
    var r: Int32 = 0, s: Int32 = 0
    MPI_Comm_rank(handle, &r)
    MPI_Comm_size(handle, &s)
    rank = Int(r); size = Int(s)
  }

  /// MPI_Comm_split: ranks passing the same `color` form one communicator, ordered by `key`.
  public func split(color: Int, key: Int) -> Communicator {
    var sub: MPI_Comm? = nil
    check(MPI_Comm_split(handle, Int32(color), Int32(key), &sub), "MPI_Comm_split")
    return MPICommunicator(handle: sub!, worldRank: worldRank)
  }

  deinit { requests.deallocate(); collectiveRequest.deallocate() }

  private func check(_ rc: Int32, _ call: String) {
    if rc == mm_success() { return }
    var buf = [CChar](repeating: 0, count: Int(mm_max_error_string()) + 1)
    var len: Int32 = 0
    MPI_Error_string(rc, &buf, &len)
    let msg = String(cString: buf)
    FileHandle.standardError.write("mmtrain: rank \(worldRank): \(call) failed: \(msg)\n".data(using: .utf8)!)
    abort(code: 1)
  }

  public func startWatchdog(timeoutSeconds: Double) {
    watchdog?.close()
    watchdog =
      size > 1 && timeoutSeconds > 0
      ? CollectiveWatchdog(rank: rank, size: size, timeout: timeoutSeconds, comm: handle, check: check) : nil
  }

  public func noteStep(_ step: Int) { watchdog?.step = step }

  /// Every collective goes through here. `start` gets a request to start the call non-blocking, or nil to
  /// make the blocking call: without the watchdog the blocking MPI call runs as always; with it, the call is
  /// started non-blocking and polled against its deadline (Watchdog.swift). Buffers must stay valid until
  /// this returns.
  private func collective(_ call: String, _ start: (UnsafeMutablePointer<MPI_Request?>?) -> Int32) {
    guard let watchdog else { return check(start(nil), call) }
    let request = collectiveRequest  // allocated once: a watched collective in the step allocates nothing
    request.pointee = mm_request_null()
    check(start(request), call)
    if let hang = watchdog.wait(request, call) { abortForHang(hang) }
  }

  private func abortForHang(_ hang: String) -> Never {
    FileHandle.standardError.write(Data("mmtrain: error: \(worldRank > 0 ? "rank \(worldRank): " : "")\(hang)\n".utf8))
    abort(code: 1)
  }

  public func allreduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int) {
    if size == 1 || count == 0 { return }
    collective("MPI_Allreduce") { r in
      r.map { MPI_Iallreduce(mm_in_place(), buffer, Int32(count), mm_float(), mm_op_sum(), handle, $0) }
        ?? MPI_Allreduce(mm_in_place(), buffer, Int32(count), mm_float(), mm_op_sum(), handle)
    }
  }

  public func allreduceSum(_ values: inout [Double]) {
    if size == 1 || values.isEmpty { return }
    let n = Int32(values.count)
    values.withUnsafeMutableBufferPointer { v in
      collective("MPI_Allreduce") { r in
        r.map { MPI_Iallreduce(mm_in_place(), v.baseAddress, n, mm_double(), mm_op_sum(), handle, $0) }
          ?? MPI_Allreduce(mm_in_place(), v.baseAddress, n, mm_double(), mm_op_sum(), handle)
      }
    }
  }

  public func startAllreduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int) {
    startSum(buffer, count: count, type: mm_float(), op: mm_op_sum())
  }

  public func startAllreduceSum(_ buffer: UnsafeMutablePointer<Float16>, count: Int) {
    startSum(buffer, count: count, type: mm_uint16(), op: MPICommunicator.halfSumOp())
  }

  public func startAllreduceSum(_ buffer: UnsafeMutablePointer<Int64>, count: Int) {
    startSum(buffer, count: count, type: mm_int64(), op: mm_op_sum())
  }

  public func allreduceSum(_ values: inout [Int64]) { allreduceInts(&values, mm_op_sum()) }
  public func allreduceMax(_ values: inout [Int64]) { allreduceInts(&values, mm_op_max()) }

  private func allreduceInts(_ values: inout [Int64], _ op: MPI_Op?) {
    if size == 1 || values.isEmpty { return }
    let n = Int32(values.count)
    values.withUnsafeMutableBufferPointer { v in
      collective("MPI_Allreduce") { r in
        r.map { MPI_Iallreduce(mm_in_place(), v.baseAddress, n, mm_int64(), op, handle, $0) }
          ?? MPI_Allreduce(mm_in_place(), v.baseAddress, n, mm_int64(), op, handle)
      }
    }
  }

  /// MPI_Iallreduce in place, one of at most `maxPending` outstanding (the oldest are completed first when full).
  private func startSum(_ buffer: UnsafeMutableRawPointer, count: Int, type: MPI_Datatype?, op: MPI_Op?) {
    if size == 1 || count == 0 { return }
    if pending == MPICommunicator.maxPending { waitAll() }
    check(MPI_Iallreduce(mm_in_place(), buffer, Int32(count), type, op, handle, requests + pending), "MPI_Iallreduce")
    pending += 1
  }

  /// The MPI op summing float16 values (carried as MPI_UINT16_T); made once per process, after MPI_Init.
  nonisolated(unsafe) private static var halfSumHandle: MPI_Op?
  private static func halfSumOp() -> MPI_Op? {
    if let op = halfSumHandle { return op }
    var op: MPI_Op? = nil
    MPI_Op_create(
      { invec, inoutvec, len, _ in
        guard let invec, let inoutvec, let len else { return }
        halfSum(
          invec.assumingMemoryBound(to: Float16.self), into: inoutvec.assumingMemoryBound(to: Float16.self),
          count: Int(len.pointee))
      }, 1, &op)
    halfSumHandle = op
    return op
  }

  public func progress() {
    if pending == 0 { return }
    var done: Int32 = 0
    check(MPI_Testall(Int32(pending), requests, &done, mm_statuses_ignore()), "MPI_Testall")
    if done != 0 { pending = 0 }
  }

  public func waitAll() {
    if pending == 0 { return }
    if let watchdog {  // each request polled against the deadline, as every other collective
      for i in 0..<pending {
        if let hang = watchdog.wait(requests + i, "MPI_Iallreduce") { abortForHang(hang) }
      }
    } else {
      check(MPI_Waitall(Int32(pending), requests, mm_statuses_ignore()), "MPI_Waitall")
    }
    pending = 0
  }

  private func allreduceInt(_ value: Int, _ op: MPI_Op) -> Int {
    var v = Int64(value)
    withUnsafeMutablePointer(to: &v) { p in
      collective("MPI_Allreduce") { r in
        r.map { MPI_Iallreduce(mm_in_place(), p, 1, mm_int64(), op, handle, $0) }
          ?? MPI_Allreduce(mm_in_place(), p, 1, mm_int64(), op, handle)
      }
    }
    return Int(v)
  }

  public func allreduceMax(_ value: Int) -> Int { size == 1 ? value : allreduceInt(value, mm_op_max()) }
  public func allreduceMin(_ value: Int) -> Int { size == 1 ? value : allreduceInt(value, mm_op_min()) }

  public func broadcast(_ buffer: UnsafeMutablePointer<Float>, count: Int, root: Int) {
    if size == 1 || count == 0 { return }
    collective("MPI_Bcast") { r in
      r.map { MPI_Ibcast(buffer, Int32(count), mm_float(), Int32(root), handle, $0) }
        ?? MPI_Bcast(buffer, Int32(count), mm_float(), Int32(root), handle)
    }
  }

  public func broadcast(_ bytes: inout [UInt8], root: Int) {
    if size == 1 { return }
    var n = Int64(bytes.count)
    withUnsafeMutablePointer(to: &n) { p in
      collective("MPI_Bcast") { r in
        r.map { MPI_Ibcast(p, 1, mm_int64(), Int32(root), handle, $0) }
          ?? MPI_Bcast(p, 1, mm_int64(), Int32(root), handle)
      }
    }
    if rank != root { bytes = [UInt8](repeating: 0, count: Int(n)) }
    if n == 0 { return }
    let count = Int32(n)
    bytes.withUnsafeMutableBufferPointer { b in
      collective("MPI_Bcast") { r in
        r.map { MPI_Ibcast(b.baseAddress, count, mm_byte(), Int32(root), handle, $0) }
          ?? MPI_Bcast(b.baseAddress, count, mm_byte(), Int32(root), handle)
      }
    }
  }

  public func allgather(_ value: Int) -> [Int] {
    if size == 1 { return [value] }
    var mine = Int64(value)
    var all = [Int64](repeating: 0, count: size)
    withUnsafeMutablePointer(to: &mine) { m in
      all.withUnsafeMutableBufferPointer { a in
        collective("MPI_Allgather") { r in
          r.map { MPI_Iallgather(m, 1, mm_int64(), a.baseAddress, 1, mm_int64(), handle, $0) }
            ?? MPI_Allgather(m, 1, mm_int64(), a.baseAddress, 1, mm_int64(), handle)
        }
      }
    }
    return all.map { Int($0) }
  }

  public func allgatherv(
    _ send: UnsafePointer<Float>, count: Int, receive: UnsafeMutablePointer<Float>, counts: UnsafeMutablePointer<Int32>,
    offsets: UnsafeMutablePointer<Int32>
  ) {
    var mine = Int32(count)
    withUnsafeMutablePointer(to: &mine) { m in
      collective("MPI_Allgather") { r in
        r.map { MPI_Iallgather(m, 1, mm_int32(), counts, 1, mm_int32(), handle, $0) }
          ?? MPI_Allgather(m, 1, mm_int32(), counts, 1, mm_int32(), handle)
      }
    }
    var total: Int32 = 0
    for q in 0..<size { offsets[q] = total; total += counts[q] }
    collective("MPI_Allgatherv") { r in
      r.map { MPI_Iallgatherv(send, Int32(count), mm_float(), receive, counts, offsets, mm_float(), handle, $0) }
        ?? MPI_Allgatherv(send, Int32(count), mm_float(), receive, counts, offsets, mm_float(), handle)
    }
  }

  /// One contiguous MPI type per record size (made on first use, kept: the step allocates nothing after that).
  private var recordType: MPI_Datatype?
  private var recordTypeFloats = 0

  public func exchange(
    send: UnsafePointer<Float>, sendCounts: UnsafePointer<Int32>, sendOffsets: UnsafePointer<Int32>,
    receive: UnsafeMutablePointer<Float>, receiveCounts: UnsafePointer<Int32>, receiveOffsets: UnsafePointer<Int32>,
    recordFloats: Int
  ) {
    if recordType == nil || recordTypeFloats != recordFloats {
      if recordType != nil { MPI_Type_free(&recordType) }
      var t: MPI_Datatype? = nil
      check(MPI_Type_contiguous(Int32(recordFloats * MemoryLayout<Float>.size), mm_byte(), &t), "MPI_Type_contiguous")
      check(MPI_Type_commit(&t), "MPI_Type_commit")
      recordType = t; recordTypeFloats = recordFloats
    }
    let type = recordType
    collective("MPI_Alltoallv") { r in
      r.map {
        MPI_Ialltoallv(send, sendCounts, sendOffsets, type, receive, receiveCounts, receiveOffsets, type, handle, $0)
      }
        ?? MPI_Alltoallv(send, sendCounts, sendOffsets, type, receive, receiveCounts, receiveOffsets, type, handle)
    }
  }

  public func barrier() {
    if size == 1 { return }
    collective("MPI_Barrier") { r in
      r.map { MPI_Ibarrier(handle, $0) }
        ?? MPI_Barrier(handle)
    }
  }

  public func abort(code: Int32) -> Never {
    fflush(stdout); fflush(stderr)
    MPI_Abort(mm_comm_world(), code)
    exit(code)
  }

  /// Finalizes MPI (the world); frees a sub-communicator. Safe to call twice.
  public func finalize() {
    if finalized { return }
    finalized = true
    watchdog?.close()
    watchdog = nil
    if isWorld {
      MPI_Finalize()
    } else {
      var h: MPI_Comm? = handle
      MPI_Comm_free(&h)
    }
  }
}
