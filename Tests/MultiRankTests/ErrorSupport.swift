import Foundation
import MMHDF5
import TestSupport
import XCTest

/// The failure contract every error test checks, shared by the error suites.
extension MultiRankTestCase {
  /// A failing run must be over long before the harness's 90 s hang limit.
  var limit: Double { 60 }

  /// Runs `mmtrain train` on `ranks` ranks and checks the failure contract; returns the run for more checks.
  @discardableResult
  func expectFailure(
    ranks: Int, _ args: [String], saying needle: String, status: Int32? = nil,
    file: StaticString = #filePath, line: UInt = #line
  ) throws -> MPIRun {
    let run = try mmtrain(ranks: ranks, ["train"] + args, timeout: 90, file: file, line: line)
    if let status {
      XCTAssertEqual(run.status, status, "exit status\n\(run.transcript)", file: file, line: line)
    } else {
      XCTAssertNotEqual(run.status, 0, "should fail\n\(run.transcript)", file: file, line: line)
    }
    XCTAssertEqual(
      occurrences(of: needle, in: run.stderr), 1, "'\(needle)' once in stderr\n\(run.transcript)", file: file,
      line: line)
    XCTAssertEqual(run.errorLines.count, 1, "one 'mmtrain: error:' line\n\(run.transcript)", file: file, line: line)
    XCTAssertTrue(
      run.errorLines.first?.contains(needle) ?? false, "the error line says '\(needle)'\n\(run.transcript)", file: file,
      line: line)
    XCTAssertFalse(
      run.stderr.contains("HDF5-DIAG") || run.stdout.contains("HDF5-DIAG"), "raw HDF5 error stack\n\(run.transcript)",
      file: file, line: line)
    XCTAssertLessThan(run.seconds, limit, "took too long\n\(run.transcript)", file: file, line: line)
    return run
  }

  /// The one error line (empty when there is none; expectFailure has then failed already).
  func errorLine(_ run: MPIRun) -> String { run.errorLines.first.map(String.init) ?? "" }

  /// A valid 40-sample synth set, optionally changed by `edit`.
  func dataFile(_ name: String = "data.h5", edit: ((HDF5File) throws -> Void)? = nil) throws -> String {
    let data = try TestData.synth(samples: 40, to: path(name))
    if let edit { try TestData.edit(data, edit) }
    return data
  }

  /// A small config for `data` with `changes` laid over it; returns the config file's path.
  func config(data: String, _ changes: [String: String] = [:], name: String = "config.yaml") throws -> String {
    var config = RunConfig.small(data: data, runDir: path("run"))
    config["train.epochs"] = "1"
    for (key, value) in changes { config[key] = value }
    return try config.write(to: path(name))
  }

}
