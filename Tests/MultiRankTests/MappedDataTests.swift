import Foundation
import MMHDF5
import TestSupport
import XCTest

/// `data.mmap` reads the shard's rows from the data file's own pages, so a file changed under a run must stop it
/// with one line instead of training on two versions of the data: rewritten in place (found at the epoch's
/// end, by its modification time), or truncated (a read past its new end: SIGBUS, caught by the mapping's guard).
final class MappedDataTests: MultiRankTestCase {
  /// Epochs of a run that only the file's change ends.
  static let endless = 1_000_000

  func endlessRun(_ name: String, data: String) throws -> String {
    var config = RunConfig.small(data: data, runDir: path(name))
    config["train.epochs"] = "\(Self.endless)"
    config["checkpoint.every_epochs"] = "1000"
    return try config.write(to: path(name + ".yaml"))
  }

  func errorLines(_ run: MPIRun) -> [Substring] {
    run.stderr.split(separator: "\n").filter { $0.contains("mmtrain: error:") }
  }

  func testAFileRewrittenInPlaceStopsTheRunWithOneLine() throws {
    let data = try TestData.synth(samples: 200, to: path("data.h5"))
    // Where the text rows lie in the file: the rewrite changes one value there, as h5py's `f[...][i] = v` would.
    let file = try HDF5File(path: data)
    let offset = try XCTUnwrap(try file.storedRows("/modalities/text", rows: 0..<200)).offset(ofRow: 100)
    file.close()
    let run = try mmtrain(
      ranks: 2, ["train", "--config", try endlessRun("run", data: data), "--progress", "lines"],
      action: (
        "epoch 2/",
        { _ in
          guard let handle = FileHandle(forUpdatingAtPath: data) else { return }
          handle.seek(toFileOffset: UInt64(offset))
          handle.write(Data([0x00, 0x00, 0x80, 0x7f]))  // +Inf where a feature was
          handle.closeFile()
        }
      ))
    XCTAssertEqual(run.status, 1, run.transcript)
    let lines = errorLines(run)
    XCTAssertEqual(lines.count, 1, run.transcript)
    XCTAssertTrue(
      lines.first?.contains("\(data) was changed while this run read its rows in place (data.mmap)") ?? false,
      run.transcript)
    XCTAssertTrue(lines.first?.contains("set data.mmap: false") ?? false, "it says how to avoid it: \(run.transcript)")
  }

  func testATruncatedFileStopsTheRunWithOneLine() throws {
    let data = try TestData.synth(samples: 200, to: path("data.h5"))
    let size = try XCTUnwrap(try FileManager.default.attributesOfItem(atPath: data)[.size] as? Int)
    let run = try mmtrain(
      ranks: 1, ["train", "--config", try endlessRun("run", data: data), "--progress", "lines"],
      action: ("epoch 2/", { _ in _ = truncate(data, off_t(size / 3)) }))
    XCTAssertEqual(run.status, 1, run.transcript)
    let lines = errorLines(run)
    XCTAssertEqual(lines.count, 1, run.transcript)
    // A read of a page past the new end (SIGBUS), or the epoch's end first (the size differs): either names it.
    let line = String(lines.first ?? "")
    XCTAssertTrue(
      line.contains("rank 0: \(data) became shorter while this run read its rows in place")
        || line.contains("\(data) was changed while this run read its rows in place"), run.transcript)
  }

  func testCopiedRowsDoNotDependOnTheFileAfterLoading() throws {
    let data = try TestData.synth(samples: 200, to: path("data.h5"))
    let size = try XCTUnwrap(try FileManager.default.attributesOfItem(atPath: data)[.size] as? Int)
    var config = RunConfig.small(data: data, runDir: path("run"))
    config["train.epochs"] = "4"
    config["data.mmap"] = "false"
    let run = try mmtrain(
      ranks: 1, ["train", "--config", try config.write(to: path("run.yaml")), "--progress", "lines"],
      action: ("epoch 2/", { _ in _ = truncate(data, off_t(size / 3)) }))
    XCTAssertEqual(run.status, 0, "data.mmap: false holds the rows in memory: \(run.transcript)")
  }
}

extension MappedDataTests {
  /// While a run reads the file in place, HDF5 refuses to open it for writing (the mapping's shared lock, as
  /// HDF5's own read-only open takes): an h5py "r+" edit fails on the editor's side and the run trains on.
  func testAnHDF5WriterIsRefusedWhileTheRunReadsTheFile() throws {
    let data = try TestData.synth(samples: 200, to: path("data.h5"))
    var refusal: String? = nil
    let run = try mmtrain(
      ranks: 1, ["train", "--config", try endlessRun("run", data: data), "--progress", "lines"],
      signal: (SIGUSR1, "epoch 3/"),
      action: (
        "epoch 2/",
        { _ in
          do { try HDF5File(path: data, mode: .readWrite).close() } catch { refusal = "\(error)" }
        }
      ))
    XCTAssertEqual(run.status, 75, "stopped by the signal, not by the writer: \(run.transcript)")
    XCTAssertNotNil(refusal, "HDF5 opened the mapped file for writing")
  }
}
