// The files a multi-rank test hands to mmtrain (data, config) and reads back from it (checkpoints,
// metrics.jsonl), plus the base class that gives each test its own temporary folder.
import Foundation
import MMData
import MMHDF5
import TestSupport
import XCTest

/// Each test runs in a fresh temporary folder, removed afterwards.
class MultiRankTestCase: XCTestCase {
  var dir: URL!

  override func setUp() {
    super.setUp()
    dir = makeTemporaryDirectory("mmtrain-multirank")
  }

  override func tearDown() {
    try? FileManager.default.removeItem(at: dir)
    super.tearDown()
  }

  func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

  /// `mpirun -n ranks mmtrain <args>` in this test's folder (or `directory`); fails the test (and throws) if
  /// it cannot start. `ranks: 0`: the binary alone, without mpirun. See Harness.runMPI for `action`.
  func mmtrain(
    ranks: Int, _ args: [String], in directory: URL? = nil, timeout: Double = 90,
    signal: (number: Int32, whenStdoutContains: String)? = nil,
    action: (whenStdoutContains: String, run: (pid_t) -> Void)? = nil, environment: [String: String] = [:],
    file: StaticString = #filePath, line: UInt = #line
  ) throws -> MPIRun {
    try XCTUnwrap(
      Harness.runMPI(
        ranks: ranks, args: args, in: directory ?? dir, timeout: timeout, signal: signal, action: action,
        environment: environment, file: file, line: line),
      file: file, line: line)
  }
}

// MARK: - Data files

enum TestData {
  /// Steps T of text and vision in `synth` (audio has 2T); also the config's data.steps.
  static let steps = 6

  /// A valid data set in the contract's layout: text 8, audio 8 (at 2T), vision 2 features; labels 0/1.
  static func synth(samples: Int, to path: String, seed: UInt64 = 7) throws -> String {
    var spec = SynthSpec()
    spec.samples = samples; spec.steps = steps; spec.seed = seed
    spec.textFeatures = 8; spec.audioFeatures = 8; spec.visionFeatures = 2
    try Synth.write(spec, to: path)
    return path
  }

  /// Writes a new file (replacing any) through `body`, closing it before returning.
  static func write(_ path: String, _ body: (HDF5File) throws -> Void) throws -> String {
    let file = try HDF5File(path: path, mode: .truncate)
    defer { file.close() }
    try body(file)
    try file.flush()
    return path
  }

  /// Opens an existing file for changes (e.g. one bad value in a synth set), closing it before returning.
  static func edit(_ path: String, _ body: (HDF5File) throws -> Void) throws {
    let file = try HDF5File(path: path, mode: .readWrite)
    defer { file.close() }
    try body(file)
    try file.flush()
  }
}

// MARK: - Config files

/// A run's config as dotted key -> YAML value text, written out as the two-level YAML mmtrain reads.
/// Any key may be set, unknown ones included (to test the typo hints).
struct RunConfig {
  var values: [String: String]

  /// Small enough for two cores in a debug build: hidden 8, 6 steps, batch 12, 2 epochs, SGD.
  static func small(data: String, runDir: String) -> RunConfig {
    RunConfig(values: [
      "data.path": quoted(data),
      "data.steps": "\(TestData.steps)",
      "data.validation_fraction": "0.2",
      "model.hidden": "8",
      "model.layers": "1",
      "task.kind": "multiclass",
      "train.epochs": "2",
      "train.batch_size": "12",
      "train.optimizer": "sgd",
      "train.lr": "0.05",
      "train.momentum": "0.9",
      "train.seed": "3",
      "checkpoint.dir": quoted(runDir),
      "checkpoint.every_epochs": "1",
      "checkpoint.keep": "3",
    ])
  }

  subscript(key: String) -> String? {
    get { values[key] }
    set { values[key] = newValue }
  }

  /// Single-quoted YAML string (temporary paths hold no quotes).
  static func quoted(_ text: String) -> String { "'\(text)'" }

  var yaml: String {
    let sections = Dictionary(grouping: values.keys, by: { String($0.split(separator: ".")[0]) })
    return sections.keys.sorted().map { section in
      "\(section):\n"
        + sections[section]!.sorted().map { key in
          "  \(key.dropFirst(section.count + 1)): \(values[key]!)\n"
        }.joined()
    }.joined()
  }

  /// Writes the YAML to `path` and returns the path.
  func write(to path: String) throws -> String {
    try yaml.write(toFile: path, atomically: true, encoding: .utf8)
    return path
  }
}

// MARK: - Run outputs

enum RunOutputs {
  /// Every dataset directly under `group` ("/params", "/optimizer") of a checkpoint, by name.
  static func tensors(_ group: String, of checkpoint: String) throws -> [String: [Float]] {
    let file = try HDF5File(path: checkpoint, mode: .readOnly)
    defer { file.close() }
    var tensors: [String: [Float]] = [:]
    for name in try file.members(ofGroup: group) { tensors[name] = try file.readFloats("\(group)/\(name)") }
    return tensors
  }

  /// Asserts that `groups` ("/params", "/optimizer") of two checkpoints hold the same tensors, bit for bit.
  static func assertBitwiseEqual(
    _ actual: String, _ expected: String, _ what: String, groups: [String] = ["/params", "/optimizer"],
    file: StaticString = #filePath, line: UInt = #line
  ) throws {
    for group in groups {
      let want = try tensors(group, of: expected), got = try tensors(group, of: actual)
      XCTAssertFalse(want.isEmpty, "\(expected) has no \(group)", file: file, line: line)
      XCTAssertEqual(Set(got.keys), Set(want.keys), "\(group) \(what)", file: file, line: line)
      for (name, values) in want {
        XCTAssertTrue(
          got[name] == values, "\(group)/\(name) differs \(what) (must be bitwise equal)", file: file, line: line)
      }
    }
  }

  /// RUN_DIR/STOPPED as key -> value ("checkpoint", "reason", ...), or nil when there is none.
  static func stopMarker(runDir: String) -> [String: String]? {
    guard let text = try? String(contentsOfFile: runDir + "/STOPPED", encoding: .utf8) else { return nil }
    var fields: [String: String] = [:]
    for line in text.split(separator: "\n") {
      guard let colon = line.firstIndex(of: ":") else { continue }
      fields[String(line[..<colon])] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }
    return fields
  }

  /// metrics.jsonl of a run directory, one dictionary per epoch line.
  static func metrics(runDir: String) throws -> [[String: Any]] {
    let text = try String(contentsOfFile: runDir + "/metrics.jsonl", encoding: .utf8)
    return try text.split(separator: "\n").map { line in
      try XCTUnwrap(
        try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not a JSON object: \(line)")
    }
  }
}

/// Non-overlapping occurrences of `needle` in `text`.
func occurrences(of needle: String, in text: String) -> Int {
  text.components(separatedBy: needle).count - 1
}
