import CHDF5
import Glibc

/// Where the rows of a dataset lie in its file, when they lie there exactly as a reader wants them: float32 in
/// this host's byte order (little-endian), no filter, stored contiguously or in chunks that each hold whole rows
/// (every chunk dimension after the first is the dataset's), each chunk a reader needs written. Row r is then
/// `rowBytes` bytes at file offset `offset(ofRow: r)`, and a program may read it from the file's pages (mmap)
/// instead of through HDF5: what `data.mmap` does (MMData's MappedRows).
public struct StoredRows: Sendable {
  public let rowBytes: Int
  /// Rows per chunk (a contiguous dataset: all of them, in one).
  let chunkRows: Int
  /// File offset of chunk k (contiguous: one), for the chunks the rows asked for; -1 for the others.
  let addresses: [Int]

  public func offset(ofRow r: Int) -> Int { addresses[r / chunkRows] + (r % chunkRows) * rowBytes }
}

extension HDF5File {
  /// How rows `rows` of float32 dataset `path` are stored, when each lies in the file as one run of bytes in
  /// this host's float32 layout (StoredRows); nil when they do not (a filter, another type or byte order,
  /// chunks that split a row, a chunk never written, external or virtual storage, a driver other than the
  /// POSIX one). Nil is not an error: such rows are read through HDF5.
  public func storedRows(_ path: String, rows: Range<Int>) throws -> StoredRows? {
    guard let fd = try duplicateDescriptor() else { return nil }  // the POSIX driver's: its bytes are the rows'
    defer { Glibc.close(fd) }
    let dataset = try openDataset(path)
    defer { _ = H5Dclose(dataset) }
    let type = H5Dget_type(dataset)
    guard type >= 0 else { return nil }
    let float32 = H5Tequal(type, mm_h5t_ieee_f32le()) > 0
    _ = H5Tclose(type)
    guard float32, 1.littleEndian == 1 else { return nil }  // the file's byte order is this host's
    let space = H5Dget_space(dataset)
    guard space >= 0 else { return nil }
    let rank = Int(H5Sget_simple_extent_ndims(space))
    var shape = [hsize_t](repeating: 0, count: max(rank, 1))
    _ = H5Sget_simple_extent_dims(space, &shape, nil)
    _ = H5Sclose(space)
    guard rank >= 1, rows.upperBound <= Int(shape[0]), !rows.isEmpty else { return nil }
    let rowBytes = shape.dropFirst().reduce(4) { $0 * Int($1) }
    let plist = H5Dget_create_plist(dataset)
    guard plist >= 0 else { return nil }
    defer { _ = H5Pclose(plist) }
    guard H5Pget_nfilters(plist) == 0, H5Pget_external_count(plist) == 0 else { return nil }
    let stored: StoredRows
    switch H5Pget_layout(plist) {
    case H5D_CONTIGUOUS:
      let address = H5Dget_offset(dataset)
      guard address != haddr_t.max else { return nil }  // HADDR_UNDEF: never written
      stored = StoredRows(rowBytes: rowBytes, chunkRows: Int(shape[0]), addresses: [Int(address)])
    case H5D_CHUNKED:
      var chunk = [hsize_t](repeating: 0, count: rank)
      guard H5Pget_chunk(plist, Int32(rank), &chunk) == Int32(rank), chunk[0] > 0,
        Array(chunk.dropFirst()) == Array(shape.dropFirst())
      else { return nil }
      let c = Int(chunk[0])
      var addresses = [Int](repeating: -1, count: (Int(shape[0]) + c - 1) / c)
      for k in (rows.lowerBound / c)...((rows.upperBound - 1) / c) {
        var origin = [hsize_t](repeating: 0, count: rank)
        origin[0] = hsize_t(k * c)
        var mask: UInt32 = 0, address: haddr_t = 0, size: hsize_t = 0
        guard H5Dget_chunk_info_by_coord(dataset, origin, &mask, &address, &size) >= 0, address != haddr_t.max,
          Int(size) == c * rowBytes
        else { return nil }
        addresses[k] = Int(address)
      }
      stored = StoredRows(rowBytes: rowBytes, chunkRows: c, addresses: addresses)
    default:
      return nil  // compact (in the object header), virtual
    }
    // The first and last rows' bytes must be what HDF5 reads. libhdf5 1.10 gives chunk addresses relative to the
    // end of a user block (h5py's `userblock_size`), later versions and H5Dget_offset from the file's start: the
    // addresses are taken as they are or shifted by the block, whichever holds those rows.
    let ends = Set([rows.lowerBound, rows.upperBound - 1]).sorted()
    let want = try ends.map { r in try readFloats(path, rows: r..<(r + 1)).withUnsafeBytes { Array($0) } }
    var bytes = [UInt8](repeating: 0, count: rowBytes)
    for shift in Set([0, try userBlockBytes()]).sorted() {
      let shifted = StoredRows(
        rowBytes: rowBytes, chunkRows: stored.chunkRows, addresses: stored.addresses.map { $0 < 0 ? $0 : $0 + shift })
      let found = zip(ends, want).allSatisfy { r, row in
        let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, rowBytes, off_t(shifted.offset(ofRow: r))) }
        return n == rowBytes && bytes == row  // short: past the file's end
      }
      if found { return shifted }
    }
    return nil
  }

  /// The size of the file's user block (bytes before HDF5's superblock; 0 without one).
  func userBlockBytes() throws -> Int {
    let creation = H5Fget_create_plist(try fileID())
    guard creation >= 0 else { return 0 }
    defer { _ = H5Pclose(creation) }
    var size: hsize_t = 0
    return H5Pget_userblock(creation, &size) >= 0 ? Int(size) : 0
  }

  /// A new descriptor of the file HDF5 has open (the POSIX driver's), for mapping its pages: the same file
  /// whatever has happened to its path since. The caller closes it. Nil for other drivers.
  public func duplicateDescriptor() throws -> Int32? {
    let file = try fileID()
    let access = H5Fget_access_plist(file)
    guard access >= 0 else { return nil }
    defer { _ = H5Pclose(access) }
    guard H5Pget_driver(access) == mm_h5fd_sec2() else { return nil }
    var handle: UnsafeMutableRawPointer? = nil
    guard H5Fget_vfd_handle(file, access, &handle) >= 0, let handle else { return nil }
    let fd = dup(handle.load(as: Int32.self))
    return fd >= 0 ? fd : nil
  }
}
