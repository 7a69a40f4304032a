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
/// statistics pass (ShardLoader.loadCopied) reads them once; each batch then copies a row's kept steps and
/// finishes them (PendingFinish), as it does for rows copied into memory, so the bits are the same.
///
/// Used when every modality's rows lie in the file as float32 rows (StoredRows: uncompressed, contiguous or in
/// chunks of whole rows); anything else is copied. The pages are the kernel's page cache: ranks of a node
/// reading one file share them, and pages of a shard larger than free memory are read back from the file when
/// evicted.
///
/// The file must not change while the run reads it. Every epoch's end and every checkpoint compare its size and
/// modification time with the load's (`checkUnchanged`), and a run that finds the file rewritten stops with one
/// line; reading a page the file no longer has (truncated) raises SIGBUS, which `mapping_guard.c` turns into
/// one line and exit 1 on the rank that read it.
final class MappedRows {
  let path: String
  let layout: RowLayout
  let modalityCount: Int
  private let descriptor: Int32
  private let base: UnsafeMutableRawPointer
  private let length: Int
  private let guardSlot: Int32
  private let identity: FileIdentity
  /// Per modality, per local row: its T_m · D_m raw floats in the mapping.
  let rows: [[UnsafePointer<Float>]]
  /// Each row's kept steps per modality (n, M): the loader's modality lengths.
  let modalityLengths: [Int32]
  private let scratch: Buffer  // one row in `layout`, for `row(i)`

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
    file: HDF5File, modalities: [DataSchema.Modality], rows: Range<Int>, layout: RowLayout, modalityLengths: [Int32],
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
    guard let fd = try file.duplicateDescriptor() else { return nil }
    var st = stat()
    guard fstat(fd, &st) == 0, st.st_size > 0,
      let mapped = mmap(nil, Int(st.st_size), PROT_READ, MAP_SHARED, fd, 0), mapped != MAP_FAILED
    else {
      close(fd)
      return nil
    }
    path = file.path; self.layout = layout; modalityCount = modalities.count; self.modalityLengths = modalityLengths
    descriptor = fd; base = mapped; length = Int(st.st_size); identity = FileIdentity(st)
    scratch = Buffer(count: layout.floats)
    let message =
      "mmtrain: error: rank \(rank): \(path) became shorter while this run read its rows in place "
      + "(data.mmap): another program truncated or rewrote it. Write a new data file and rename it over the old one "
      + "instead, or set data.mmap: false to copy the rows into memory\n"
    guardSlot = mmk_guard_mapping(mapped, length, message)
    let file = path, size = length
    self.rows = stored.map { s in
      (0..<rows.count).map { i in
        UnsafePointer((mapped + s.offset(ofRow: rows.lowerBound + i)).assumingMemoryBound(to: Float.self))
      }
    }
    // Past the file's end: HDF5 says a row is where the file has no bytes (a truncated file).
    for s in stored {
      for range in s.byteRanges(rows) where range.upperBound > size {
        throw MMError("\(file): rows \(rows) end at byte \(range.upperBound), past the file's end (\(size) bytes): the file is truncated")
      }
    }
    // The pages of the rows in one call each (MADV_POPULATE_READ, Linux 5.14; older kernels map them on first read).
    let page = Int(sysconf(Int32(_SC_PAGESIZE)))
    for s in stored {
      for range in s.byteRanges(rows) {
        let start = range.lowerBound & ~(page - 1)
        _ = madvise(mapped + start, range.upperBound - start, 22)
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
    guard fstat(descriptor, &st) == 0 else { throw MMError("\(path): cannot stat the data file (\(String(cString: strerror(errno))))") }
    guard FileIdentity(st) == identity else {
      throw MMError(
        "\(path) was changed while this run read its rows in place (data.mmap): its size or modification time differs "
          + "from the load's, so the rows read since may mix two versions of the data. Write a new data file and rename "
          + "it over the old one instead, or set data.mmap: false to copy the rows into memory; then train again")
    }
  }

  /// Local row i in `layout` (valid until the next call): each modality's kept steps, zeros after them.
  func row(_ i: Int) -> UnsafePointer<Float> {
    let out = scratch.pointer, M = modalityCount
    for m in 0..<M {
      let Dm = layout.widths[m], kept = Int(modalityLengths[i * M + m]), src = rows[m][i]
      for s in 0..<layout.steps[m] {
        let dst = out + layout.offsets[m] + s * layout.strides[m]
        if s < kept { dst.update(from: src + s * Dm, count: Dm) } else { dst.update(repeating: 0, count: Dm) }
      }
    }
    return UnsafePointer(out)
  }
}
