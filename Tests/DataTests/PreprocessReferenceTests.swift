import Foundation
import MMConfig
import MMData
import MMDistributed
import MMHDF5
import TestSupport
import XCTest

/// The Preprocessing article (Sources/mmtrain/Documentation.docc/Preprocessing.md) documents the preprocessing
/// with a numpy function (Tests/Fixtures/preprocess.py). Its output on the fixture files is committed
/// (preprocess_reference.json); mmtrain's loader must give the same model input, lengths and statistics, and
/// the article must still print exactly that function.
final class PreprocessReferenceTests: XCTestCase {
  struct Case: Decodable {
    let file: String, modalities: [String], steps: [Int], align: String, normalize: String, missing: String
    let validation_rows: [Int]
    let x: [Double], lengths: [Int], mean: [Double], std: [Double]
  }

  func testMMTrainGivesWhatTheDocumentedPythonGives() throws {
    let url = fixturesDirectory().appendingPathComponent("preprocess_reference.json")
    struct Reference: Decodable { let cases: [Case] }
    let cases = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: url)).cases
    XCTAssertGreaterThanOrEqual(cases.count, 9)
    for c in cases {
      let label = "\(c.file) \(c.modalities) steps \(c.steps) \(c.align) \(c.normalize) missing \(c.missing)"
      let file = try HDF5File(path: fixturesDirectory().appendingPathComponent(c.file).path)
      defer { file.close() }
      let schema = try DataSchema.read(file)
      var mask = [Bool](repeating: false, count: schema.count)
      for row in c.validation_rows { mask[row] = true }
      let options = LoadOptions(
        modalities: try schema.resolveModalities(c.modalities), steps: c.steps, align: Align(rawValue: c.align)!,
        normalize: Normalize(rawValue: c.normalize)!, missing: MissingPolicy(rawValue: c.missing)!, task: .multiclass,
        classes: nil, validationMask: mask)
      let shard = try ShardLoader.load(file: file, schema: schema, options: options, comm: SingleProcessCommunicator())
      XCTAssertEqual(shard.lengths.map(Int.init), c.lengths, label)
      XCTAssertEqual(shard.fusedRows.count, c.x.count, label)
      guard shard.fusedRows.count == c.x.count else { continue }
      // float32 arithmetic on both sides; statistics summed in float64 in a different order.
      let close = { (a: [Float], b: [Double]) -> Bool in
        zip(a, b).allSatisfy { isClose(Double($0), $1, rtol: 1e-5, atol: 1e-5) }
      }
      XCTAssertTrue(close(shard.statistics.mean, c.mean), "mean, \(label)")
      XCTAssertTrue(close(shard.statistics.std, c.std), "std, \(label)")
      XCTAssertTrue(
        close(shard.fusedRows, c.x),
        "x, \(label): max relative difference \(maxRelativeDifference(shard.fusedRows, c.x))")
    }
  }

  func testArticlePrintsTheCheckedFunction() throws {
    let script = try String(contentsOf: fixturesDirectory().appendingPathComponent("preprocess.py"), encoding: .utf8)
    let path = "Sources/mmtrain/Documentation.docc/Preprocessing.md"
    let article = try String(contentsOf: packageRoot().appendingPathComponent(path), encoding: .utf8)
    let begin = "# --- begin preprocess (quoted in Preprocessing.md) ---\n", end = "# --- end preprocess ---"
    let function = try XCTUnwrap(
      script.components(separatedBy: begin).dropFirst().first?.components(separatedBy: end).first)
    XCTAssertTrue(function.hasPrefix("def preprocess("), function)
    XCTAssertTrue(article.contains(function), "\(path) must quote Tests/Fixtures/preprocess.py's preprocess() verbatim")
  }
}
