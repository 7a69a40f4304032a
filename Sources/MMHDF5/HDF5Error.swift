import CHDF5
import Glibc

/// A failed HDF5 operation. The message names the file, the object inside it, and what to do about it,
/// e.g. "data/x.h5: dataset '/labels' not found (list what the file holds with `h5ls -r data/x.h5`)".
public struct HDF5Error: Error, CustomStringConvertible {
  public let message: String

  public init(_ message: String) { self.message = message }

  public var description: String { message }
}

public enum HDF5 {
  /// Makes malloc map and unmap every block from 1 MB, always: call once, at start. glibc's default raises
  /// that threshold to the largest block freed so far, so a checkpoint's buffers (HDF5's in-memory image,
  /// its checksum filter's chunk) come from the heap the next time and stay resident after: W2 with a
  /// checkpoint every epoch peaked at 296, 312 MB after epochs 2, 3, and at 280, 283 MB with the threshold
  /// fixed. The training step allocates nothing, so no hot path pays for the mappings.
  public static func mapLargeAllocations() { _ = mm_malloc_map_from(1 << 20) }

  /// Stops HDF5 from printing its raw error stack to stderr; failures reach callers as `HDF5Error` instead.
  ///
  /// The Debian build of libhdf5 is thread-safe, and in such a build the printing switch is per thread:
  /// a thread that never called this prints. `HDF5File` therefore calls `silenceErrorStackOnThisThread()`
  /// before each operation; call this yourself only before using the C API directly.
  public static func silenceErrorStack() {
    _ = H5Eset_auto2(mm_h5e_default(), nil, nil)
  }

  /// Silences the error stack once per thread (a thread-local flag makes repeat calls one lookup).
  static func silenceErrorStackOnThisThread() {
    if pthread_getspecific(silencedThreadKey) != nil { return }
    silenceErrorStack()
    _ = pthread_setspecific(silencedThreadKey, UnsafeRawPointer(bitPattern: 1))
  }

  /// The innermost message on this thread's error stack: the most specific cause of the last failure
  /// (e.g. "unable to lock the file"). Call it right after the failing call; the next HDF5 call clears the stack.
  static func innermostErrorMessage() -> String? {
    var message: String?
    withUnsafeMutablePointer(to: &message) { messagePointer in
      _ = H5Ewalk2(mm_h5e_default(), H5E_WALK_DOWNWARD, { _, error, clientData in
        guard let description = error?.pointee.desc, let clientData else { return 0 }
        clientData.assumingMemoryBound(to: String?.self).pointee = String(cString: description)
        return 0
      }, messagePointer)
    }
    return message
  }
}

/// Key of the thread-local "already silenced" flag (created once, on first use, thread-safely).
private let silencedThreadKey: pthread_key_t = {
  var key = pthread_key_t()
  precondition(pthread_key_create(&key, nil) == 0, "pthread_key_create failed")
  return key
}()
