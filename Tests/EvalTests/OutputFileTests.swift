import Foundation
import MMCore
import MMEval
import TestSupport
import XCTest

/// A path the user named is written through a temporary file and rename(2): a regular file is replaced
/// whole, anything else (a directory above all) is refused and left as it was.
final class OutputFileTests: XCTestCase {
  var dir: URL!
  override func setUp() { dir = makeTemporaryDirectory("mmtrain-out") }
  override func tearDown() { try? FileManager.default.removeItem(at: dir) }

  func testADirectoryIsRefusedAndKept() throws {
    let target = dir.appendingPathComponent("out.csv").path
    try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: false)
    try "notes".write(toFile: target + "/notes.txt", atomically: true, encoding: .utf8)
    XCTAssertThrowsError(try OutputFile.write(Data("a,b\n".utf8), to: target, option: "--out")) { error in
      XCTAssertEqual(
        "\(error)", "--out \(target) is a directory; give a file path (mmtrain never replaces a directory)")
      XCTAssertEqual((error as? MMError)?.kind, .usage)
    }
    XCTAssertEqual(try String(contentsOfFile: target + "/notes.txt", encoding: .utf8), "notes")
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["out.csv"], "no temporary file left")
  }

  func testARegularFileIsReplacedWhole() throws {
    let target = dir.appendingPathComponent("p.csv").path
    try "old contents that are longer".write(toFile: target, atomically: true, encoding: .utf8)
    try OutputFile.write(Data("new\n".utf8), to: target)
    XCTAssertEqual(try String(contentsOfFile: target, encoding: .utf8), "new\n")
  }

  func testALinkToAFileIsWrittenThrough() throws {
    let real = dir.appendingPathComponent("real.csv").path, link = dir.appendingPathComponent("link.csv").path
    try "x".write(toFile: real, atomically: true, encoding: .utf8)
    try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: real)
    try OutputFile.write(Data("y".utf8), to: link)
    XCTAssertEqual(try String(contentsOfFile: real, encoding: .utf8), "y")
    XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: link), real, "the link stays a link")
  }

  func testAMissingFolderIsNamedAsTheOptionsFolder() {
    let target = dir.appendingPathComponent("missing/p.csv").path
    XCTAssertThrowsError(try OutputFile.write(Data(), to: target, option: "--out")) {
      XCTAssertTrue("\($0)".hasPrefix("--out's folder \(dir.path)/missing does not exist"), "\($0)")
    }
  }

  func testAFailedWriterLeavesNothing() throws {
    let target = dir.appendingPathComponent("p.h5").path
    struct Boom: Error {}
    XCTAssertThrowsError(
      try OutputFile.replace(target) { tmp in
        try "half".write(toFile: tmp, atomically: false, encoding: .utf8)
        throw Boom()
      })
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [])
  }
}
