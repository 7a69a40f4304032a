#if canImport(Glibc)
  import Glibc
#endif
import Foundation
import MMCore
import MMHDF5
import MMKernels
import MMTensor

/// The shard's rows read in place (`data.mmap`): the data file's pages mapped read-only, each modality's rows
/// where the file stores them, so loading copies nothing and allocates no memory for the features. The
/// statistics pass (ShardLoader.loadMapped) reads them once; each batch then copies a row's kept steps and
/// finishes them (PendingFinish), as it does for rows copied into memory, so the bits are the same.
///
/// Used when every modality's rows lie in the file as float32 rows (StoredRows: uncompressed, contiguous or in
/// chunks of whole rows); anything else is copied. The pages are the kernel's page cache: ranks of a node
/// reading one file share them, and pages of a shard larger than free memory are read back from the file when
/// evicted.
///
/// The file must not change while the run reads it. The mapping holds a shared lock on it, as HDF5's read-only
/// open does, so HDF5 refuses to open it for writing (h5py "r+", "a"); a program that writes it anyway is found:
/// every epoch's end and every checkpoint compare its size and modification time with the load's
/// (`checkUnchanged`), and a run that finds the file rewritten stops with one line; reading a page the file no
/// longer has (truncated, or recreated by h5py "w") raises SIGBUS, which `mapping_guard.c` turns into one line
/// and exit 1 on the rank that read it.
final class MappedRows {
  let path: String
  let layout: RowLayout
  private let descriptor: Int32
  private let base: UnsafeMutableRawPointer
  private let length: Int
  private let guardSlot: Int32
  private let identity: FileIdentity
  /// Per modality, per local row: its T_m · D_m raw floats in the mapping.
  let rows: [[UnsafePointer<Float>]]
  /// Each row's valid steps per modality in the file ([M][n]).
  let validLengths: [[Int]]
  private let scratch: Buffer  // one row in `layout`, for `row(i)`
  private let staging: Buffer  // one modality's valid steps, finished before they are resampled

  /// `align: interpolate`: a row's valid steps are imputed, normalised and resampled to S_m steps as they are
  /// gathered (`ShardLoader.finish`, what the copying loader does to each row at load), with each modality's
  /// statistics (known once the load's pass is over).
  struct Finishing {
    let options: LoadOptions
    let mean: [[Float]], std: [[Float]]  // per modality
  }
  var finishing: Finishing? = nil

  /// Size and modification time of the mapped file: what a rewrite changes.
  struct FileIdentity: Equatable {
    var size: Int, seconds: Int, nanoseconds: Int
    init(_ st: stat) {
      size = Int(st.st_size); seconds = Int(st.st_mtim.tv_sec); nanoseconds = Int(st.st_mtim.tv_nsec)
    }
  }

  /// Maps local rows `rows` of every modality's dataset, or nil when one of them is not stored as float32 rows
  /// (its rows are then copied: nothing here is an error but an unreadable or truncated file).
  init?(
    file: HDF5File, modalities: [DataSchema.Modality], rows: Range<Int>, layout: RowLayout, validLengths: [[Int]],
    rank: Int
  ) throws {
    guard !rows.isEmpty else { return nil }
    var stored: [StoredRows] = []
    for m in modalities {
      guard let s = try file.storedRows(m.dataset, rows: rows), s.rowBytes == m.steps * m.features * 4 else {
        return nil
      }
      stored.append(s)
    }
    // A descriptor of its own for the file HDF5 has open (the same inode, found by its path), holding a shared
    // lock as HDF5's read-only open does: a program that opens the file to write it through HDF5 (h5py "r+",
    // "a") is refused while this run reads it, instead of changing rows under it.
    guard let hdf5 = try file.duplicateDescriptor() else { return nil }
    var st = stat(), own = stat()
    let fd = open(file.path, O_RDONLY | O_CLOEXEC)
    let same =
      fd >= 0 && fstat(hdf5, &st) == 0 && fstat(fd, &own) == 0 && st.st_dev == own.st_dev && st.st_ino == own.st_ino
    close(hdf5)
    guard same, st.st_size > 0,
      let mapped = mmap(nil, Int(st.st_size), PROT_READ, MAP_SHARED, fd, 0), mapped != MAP_FAILED
    else {
      if fd >= 0 { close(fd) }
      return nil
    }
    if !["FALSE", "0"].contains(ProcessInfo.processInfo.environment["HDF5_USE_FILE_LOCKING"]?.uppercased() ?? "") {
      _ = flock(fd, LOCK_SH | LOCK_NB)  // best effort: a file system without locks reads the same
    }
    path = file.path; self.layout = layout; self.validLengths = validLengths
    staging = Buffer(count: modalities.map { $0.steps * $0.features }.max() ?? 1)
    descriptor = fd; base = mapped; length = Int(st.st_size); identity = FileIdentity(st)
    scratch = Buffer(count: layout.floats)
    let message =
      "mmtrain: error: rank \(rank): \(path) became shorter while this run read its rows in place "
      + "(data.mmap): another program truncated or rewrote it. Write a new data file and rename it over the old one "
      + "instead, or set data.mmap: false to copy the rows into memory\n"
    guardSlot = mmk_guard_mapping(mapped, length, message, rank == 0 ? 0 : 2)
    let offsets = stored.map { s in rows.map { s.offset(ofRow: $0) } }
    self.rows = offsets.map { $0.map { UnsafePointer((mapped + $0).assumingMemoryBound(to: Float.self)) } }
    // Past the file's end: HDF5 says a row is where the file has no bytes (a truncated file).
    for (s, starts) in zip(stored, offsets) {
      if let end = starts.max().map({ $0 + s.rowBytes }), end > length {
        throw MMError(
          "\(file.path): rows \(rows) end at byte \(end), past the file's end (\(length) bytes): the file is truncated")
      }
    }
  }

  deinit {
    mmk_unguard_mapping(guardSlot)
    munmap(base, length)
    close(descriptor)
  }

  /// Throws when the file's size or modification time is not what they were when it was mapped: the rows
  /// read since may mix two versions of the data.
  func checkUnchanged() throws {
    var st = stat()
    guard fstat(descriptor, &st) == 0 else {
      throw MMError("\(path): cannot stat the data file (\(String(cString: strerror(errno))))")
    }
    guard FileIdentity(st) == identity else {
      throw MMError(
        "\(path) was changed while this run read its rows in place (data.mmap): its size or modification time differs "
          + "from the load's, so the rows read since may mix two versions of the data. Write a new data file and rename "
          + "it over the old one instead, or set data.mmap: false to copy the rows into memory; then train again")
    }
  }

  /// Local row i into column b of a time-major batch (S, B, D): each modality's S_m steps in its columns (what
  /// `row(i)` holds, put as `Shard.gather` puts a row).
  @inline(__always)
  func copy(
    _ i: Int, into x: UnsafeMutablePointer<Float>, column b: Int, of B: Int, rowFloats D: Int, columns: [Range<Int>]
  ) {
    for m in layout.widths.indices { put(m, i, into: x + b * D + columns[m].lowerBound, stride: B * D) }
  }

  /// Local row i in `layout` (valid until the next call).
  func row(_ i: Int) -> UnsafePointer<Float> {
    for m in layout.widths.indices { put(m, i, into: scratch.pointer + layout.offsets[m], stride: layout.strides[m]) }
    return UnsafePointer(scratch.pointer)
  }

  /// Modality m of local row i at `dst`, its S_m steps `stride` apart: the kept steps from the file and zeros
  /// after them, or (interpolate) its valid steps finished and resampled. A non-finite value under `missing:
  /// error` stopped the load, so finishing cannot fail here.
  @inline(__always)
  private func put(_ m: Int, _ i: Int, into dst: UnsafeMutablePointer<Float>, stride: Int) {
    let Dm = layout.widths[m], Sm = layout.steps[m], src = rows[m][i]
    if let f = finishing {
      let L = validLengths[m][i]
      staging.pointer.update(from: src, count: L * Dm)
      _ = try? ShardLoader.finish(
        staging.pointer, L, Dm, f.options, f.mean[m], f.std[m], dst: dst, steps: Sm, stride: stride
      ) {
        _, _, _ in MMError("")
      }
      return
    }
    let kept = min(validLengths[m][i], Sm)  // truncate, pad: the first min(L, S_m) steps
    for s in 0..<Sm {
      if s < kept {
        (dst + s * stride).update(from: src + s * Dm, count: Dm)
      } else {
        (dst + s * stride).update(repeating: 0, count: Dm)
      }
    }
  }
}
