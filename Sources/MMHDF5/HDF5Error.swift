import CHDF5
import Glibc
import MMCore

public enum HDF5 {
  /// Stops HDF5 from printing its raw error stack to stderr; failures reach callers as `MMError` instead, naming the file, the object and the fix.
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
      _ = H5Ewalk2(
        mm_h5e_default(), H5E_WALK_DOWNWARD,
        { _, error, clientData in
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
