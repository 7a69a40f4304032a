import CHDF5

/// Reading numeric datasets, whole or by rows. HDF5 converts from the stored type (float16/32/64, int8...64,
/// uint8...64) to the type asked for, so callers need not know how a file was written.
extension HDF5File {
  public func datasetInfo(_ path: String) throws -> HDF5DatasetInfo {
    let dataset = try openDataset(path)
    defer { _ = H5Dclose(dataset) }
    let type = try datasetType(dataset, path)
    defer { _ = H5Tclose(type) }
    let space = try datasetSpace(dataset, path)
    defer { _ = H5Sclose(space) }
    let rank = H5Sget_simple_extent_ndims(space)
    guard rank >= 0 else { throw failure("cannot read the shape of dataset '\(absolute(path))'") }
    var dims = [hsize_t](repeating: 0, count: Int(rank))
    guard H5Sget_simple_extent_dims(space, &dims, nil) == rank else {
      throw failure("cannot read the shape of dataset '\(absolute(path))'")
    }
    return HDF5DatasetInfo(shape: dims.map { Int($0) }, dtype: HDF5DType(typeID: type))
  }

  /// All values (row-major), or only `rows` of the first dimension with every other dimension whole.
  public func readFloats(_ path: String, rows: Range<Int>? = nil) throws -> [Float] {
    try readArray(path, rows: rows, memoryType: mm_h5t_native_float(), accepting: .numbers, caller: "readFloats")
  }

  /// Reads into caller-owned memory (the hot path: no allocation besides HDF5's own). `buffer.count` must equal
  /// `rows.count * product(shape.dropFirst())`, or the whole dataset's element count when `rows` is nil.
  public func readFloats(_ path: String, rows: Range<Int>?, into buffer: UnsafeMutableBufferPointer<Float>) throws {
    try withSelection(path, rows: rows, accepting: .numbers, caller: "readFloats") { dataset, memory, file, count in
      guard buffer.count == count else {
        throw error(
          "readFloats(into:) was given room for \(buffer.count) floats, but dataset '\(absolute(path))' "
            + "\(describe(rows)) holds \(count) values")
      }
      try read(dataset, path, memoryType: mm_h5t_native_float(), memory, file, count, into: buffer.baseAddress)
    }
  }

  public func readDoubles(_ path: String, rows: Range<Int>? = nil) throws -> [Double] {
    try readArray(path, rows: rows, memoryType: mm_h5t_native_double(), accepting: .numbers, caller: "readDoubles")
  }

  /// Integer datasets only: reading a float dataset as integers would silently truncate.
  public func readInt64s(_ path: String, rows: Range<Int>? = nil) throws -> [Int64] {
    try readArray(path, rows: rows, memoryType: mm_h5t_native_int64(), accepting: .integers, caller: "readInt64s")
  }

  // MARK: - Private

  private enum Accepted: CustomStringConvertible {
    case numbers, integers

    var description: String { self == .numbers ? "numeric" : "integer" }

    func allows(_ dtype: HDF5DType) -> Bool {
      switch (self, dtype) {
      case (.numbers, _): return dtype.isNumeric
      case (.integers, .integer): return true
      case (.integers, _): return false
      }
    }
  }

  private func readArray<Element>(
    _ path: String, rows: Range<Int>?, memoryType: hid_t, accepting accepted: Accepted, caller: String
  ) throws -> [Element] {
    try withSelection(path, rows: rows, accepting: accepted, caller: caller) { dataset, memory, file, count in
      try [Element](unsafeUninitializedCapacity: count) { buffer, initializedCount in
        try read(dataset, path, memoryType: memoryType, memory, file, count, into: buffer.baseAddress)
        initializedCount = count
      }
    }
  }

  private func read(
    _ dataset: hid_t, _ path: String, memoryType: hid_t, _ memorySpace: hid_t, _ fileSpace: hid_t, _ count: Int,
    into destination: UnsafeMutableRawPointer?
  ) throws {
    guard count > 0 else { return }
    guard H5Dread(dataset, memoryType, memorySpace, fileSpace, mm_h5p_default(), destination) >= 0 else {
      let failed = failure("cannot read dataset '\(absolute(path))'")
      if let missing = (try? storage(of: path))?.filters.first(where: { !$0.isAvailable }) {
        throw missingFilter(missing, dataset: absolute(path))
      }
      throw failed
    }
  }

  /// Opens the dataset, checks its type, selects `rows` (nil: everything) and hands the body
  /// (dataset, memory space, file space, element count). Everything opened here is closed on return.
  private func withSelection<Result>(
    _ path: String, rows: Range<Int>?, accepting accepted: Accepted, caller: String,
    _ body: (hid_t, hid_t, hid_t, Int) throws -> Result
  ) throws -> Result {
    let dataset = try openDataset(path)
    defer { _ = H5Dclose(dataset) }
    let type = try datasetType(dataset, path)
    defer { _ = H5Tclose(type) }
    let dtype = HDF5DType(typeID: type)
    guard accepted.allows(dtype) else {
      let hint = accepted == .integers && dtype.isNumeric ? " (use readFloats or readDoubles)" : ""
      throw error("dataset '\(absolute(path))' is \(dtype); \(caller) reads \(accepted) datasets only\(hint)")
    }
    let space = try datasetSpace(dataset, path)
    defer { _ = H5Sclose(space) }
    guard let rows else {
      let count = H5Sget_simple_extent_npoints(space)
      guard count >= 0 else { throw failure("cannot read the shape of dataset '\(absolute(path))'") }
      return try body(dataset, mm_h5s_all(), mm_h5s_all(), Int(count))
    }
    let rank = Int(H5Sget_simple_extent_ndims(space))
    guard rank >= 0 else { throw failure("cannot read the shape of dataset '\(absolute(path))'") }
    guard rank >= 1 else {
      throw error("dataset '\(absolute(path))' is a scalar; it has no rows to select (pass rows: nil)")
    }
    // dims, start and count of the hyperslab, on the stack: this runs once per batch.
    return try withUnsafeTemporaryAllocation(of: hsize_t.self, capacity: 3 * rank) { scratch in
      let dims = scratch.baseAddress!, start = dims + rank, count = start + rank
      guard H5Sget_simple_extent_dims(space, dims, nil) == rank else {
        throw failure("cannot read the shape of dataset '\(absolute(path))'")
      }
      let rowCount = Int(dims[0])
      guard rows.lowerBound >= 0, rows.upperBound <= rowCount else {
        throw error("rows \(rows) are out of range for dataset '\(absolute(path))', which has \(rowCount) rows")
      }
      var selected = rows.count
      for axis in 0..<rank {
        start[axis] = 0
        count[axis] = dims[axis]
        if axis > 0 { selected *= Int(dims[axis]) }
      }
      start[0] = hsize_t(rows.lowerBound)
      count[0] = hsize_t(rows.count)
      if selected == 0 { return try body(dataset, mm_h5s_all(), mm_h5s_all(), 0) }
      guard H5Sselect_hyperslab(space, H5S_SELECT_SET, start, nil, count, nil) >= 0 else {
        throw failure("cannot select rows \(rows) of dataset '\(absolute(path))'")
      }
      var flatCount = hsize_t(selected)
      let memorySpace = H5Screate_simple(1, &flatCount, nil)
      guard memorySpace >= 0 else { throw failure("cannot create a memory space for dataset '\(absolute(path))'") }
      defer { _ = H5Sclose(memorySpace) }
      return try body(dataset, memorySpace, space, selected)
    }
  }

  /// Close with H5Tclose.
  private func datasetType(_ dataset: hid_t, _ path: String) throws -> hid_t {
    let type = H5Dget_type(dataset)
    guard type >= 0 else { throw failure("cannot read the type of dataset '\(absolute(path))'") }
    return type
  }

  /// Close with H5Sclose.
  private func datasetSpace(_ dataset: hid_t, _ path: String) throws -> hid_t {
    let space = H5Dget_space(dataset)
    guard space >= 0 else { throw failure("cannot read the shape of dataset '\(absolute(path))'") }
    return space
  }

  private func describe(_ rows: Range<Int>?) -> String {
    rows.map { "rows \($0)" } ?? "(all rows)"
  }
}

extension HDF5File {
  /// Rows per storage chunk of a chunked dataset (its chunk's first dimension); nil when the dataset is
  /// contiguous or compact. Reading whole multiples of it from a chunk boundary never splits a chunk.
  public func chunkRows(_ path: String) throws -> Int? {
    let dataset = try openDataset(path)
    defer { _ = H5Dclose(dataset) }
    let plist = H5Dget_create_plist(dataset)
    guard plist >= 0 else { throw failure("cannot read the layout of dataset '\(absolute(path))'") }
    defer { _ = H5Pclose(plist) }
    guard H5Pget_layout(plist) == H5D_CHUNKED else { return nil }
    var dims = [hsize_t](repeating: 0, count: 32)
    let rank = H5Pget_chunk(plist, 32, &dims)
    return rank >= 1 ? max(Int(dims[0]), 1) : nil
  }
}
