import Foundation
import MMModel
import MMTensor
import TestSupport
import XCTest

/// Gated fusion beyond ZooReferenceTests (which checks it against PyTorch like every fusion) and
/// ZooGradientCheckTests (which iterates FusionKind.allCases, so every cell x direction x pooling): its
/// registration and tensors, and that the reference comparison would catch a wrong gate.
final class GatedFusionTests: XCTestCase {
  func testRegisteredByName() {
    XCTAssertEqual(FusionKind(rawValue: "gated"), .gated)
    XCTAssertTrue(FusionKind.allCases.contains(.gated))
    XCTAssertNil(FusionKind(rawValue: "gate"), "only registered names are kinds")
    XCTAssertEqual(Set(FusionKind.allCases.map(\.rawValue)).count, FusionKind.allCases.count, "fusion names are unique")
    XCTAssertFalse(FusionKind.gated.concatenatesSteps)
  }

  /// fusion.proj.<m> (F, P_m) (F) per modality, then fusion.gate.<m> (F, Σ P) (F), then the head on F.
  func testTensors() {
    let inputs = [
      ModelSpec.Input(name: "text", column: 0, features: 3, steps: 4, hidden: 4),
      ModelSpec.Input(name: "audio", column: 3, features: 2, steps: 5, hidden: 3),
    ]
    let spec = ModelSpec(inputs: inputs, fusion: .gated, bidirectional: true, task: .multiclass, outputs: 2)
    XCTAssertEqual(spec.resolvedFusionSize, 8, "default: the largest pooled size (2 x 4)")
    XCTAssertEqual(spec.fusedSize, 8)
    XCTAssertEqual(spec.resolvedHeadHidden, [64])
    let fusion = spec.parameterSpecs.filter { $0.name.hasPrefix("fusion.") }
    XCTAssertEqual(
      fusion.map(\.name),
      [
        "fusion.proj.text.weight", "fusion.proj.text.bias", "fusion.proj.audio.weight",
        "fusion.proj.audio.bias", "fusion.gate.text.weight", "fusion.gate.text.bias",
        "fusion.gate.audio.weight", "fusion.gate.audio.bias",
      ])
    XCTAssertEqual(fusion.map(\.shape), [[8, 8], [8], [8, 6], [8], [8, 14], [8], [8, 14], [8]])
    XCTAssertEqual(
      spec.summary,
      "gated fusion, 1x bidirectional LSTM per modality (text 3 -> 4, audio 2 -> 3), gated 8, "
        + "head MLP 8 -> 64 -> 2 (multiclass)")
  }

  /// Fails on purpose: the Swift model against a reference whose gate was perturbed (one weight of
  /// fusion.gate.audio by 0.1 before PyTorch ran, emulated here by perturbing the Swift side) must miss the
  /// 1e-5 logits tolerance, and a gate gradient scaled by 1.001 in the reference must miss the 1e-4 one.
  func testPerturbedReferenceIsDetected() throws {
    let f = try ZooReferenceTests.load("gated_lstm_last")
    let spec = ZooReferenceTests.modelSpec(f.spec)
    XCTAssertEqual(spec.fusion, .gated)
    let B = f.fused_lengths.count, M = spec.inputs.count, S = spec.maxSteps, D = spec.width, C = spec.outputs
    let model = spec.make(maxBatch: B)
    for t in model.arena.tensors { model.arena.setValues(f.params[t.name]!.data.map(Float.init), of: t) }
    var x = [Float](repeating: 0, count: S * B * D)
    var lengths = [Int32](repeating: 0, count: M * B)
    for (m, input) in spec.inputs.enumerated() {
      let xm = f.inputs[input.name]!.data, T = input.steps, Dm = input.features
      for b in 0..<B {
        lengths[m * B + b] = Int32(f.lengths[input.name]![b])
        for t in 0..<T { for d in 0..<Dm { x[(t * B + b) * D + input.column + d] = Float(xm[(b * T + t) * Dm + d]) } }
      }
    }
    let batch = TestBatch(x: x, modalityLengths: lengths, batch: B, fusedLengths: f.fused_lengths.map(Int32.init))
    func logits() -> [Float] { Array(UnsafeBufferPointer(start: model.forward(batch.model), count: B * C)) }

    let exact = logits()
    XCTAssertLessThan(maxRelativeDifference(exact, f.logits.data), 1e-5, "the unperturbed reference matches")
    let targets = f.targets.data.map(Float.init)
    _ = targets.withUnsafeBufferPointer { tp in
      exact.withUnsafeBufferPointer { lp in
        Loss.evaluate(
          spec.task, logits: lp.baseAddress!, targets: tp.baseAddress!, batch: B, outputs: C, globalCount: B,
          dlogits: model.dlogits.pointer)
      }
    }
    model.arena.zeroGrads()
    model.backward()
    let gate = model.arena.tensor("fusion.gate.audio.weight")
    let grads = model.arena.grads(of: gate), reference = f.grads[gate.name]!.data
    XCTAssertLessThan(maxRelativeDifference(grads, reference), 1e-4, "the unperturbed gradient matches")
    XCTAssertGreaterThan(
      maxRelativeDifference(grads, reference.map { $0 * 1.001 }), 1e-4, "a 0.1% gradient error is caught")

    model.arena.values[gate.offset] += 0.1
    XCTAssertGreaterThan(maxRelativeDifference(logits(), f.logits.data), 1e-5, "a gate weight off by 0.1 is caught")
  }
}
