import CHDF5
import Foundation
import MMCore

/// An open HDF5 file. Owns the file handle and closes it in `deinit` (or earlier with `close()`).
///
/// Paths inside the file are absolute ("/modalities/text"); a path without the leading "/" is taken from the root.
/// Every failure is an `HDF5Error` naming this file's `path` and the object. Not thread-safe: use one file
/// from one thread at a time (different files on different threads are fine; libhdf5 serialises them).
public final class HDF5File {
  public enum Mode {
    case readOnly
    case readWrite
    /// Create the file, or overwrite it if it exists.
    case truncate
    /// A new file in memory only (HDF5's core driver, no backing store): nothing touches the disk until the
    /// caller writes the image (`closeKeepingImage`) where it wants, with its own
    /// error handling (checkpoints do this, so a full disk is a plain failed write(2), never a half-closed
    /// HDF5 file).
    case inMemory
  }

  public let path: String
  public let mode: Mode
  /// The HDF5 file id; -1 once closed.
  private var fileHandle: hid_t
  /// `.inMemory`: where the core driver's buffer is (shim.h); freed by close, or handed out by closeKeepingImage.
  private let keeper: UnsafeMutablePointer<mm_image_keeper>?

  public init(path: String, mode: Mode = .readOnly) throws {
    HDF5.silenceErrorStackOnThisThread()
    self.path = path
    self.mode = mode
    let keeper: UnsafeMutablePointer<mm_image_keeper>? = mode == .inMemory ? .allocate(capacity: 1) : nil
    keeper?.initialize(to: mm_image_keeper(mem: nil, size: 0, closed: 0))
    self.keeper = keeper
    switch mode {
    case .readOnly: fileHandle = H5Fopen(path, mm_h5f_acc_rdonly(), mm_h5p_default())
    case .readWrite: fileHandle = H5Fopen(path, mm_h5f_acc_rdwr(), mm_h5p_default())
    case .truncate: fileHandle = H5Fcreate(path, mm_h5f_acc_trunc(), mm_h5p_default(), mm_h5p_default())
    case .inMemory:
      let access = H5Pcreate(mm_h5p_file_access())
      defer { if access >= 0 { _ = H5Pclose(access) } }
      fileHandle =
        access >= 0 && H5Pset_fapl_core(access, 1 << 20, false) >= 0 && mm_set_image_keeper(access, keeper) >= 0
        ? H5Fcreate(path, mm_h5f_acc_trunc(), mm_h5p_default(), access) : -1
    }
    guard fileHandle >= 0 else { throw Self.openFailure(path: path, mode: mode) }  // (deinit frees the keeper)
  }

  deinit {
    close()
    keeper?.deallocate()
  }

  /// Closes the file. Safe to call twice. Call `flush()` first if you need to know that writes reached the disk:
  /// this cannot report a failure.
  public func close() {
    guard fileHandle >= 0 else { return }
    HDF5.silenceErrorStackOnThisThread()
    _ = H5Fclose(fileHandle)
    fileHandle = -1
    if let image = takeClosedImage() { free(image.mem) }
  }

  /// `.inMemory`, after H5Fclose: the buffer the driver let go of, now the caller's to free (nil: not an
  /// in-memory file, or HDF5 still holds it because an object in the file is open: never freed under it).
  private func takeClosedImage() -> mm_image_keeper? {
    guard let keeper, keeper.pointee.closed != 0 else { return nil }
    defer { keeper.pointee = mm_image_keeper(mem: nil, size: 0, closed: 0) }
    return keeper.pointee
  }

  /// `.inMemory`: closes the file and hands `body` the bytes of the closed file, where HDF5 built them (no copy
  /// of the image, as H5Fget_file_image would make); they are freed when `body` returns.
  public func closeKeepingImage(_ body: (UnsafeRawBufferPointer) throws -> Void) throws {
    guard keeper != nil else { throw MMError("\(path): closeKeepingImage needs a file opened .inMemory") }
    let file = try fileID()
    // The image's size (HDF5's end of allocated space; the buffer may be longer), once everything is flushed.
    guard H5Fflush(file, H5F_SCOPE_GLOBAL) >= 0 else { throw failure("cannot flush the in-memory file") }
    let size = H5Fget_file_image(file, nil, 0)
    guard size > 0 else { throw failure("cannot get the file image") }
    guard H5Fclose(file) >= 0 else { throw failure("cannot close the in-memory file") }
    fileHandle = -1
    guard let image = takeClosedImage() else {
      throw MMError("\(path): the in-memory file stayed open after close (an object in it is open)")
    }
    defer { free(image.mem) }
    guard let mem = image.mem, image.size >= size else {
      throw MMError("\(path): the in-memory file's buffer is missing")
    }
    try body(UnsafeRawBufferPointer(start: mem, count: size))
  }

  /// Writes buffered data to disk. A read-only file has nothing to flush.
  public func flush() throws {
    let file = try fileID()
    guard mode != .readOnly else { return }
    guard H5Fflush(file, H5F_SCOPE_GLOBAL) >= 0 else { throw failure("cannot flush to disk (is the disk full?)") }
  }

  // MARK: - Internal helpers shared by the extensions

  /// The open file id, after making sure HDF5 stays quiet on the calling thread.
  func fileID() throws -> hid_t {
    guard fileHandle >= 0 else { throw MMError("\(path): file was used after close()") }
    HDF5.silenceErrorStackOnThisThread()
    return fileHandle
  }

  /// The file id for a write; a read-only file is an error naming what was being written.
  func writableFileID(_ what: String) throws -> hid_t {
    let file = try fileID()
    guard mode != .readOnly else {
      throw error("cannot write \(what): the file is open read-only (open it with mode: .readWrite)")
    }
    return file
  }

  /// "/a/b" for "a/b", "/a/b/", or "/a/b"; "/" for the root.
  func absolute(_ objectPath: String) -> String {
    "/" + objectPath.split(separator: "/").joined(separator: "/")
  }

  /// An error about this file: "<file>: <what>", plus HDF5's own message when there is one.
  func error(_ what: String, cause: String? = nil) -> MMError {
    MMError("\(path): \(what)" + (cause.map { " (HDF5: \($0))" } ?? ""))
  }

  /// An error for an HDF5 call that failed for a reason we did not check beforehand; adds HDF5's innermost
  /// message. Build it right after the failing call, before any other HDF5 call clears the error stack.
  func failure(_ what: String) -> MMError {
    error(what, cause: HDF5.innermostErrorMessage())
  }

  /// Why H5Fopen/H5Fcreate failed, checked in the order a user would look.
  private static func openFailure(path: String, mode: Mode) -> MMError {
    let cause = HDF5.innermostErrorMessage().map { " (HDF5: \($0))" } ?? ""
    if mode == .inMemory { return MMError("\(path): cannot create the file in memory\(cause)") }
    var isDirectory: ObjCBool = false
    let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
    if mode == .truncate {
      if isDirectory.boolValue { return MMError("\(path): is a directory; cannot create an HDF5 file there") }
      let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
      if !FileManager.default.fileExists(atPath: folder) {
        return MMError("\(path): cannot create file: folder \(folder) does not exist")
      }
      return MMError("\(path): cannot create file (is the folder writable, and the file not open elsewhere?)\(cause)")
    }
    if !exists { return MMError("\(path): no such file") }
    if isDirectory.boolValue { return MMError("\(path): is a directory, not an HDF5 file") }
    if !FileManager.default.isReadableFile(atPath: path) { return MMError("\(path): permission denied") }
    if H5Fis_hdf5(path) == 0 { return MMError("\(path): not an HDF5 file (are you passing the right file?)") }
    let access = mode == .readOnly ? "reading" : "writing"
    return MMError(
      "\(path): cannot open for \(access)\(cause); if another process has it open for writing, wait for it to "
        + "finish, or set HDF5_USE_FILE_LOCKING=FALSE on a filesystem without file locks")
  }
}
