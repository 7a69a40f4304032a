/// The rows of a row-indexed gradient (an embedding table's, [V, E] at `offset` in the arena's gradient buffer)
/// that the last backward wrote, each once, in the order it first touched them. The gradient sum over ranks
/// then moves only these rows, not all V (GradientExchange.sumRows). Allocation-free after init.
public final class TouchedRows {
  public let offset: Int  // the table's first gradient in the arena's buffer
  public let width: Int  // E: floats per row
  public let rows: UnsafeMutablePointer<Int32>  // rows[0..<count]: distinct row ids
  public private(set) var count = 0
  private let marked: UnsafeMutablePointer<Bool>  // (V) whether a row is listed
  public let capacity: Int

  /// A table of `vocabulary` rows of `width` floats, of which a step touches at most `capacity`.
  public init(offset: Int, width: Int, vocabulary: Int, capacity: Int) {
    self.offset = offset; self.width = width; self.capacity = max(1, min(capacity, vocabulary))
    rows = .allocate(capacity: self.capacity); rows.initialize(repeating: 0, count: self.capacity)
    marked = .allocate(capacity: max(vocabulary, 1)); marked.initialize(repeating: false, count: max(vocabulary, 1))
  }

  deinit { rows.deallocate(); marked.deallocate() }

  /// Lists row `id` unless it already is.
  @inline(__always) public func touch(_ id: Int) {
    if marked[id] { return }
    marked[id] = true
    rows[count] = Int32(id)
    count += 1
  }

  /// Empties the list (before a backward).
  public func clear() {
    for k in 0..<count { marked[Int(rows[k])] = false }
    count = 0
  }
}
