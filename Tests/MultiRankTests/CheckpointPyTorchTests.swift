import Foundation
import MMCheckpoint
import MMConfig
import MMData
import MMModel
import MMTensor
import MMTraining
import TestSupport
import XCTest

/// Every fusion's checkpoint loads into its documented PyTorch module (Tests/Fixtures/zoo_modules.py) with
/// `load_state_dict(strict=True)`, and that module computes what the Swift model computes.
///
/// `mmtrain train` runs one epoch of each architecture; the test loads each checkpoint into the Swift model
/// the config describes and records its logits on a random batch (one modality absent for one sample);
/// Tests/Fixtures/check_zoo_checkpoint.py then loads the same checkpoint into zoo_modules.MultimodalModel
/// (strict) and must reproduce those logits. Without torch and h5py for python3 the PyTorch half is skipped,
/// saying so.
final class CheckpointPyTorchTests: MultiRankTestCase {
  /// Architectures trained here (model.* keys): every fusion, every cell, both directions; per-modality
  /// steps and hidden sizes for some.
  static let architectures: [[String: String]] = [
    ["model.fusion": "early", "model.pooling": "last", "model.layers": "2", "model.bidirectional": "true"],
    [
      "model.fusion": "late", "model.pooling": "mean", "model.cell": "gru",
      "data.steps": "{text: 6, audio: 12, vision: 4}",
      "model.hidden": "{text: 8, audio: 6, vision: 4}",
    ],
    [
      "model.fusion": "attention", "model.pooling": "attention", "model.cell": "gru", "model.bidirectional": "true",
      "model.layers": "2", "model.head_hidden": "0", "data.steps": "{text: 6, audio: 12, vision: 6}",
    ],
    [
      "model.fusion": "tensor", "model.pooling": "max", "model.cell": "lstm_peephole", "model.bidirectional": "true",
      "model.fusion_size": "3", "model.hidden": "{text: 5, audio: 4, vision: 3}",
    ],
  ]

  /// The reference systems (configs/examples): per-step targets with a deep head (a), per-layer widths of
  /// both cells (c, c-gru), stacked equal widths (d); small widths, one epoch on `mmtrain synth --example`.
  func testReferenceSystemsLoadIntoPyTorchStrict() throws {
    let root = packageRoot().path
    var cases: [String] = []
    for (n, (system, sets)) in [
      ("a", ["model.hidden=6", "model.head_hidden=[5, 3]"]), ("b", ["model.hidden=5"]), ("c", ["model.hidden=[6, 4]"]),
      ("c-gru", ["model.hidden=[6, 4]"]), ("d", ["model.hidden=5"]),
      ("e", ["model.hidden={text: 6}", "model.encoders={image: {kind: conv, channels: [3, 4]}}"]),
    ].enumerated() {
      let example = try XCTUnwrap(SynthExample(rawValue: system.hasPrefix("c") ? "c" : system))
      let data = path("\(example.rawValue).h5")
      if !FileManager.default.fileExists(atPath: data) { try example.write(samples: 24, seed: 3, to: data) }
      let runDir = path("run-\(system)")
      let config = try String(contentsOfFile: "\(root)/configs/examples/\(system).yaml", encoding: .utf8)
        .replacingOccurrences(of: "runs/examples/\(example.rawValue).h5", with: data)
        .replacingOccurrences(of: "runs/examples/\(system)\n", with: runDir + "\n")
      let configPath = path("config-\(system).yaml")
      try config.write(toFile: configPath, atomically: true, encoding: .utf8)
      let overrides = (sets + ["train.epochs=1", "checkpoint.dir=\(runDir)"]).flatMap { ["--set", $0] }
      let run = try mmtrain(ranks: 1, ["train", "--config", configPath] + overrides)
      XCTAssertEqual(run.status, 0, run.transcript)
      guard run.status == 0 else { continue }
      let resolved = path("resolved-\(system).yaml")
      try TrainConfig.load(path: configPath, overrides: sets + ["checkpoint.dir=\(runDir)"]).yaml()
        .write(toFile: resolved, atomically: true, encoding: .utf8)
      cases.append(
        try writeCase(
          config: resolved, data: data, checkpoint: runDir + "/latest", to: path("case-\(system).json"),
          seed: UInt64(10 + n)))
    }
    XCTAssertEqual(cases.count, 6)
    try checkInPyTorch(cases)
  }

  func testCheckpointLoadsIntoPyTorchStrict() throws {
    let data = try TestData.synth(samples: 48, to: path("data.h5"))
    var cases: [String] = []
    for (n, settings) in Self.architectures.enumerated() {
      let runDir = path("run-\(n)")
      var config = RunConfig.small(data: data, runDir: runDir)
      config["train.epochs"] = "1"
      for (key, value) in settings { config[key] = value }
      let configPath = try config.write(to: path("config-\(n).yaml"))
      let run = try mmtrain(ranks: 1, ["train", "--config", configPath])
      XCTAssertEqual(run.status, 0, run.transcript)
      guard run.status == 0 else { continue }
      cases.append(
        try writeCase(
          config: configPath, data: data, checkpoint: runDir + "/latest", to: path("case-\(n).json"), seed: UInt64(n)))
    }
    XCTAssertEqual(cases.count, Self.architectures.count)
    try checkInPyTorch(cases)
  }

  /// check_zoo_checkpoint.py on the cases: every one loads with strict=True and gives the Swift logits.
  func checkInPyTorch(_ cases: [String]) throws {
    let probe = python(["-c", "import torch, h5py"])
    guard probe.status == 0 else {
      let lines = probe.output.split(separator: "\n").map(String.init)
      let reason = lines.last(where: { $0.contains("Error") }) ?? lines.last ?? "python3 not found"
      print(
        "testCheckpointLoadsIntoPyTorchStrict: skipped the PyTorch half (python3 cannot import torch and h5py: \(reason))"
      )
      throw XCTSkip("python3 cannot import torch and h5py (\(reason)); the PyTorch strict load was not checked")
    }
    let script = fixturesDirectory().appendingPathComponent("check_zoo_checkpoint.py").path
    let check = python([script] + cases)
    print(check.output)
    XCTAssertEqual(check.status, 0, check.output)
    XCTAssertEqual(occurrences(of: "load_state_dict(strict=True)", in: check.output), cases.count, check.output)
  }

  /// The Swift model of `config` over the data's modalities, loaded from `checkpoint`, run on a random batch;
  /// writes what check_zoo_checkpoint.py needs. Returns the path written.
  func writeCase(config configPath: String, data: String, checkpoint: String, to out: String, seed: UInt64) throws
    -> String
  {
    let config = try TrainConfig.load(path: configPath)
    let modalities = try DataSchema.read(path: data).resolveModalities(config.data.modalities)
    let contents = try Checkpoint.read(path: checkpoint)
    let outputs = try XCTUnwrap(contents.params.last).shape[0]  // the head's last bias: (C)
    try ModelSpec.checkPerModalityKeys(config, modalities: modalities)
    var embeddings: [String: EmbedShape] = [:]  // token modalities: the checkpoint's tables
    for p in contents.params where p.name.hasPrefix("embed.") {
      let name = String(p.name.dropFirst("embed.".count).dropLast(".weight".count))
      embeddings[name] = EmbedShape(
        vocabulary: p.shape[0], size: p.shape[1], frozen: config.model.embed[name]?.freeze ?? true)
    }
    let spec = ModelSpec.make(config, modalities: modalities, outputs: outputs, embeddings: embeddings)
    let B = 4, S = spec.maxSteps, D = spec.width, M = spec.inputs.count
    let model = spec.make(maxBatch: B)
    try Checkpoint.loadParams(contents, into: model.arena)

    var rng = RNG(seed: 40 + seed)
    var x = (0..<(S * B * D)).map { _ in Float(rng.normal()) }
    for input in spec.inputs {  // token ids: integers below V in their column
      guard let V = input.embed?.vocabulary else { continue }
      for r in 0..<(S * B) { x[r * D + input.column] = Float(rng.next() % UInt64(V)) }
    }
    var lengths = [Int32](repeating: 0, count: M * B)
    for (m, input) in spec.inputs.enumerated() {
      for b in 0..<B { lengths[m * B + b] = Int32(max(1, input.steps - b)) }
    }
    lengths[(M - 1) * B + 1] = 0  // the last modality is absent for sample 1
    var fused = [Int32](repeating: 1, count: B)
    for b in 0..<B { for m in 0..<M { fused[b] = max(fused[b], lengths[m * B + b]) } }
    let samples = Array(0..<B)
    var xCopy = x, lengthsCopy = lengths
    let logits: [Float] = xCopy.withUnsafeMutableBufferPointer { xp in
      lengthsCopy.withUnsafeMutableBufferPointer { lp in
        fused.withUnsafeMutableBufferPointer { fp in
          samples.withUnsafeBufferPointer { sp in
            let batch = ModelBatch(
              x: xp.baseAddress!, lengths: lp.baseAddress!, fusedLengths: fp.baseAddress!, samples: sp.baseAddress!,
              count: B)
            return Array(UnsafeBufferPointer(start: model.forward(batch), count: spec.rowsPerSample * B * outputs))
          }
        }
      }
    }

    // Per modality, batch-first (B, T_m, D_m) as the PyTorch module takes it.
    var inputs: [String: Any] = [:], lengthMap: [String: Any] = [:]
    for (m, input) in spec.inputs.enumerated() {
      var xm: [Double] = []
      for b in 0..<B {
        for t in 0..<input.steps {
          for d in 0..<input.features { xm.append(Double(x[(t * B + b) * D + input.column + d])) }
        }
      }
      inputs[input.name] = ["shape": [B, input.steps, input.features], "data": xm]
      lengthMap[input.name] = (0..<B).map { Int(lengths[m * B + $0]) }
    }
    let zooSpec: [String: Any] = [
      "fusion": spec.fusion.rawValue, "cell": spec.cell.rawValue, "layers": spec.layers,
      "bidirectional": spec.bidirectional,
      "pooling": spec.pooling.rawValue, "attention_size": spec.attentionSize as Any,
      "fusion_size": spec.fusionSize as Any,
      "head_hidden": spec.headHidden as Any, "dropout": spec.dropout, "outputs": spec.outputs,
      "task": spec.task.rawValue, "target": spec.target.rawValue,
      "modalities": spec.inputs.map(Self.zooModality),
    ]
    // Per-step targets: the Swift (T, B, C) as PyTorch's (B, T, C); the script compares the valid steps.
    let T = spec.rowsPerSample
    var batchFirst = [Double](repeating: 0, count: logits.count)
    for t in 0..<T {
      for b in 0..<B {
        for c in 0..<outputs { batchFirst[(b * T + t) * outputs + c] = Double(logits[(t * B + b) * outputs + c]) }
      }
    }
    let json: [String: Any] = [
      "checkpoint": checkpoint, "spec": zooSpec, "inputs": inputs, "lengths": lengthMap,
      "logits": ["shape": T > 1 ? [B, T, outputs] : [B, outputs], "data": batchFirst],
    ]
    try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: out))
    return out
  }

  /// One modality as zoo_modules' spec writes it: a sequence, or its kind with its encoder or embedding.
  static func zooModality(_ input: ModelSpec.Input) -> [String: Any] {
    var m: [String: Any] = [
      "name": input.name, "features": input.features, "steps": input.steps, "hidden": input.widths,
    ]
    if let conv = input.conv {
      m["kind"] = input.frames ? "image_sequence" : "image"
      m["shape"] = [conv.channels, conv.height, conv.width]
      m["encoder"] = ["kind": "conv", "channels": conv.stages, "kernel": conv.kernel, "pool": conv.pool]
    } else if let widths = input.mlp {
      m["kind"] = "static"
      m["encoder"] = ["kind": "mlp", "widths": widths]
    } else if let e = input.embed {
      m["kind"] = "tokens"
      m["vocab"] = e.vocabulary; m["embed"] = e.size; m["frozen"] = e.frozen
    }
    return m
  }

  /// Runs python3 (from PATH) with `arguments`; stdout and stderr together.
  func python(_ arguments: [String]) -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3"] + arguments
    let output = dir.appendingPathComponent("python-output.txt")
    guard FileManager.default.createFile(atPath: output.path, contents: nil),
      let handle = try? FileHandle(forWritingTo: output)
    else { return (127, "cannot write \(output.path)") }
    defer { try? handle.close() }
    process.standardOutput = handle
    process.standardError = handle
    process.standardInput = FileHandle.nullDevice
    do { try process.run() } catch { return (127, "cannot start python3: \(error)") }
    process.waitUntilExit()
    return (process.terminationStatus, (try? String(contentsOf: output, encoding: .utf8)) ?? "")
  }
}
