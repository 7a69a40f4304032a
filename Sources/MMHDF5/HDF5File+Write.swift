import CHDF5

/// Creating groups and writing numeric datasets. Files are written little-endian (float32, float64, int64),
/// the layout numpy and h5py use, so h5py reads them back as np.float32 etc.
extension HDF5File {
  /// Creates the group and any missing parents. An existing group is fine.
  public func createGroup(_ path: String) throws {
    let name = absolute(path)
    let file = try writableFileID("group '\(name)'")
    if exists(name) {
      guard isGroup(name) else { throw error("cannot create group '\(name)': a dataset of that name exists") }
      return
    }
    let linkCreation = try intermediateGroupsLinkCreation(for: "group '\(name)'")
    defer { _ = H5Pclose(linkCreation) }
    let group = H5Gcreate2(file, name, linkCreation, mm_h5p_default(), mm_h5p_default())
    guard group >= 0 else { throw failure("cannot create group '\(name)' (is a parent a dataset?)") }
    _ = H5Gclose(group)
  }

  /// Writes `values` (row-major) as a dataset of `shape`, creating parent groups; shape [] is a scalar.
  /// An existing dataset at `path` is replaced (HDF5 does not reuse the old space: to rewrite many datasets,
  /// write a fresh file with mode .truncate instead).
  /// `checksummed`: stored as one chunk with HDF5's Fletcher-32 filter, so every later read verifies the
  /// bytes and a corrupt dataset fails to read instead of returning wrong numbers (checkpoints use it).
  public func writeFloats(_ path: String, _ values: [Float], shape: [Int], checksummed: Bool = false) throws {
    try values.withUnsafeBufferPointer { try writeFloats(path, $0, shape: shape, checksummed: checksummed) }
  }

  /// As above, from memory the caller owns (no copy: a model's parameters, an optimiser's state).
  public func writeFloats(_ path: String, _ values: UnsafeBufferPointer<Float>, shape: [Int], checksummed: Bool = false)
    throws
  {
    try writeArray(
      path, UnsafeRawBufferPointer(values), count: values.count, shape: shape, fileType: mm_h5t_ieee_f32le(),
      memoryType: mm_h5t_native_float(), checksummed: checksummed)
  }

  /// As above, stored in chunks of `chunkRows` rows (every other dimension whole, or `chunk`'s sizes when given:
  /// h5py's `chunks=True` cuts every dimension), optionally byte-shuffled, gzip-compressed at `gzipLevel` (0...9)
  /// and checksummed (fletcher32): how h5py writes resizable or compressed datasets. For tests and benchmarks of
  /// the loader's chunked reads; mmtrain's own files are contiguous.
  public func writeFloats(
    _ path: String, _ values: [Float], shape: [Int], chunkRows: Int, chunk sizes: [Int]? = nil, gzipLevel: Int? = nil,
    shuffle: Bool = false, checksummed: Bool = false
  ) throws {
    let name = absolute(path), what = "dataset '\(name)'"
    guard shape.count >= 1, chunkRows >= 1 else {
      throw error("cannot write \(what) in chunks: it needs a row dimension and chunkRows >= 1")
    }
    let list = H5Pcreate(mm_h5p_dataset_create())
    guard list >= 0 else { throw failure("cannot create a property list for \(what)") }
    defer { _ = H5Pclose(list) }
    guard sizes.map({ $0.count == shape.count && $0.allSatisfy { $0 >= 1 } }) ?? true else {
      throw error("cannot write \(what) in chunks of \(sizes!): one size >= 1 per dimension of \(shape)")
    }
    let chunk = (sizes ?? ([min(chunkRows, max(shape[0], 1))] + shape.dropFirst().map { max($0, 1) })).map {
      hsize_t($0)
    }
    guard H5Pset_chunk(list, Int32(chunk.count), chunk) >= 0,
      !shuffle || H5Pset_shuffle(list) >= 0,
      gzipLevel.map({ H5Pset_deflate(list, UInt32($0)) >= 0 }) ?? true,
      !checksummed || H5Pset_fletcher32(list) >= 0
    else { throw failure("cannot set up chunked storage for \(what)") }
    try values.withUnsafeBytes {
      try writeArray(
        path, $0, count: values.count, shape: shape, fileType: mm_h5t_ieee_f32le(), memoryType: mm_h5t_native_float(),
        creation: list)
    }
  }

  public func writeDoubles(_ path: String, _ values: [Double], shape: [Int]) throws {
    try values.withUnsafeBytes {
      try writeArray(
        path, $0, count: values.count, shape: shape, fileType: mm_h5t_ieee_f64le(), memoryType: mm_h5t_native_double())
    }
  }

  public func writeInt64s(_ path: String, _ values: [Int64], shape: [Int]) throws {
    try values.withUnsafeBytes {
      try writeArray(
        path, $0, count: values.count, shape: shape, fileType: mm_h5t_std_i64le(), memoryType: mm_h5t_native_int64())
    }
  }

  // MARK: - Shared with attributes

  /// A dataspace for `shape`: scalar for [], simple otherwise. Close with H5Sclose.
  func makeSpace(_ shape: [Int], for what: String) throws -> hid_t {
    guard shape.allSatisfy({ $0 >= 0 }) else { throw error("cannot write \(what): negative size in shape \(shape)") }
    if shape.isEmpty {
      let space = H5Screate(H5S_SCALAR)
      guard space >= 0 else { throw failure("cannot create a scalar dataspace for \(what)") }
      return space
    }
    let dims = shape.map { hsize_t($0) }
    let space = H5Screate_simple(Int32(dims.count), dims, nil)
    guard space >= 0 else { throw failure("cannot create a dataspace of shape \(shape) for \(what)") }
    return space
  }

  // MARK: - Private

  /// `count` elements of `memoryType` at `bytes`, as dataset `path` of `fileType` and `shape`.
  private func writeArray(
    _ path: String, _ bytes: UnsafeRawBufferPointer, count: Int, shape: [Int], fileType: hid_t, memoryType: hid_t,
    checksummed: Bool = false, creation given: hid_t? = nil
  ) throws {
    let name = absolute(path), what = "dataset '\(name)'"
    let file = try writableFileID(what)
    let expected = shape.reduce(1, *)
    guard count == expected else {
      throw error("cannot write \(what): \(count) values do not fill shape \(shape) (\(expected) values)")
    }
    if exists(name) {
      guard isDataset(name) else { throw error("cannot write \(what): a group of that name exists") }
      guard H5Ldelete(file, name, mm_h5p_default()) >= 0 else { throw failure("cannot replace \(what)") }
    }
    let space = try makeSpace(shape, for: what)
    defer { _ = H5Sclose(space) }
    let linkCreation = try intermediateGroupsLinkCreation(for: what)
    defer { _ = H5Pclose(linkCreation) }
    let creation = try given ?? datasetCreation(shape: shape, checksummed: checksummed, for: what)
    defer { if given == nil && creation != mm_h5p_default() { _ = H5Pclose(creation) } }
    let dataset = H5Dcreate2(file, name, fileType, space, linkCreation, creation, mm_h5p_default())
    guard dataset >= 0 else { throw failure("cannot create \(what) (is a parent a dataset?)") }
    defer { _ = H5Dclose(dataset) }
    guard count > 0 else { return }
    let status = H5Dwrite(dataset, memoryType, mm_h5s_all(), mm_h5s_all(), mm_h5p_default(), bytes.baseAddress)
    guard status >= 0 else { throw failure("cannot write \(what) (is the disk full?)") }
  }

  /// Default layout, or (checksummed, non-empty, not scalar) one chunk with the Fletcher-32 filter, which
  /// HDF5 verifies on every read. Close with H5Pclose unless it is H5P_DEFAULT.
  private func datasetCreation(shape: [Int], checksummed: Bool, for what: String) throws -> hid_t {
    guard checksummed, !shape.isEmpty, shape.allSatisfy({ $0 > 0 }) else { return mm_h5p_default() }
    let list = H5Pcreate(mm_h5p_dataset_create())
    guard list >= 0 else { throw failure("cannot create a property list for \(what)") }
    let chunk = shape.map { hsize_t($0) }
    guard H5Pset_chunk(list, Int32(chunk.count), chunk) >= 0, H5Pset_fletcher32(list) >= 0 else {
      let failed = failure("cannot set up the Fletcher-32 checksum for \(what)")
      _ = H5Pclose(list)
      throw failed
    }
    return list
  }

  /// A link-creation property list that makes missing parent groups. Close with H5Pclose.
  private func intermediateGroupsLinkCreation(for what: String) throws -> hid_t {
    let list = H5Pcreate(mm_h5p_link_create())
    guard list >= 0 else { throw failure("cannot create a property list for \(what)") }
    guard H5Pset_create_intermediate_group(list, 1) >= 0 else {
      let failed = failure("cannot set up parent-group creation for \(what)")
      _ = H5Pclose(list)
      throw failed
    }
    return list
  }
}
