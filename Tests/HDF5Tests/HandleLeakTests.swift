import CHDF5
import MMHDF5
import TestSupport
import XCTest

/// Every object HDF5File opens (file, groups, datasets, attributes, named types) is closed again, on the success
/// paths and on the error paths. (HDF5 has no public count of open dataspaces, transient types or property lists;
/// those are closed by the same `defer` pattern.)
final class HandleLeakTests: XCTestCase {
  /// Open objects of every kind in every file.
  private func openObjectCount() -> Int {
    H5Fget_obj_count(hid_t(mm_h5f_obj_all()), mm_h5f_obj_all())
  }

  func testNoObjectsLeakOnSuccessOrFailure() throws {
    let folder = makeTemporaryDirectory("hdf5-leaks")
    let path = folder.appendingPathComponent("leaks.h5").path
    XCTAssertEqual(openObjectCount(), 0, "a test before this one left an object open")
    do {
      let file = try HDF5File(path: path, mode: .truncate)
      try file.writeFloats("/a/x", (0..<24).map { Float($0) }, shape: [4, 3, 2])
      try file.writeFloats("/a/x", (0..<24).map { Float($0) }, shape: [4, 3, 2])  // replace
      try file.writeInt64s("/a/i", [1, 2], shape: [2])
      try file.createGroup("/b/c")
      try file.setAttribute("s", on: "/a/x", string: "text")
      try file.setAttribute("s", on: "/a/x", strings: ["p", "q"])  // replace
      try file.setAttribute("u", on: "/", uint64s: [1, 2])
      try file.setAttribute("d", on: "/b", double: 1)
      _ = try file.readFloats("/a/x", rows: 1..<3)
      var buffer = [Float](repeating: 0, count: 6)
      try buffer.withUnsafeMutableBufferPointer { try file.readFloats("/a/x", rows: 2..<3, into: $0) }
      _ = try file.readInt64s("/a/i")
      _ = try file.datasetInfo("/a/x")
      _ = try file.members(ofGroup: "/a")
      _ = try file.stringsAttribute("s", on: "/a/x")
      _ = try file.uint64sAttribute("u", on: "/")
      _ = try file.doubleAttribute("d", on: "/b")
      _ = file.isGroup("/b/c") && file.isDataset("/a/x") && file.hasAttribute("u", on: "/")
      // Failures part-way through.
      _ = try? file.readFloats("/a/x", rows: 0..<9)
      _ = try? file.readInt64s("/a/x")
      _ = try? file.readFloats("/b")
      _ = try? file.readFloats("/missing")
      _ = try? buffer.withUnsafeMutableBufferPointer { try file.readFloats("/a/x", rows: 0..<2, into: $0) }
      _ = try? file.intAttribute("s", on: "/a/x")
      _ = try? file.stringAttribute("s", on: "/a/x")
      _ = try? file.doubleAttribute("missing", on: "/")
      _ = try? file.members(ofGroup: "/a/x")
      _ = try? file.writeFloats("/a/x/below", [1], shape: [1])
      _ = try? file.createGroup("/a/x")
      try file.flush()
      XCTAssertEqual(openObjectCount(), 1, "only the file itself should be open")
    }
    _ = try? HDF5File(path: folder.appendingPathComponent("absent.h5").path)
    XCTAssertEqual(openObjectCount(), 0)
  }
}
