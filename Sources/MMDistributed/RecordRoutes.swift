/// Where the sample records (`Shard.writeRecord`) of one MPI_Alltoallv go: counts and offsets by rank, built the
/// same on every rank from the same list of moves (a row owned by `from`, processed by `to`). Both exchanges use
/// it: the batch balancer in every training step (BatchBalance.swift) and the evaluation chunks
/// (EvaluationChunks.swift in MMTraining). Allocated once; building and sending allocate nothing.
public final class RecordRoutes {
  let world: Int, rank: Int
  let sendCounts, sendOffsets, receiveCounts, receiveOffsets: UnsafeMutablePointer<Int32>  // (W), in records
  private let nextSend: UnsafeMutablePointer<Int>  // (W) the next free record of each destination's run
  /// Some row moves (on any rank): the exchange is needed. The same on every rank.
  public private(set) var moves = false
  public private(set) var sendTotal = 0, receiveTotal = 0

  public init(world: Int, rank: Int) {
    self.world = world; self.rank = rank
    sendCounts = .allocate(capacity: world); sendOffsets = .allocate(capacity: world)
    receiveCounts = .allocate(capacity: world); receiveOffsets = .allocate(capacity: world)
    for p in [sendCounts, sendOffsets, receiveCounts, receiveOffsets] { p.initialize(repeating: 0, count: world) }
    nextSend = .allocate(capacity: world)
    nextSend.initialize(repeating: 0, count: world)
  }

  deinit {
    for p in [sendCounts, sendOffsets, receiveCounts, receiveOffsets] { p.deallocate() }
    nextSend.deallocate()
  }

  public func reset() {
    sendCounts.update(repeating: 0, count: world)
    receiveCounts.update(repeating: 0, count: world)
    moves = false
  }

  /// A row owned by `from` is processed by `to` (nothing moves when they are the same rank).
  @inline(__always) public func add(from: Int, to: Int) {
    if from == to { return }
    moves = true
    if from == rank { sendCounts[to] += 1 }
    if to == rank { receiveCounts[from] += 1 }
  }

  /// After the last `add`: offsets (records sent to / received from lower ranks first) and totals.
  public func finish() {
    var so: Int32 = 0, ro: Int32 = 0
    for r in 0..<world {
      sendOffsets[r] = so; so += sendCounts[r]
      receiveOffsets[r] = ro; ro += receiveCounts[r]
      nextSend[r] = Int(sendOffsets[r])
    }
    sendTotal = Int(so); receiveTotal = Int(ro)
  }

  /// The send-buffer record for the next row this rank sends to `to` (rows to one rank go in the order added).
  @inline(__always) public func sendSlot(to: Int) -> Int {
    defer { nextSend[to] += 1 }
    return nextSend[to]
  }

  /// Sends this rank's `sendTotal` records and receives its `receiveTotal` (by source rank, then in order).
  /// Collective; call only when `moves`.
  public func exchange(
    _ comm: Communicator, send: UnsafePointer<Float>, receive: UnsafeMutablePointer<Float>, recordFloats: Int
  ) {
    comm.exchange(
      send: send, sendCounts: sendCounts, sendOffsets: sendOffsets, receive: receive,
      receiveCounts: receiveCounts, receiveOffsets: receiveOffsets, recordFloats: recordFloats)
  }
}
