import Foundation
import MMCore
import MMHDF5
import TestSupport
import XCTest

/// Failures name the file and the object, and HDF5 itself prints nothing.
final class ErrorTests: XCTestCase {
  func testMissingDatasetNamesFileAndDataset() throws {
    let path = makeTemporaryDirectory("hdf5-errors").appendingPathComponent("data.h5").path
    let file = try HDF5File(path: path, mode: .truncate)
    try file.writeFloats("/x", [1], shape: [1])
    XCTAssertThrowsError(try file.readFloats("/labels")) { error in
      let text = "\(error)"
      XCTAssertTrue(text.contains(path) && text.contains("dataset '/labels' not found"), text)
      XCTAssertEqual(text, (error as? MMError)?.message)
    }
    XCTAssertThrowsError(try file.datasetInfo("/a/b/c")) { error in
      XCTAssertTrue("\(error)".contains("dataset '/a/b/c' not found"), "\(error)")
    }
    try file.createGroup("/g")
    XCTAssertThrowsError(try file.readFloats("/g")) { error in
      XCTAssertTrue("\(error)".contains("'/g' is a group, not a dataset"), "\(error)")
    }
  }

  func testNonHDF5FileIsNamedAsSuch() throws {
    let path = makeTemporaryDirectory("hdf5-errors").appendingPathComponent("notes.h5").path
    try "just some text\n".write(toFile: path, atomically: true, encoding: .utf8)
    XCTAssertThrowsError(try HDF5File(path: path)) { error in
      XCTAssertEqual("\(error)", "\(path): not an HDF5 file (are you passing the right file?)")
    }
    XCTAssertThrowsError(try HDF5File(path: path, mode: .readWrite)) { error in
      XCTAssertTrue("\(error)".contains("not an HDF5 file"), "\(error)")
    }
  }

  func testMissingFileAndMissingFolder() throws {
    let folder = makeTemporaryDirectory("hdf5-errors")
    let missing = folder.appendingPathComponent("absent.h5").path
    XCTAssertThrowsError(try HDF5File(path: missing)) { error in
      XCTAssertEqual("\(error)", "\(missing): no such file")
    }
    let nowhere = folder.appendingPathComponent("no/such/folder/out.h5").path
    XCTAssertThrowsError(try HDF5File(path: nowhere, mode: .truncate)) { error in
      XCTAssertTrue("\(error)".hasPrefix("\(nowhere): cannot create file: folder"), "\(error)")
    }
  }

  /// libhdf5 here is a thread-safe build, where the "print errors" switch is per thread: check a fresh thread too.
  func testHDF5PrintsNothingOnFailureOnAnyThread() throws {
    let folder = makeTemporaryDirectory("hdf5-errors")
    let path = folder.appendingPathComponent("quiet.h5").path
    try HDF5File(path: path, mode: .truncate).writeFloats("/x", [1], shape: [1])
    let failEverywhere = {
      _ = try? HDF5File(path: folder.appendingPathComponent("absent.h5").path)
      let file = try? HDF5File(path: path)
      _ = try? file?.readFloats("/missing")
      _ = try? file?.intAttribute("missing", on: "/x")
      _ = file?.exists("/x/below")
    }
    let captured = try capturingStandardError {
      failEverywhere()
      let done = DispatchSemaphore(value: 0)
      Thread {
        failEverywhere()
        done.signal()
      }.start()
      done.wait()
    }
    XCTAssertEqual(captured, "")
  }

  /// Runs `body` with file descriptor 2 redirected to a temporary file; returns what was written there.
  private func capturingStandardError(_ body: () -> Void) throws -> String {
    let capture = makeTemporaryDirectory("hdf5-stderr").appendingPathComponent("stderr.txt").path
    let captureFD = open(capture, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    let savedFD = dup(2)
    dup2(captureFD, 2)
    body()
    fflush(stderr)
    dup2(savedFD, 2)
    close(savedFD)
    close(captureFD)
    return try String(contentsOfFile: capture, encoding: .utf8)
  }
}
