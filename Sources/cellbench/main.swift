// cellbench: training throughput of one recurrent layer, forward + backward (weight gradients, no dx: it is
// the first layer), on the demo shape T = 20, D = 409, B = 64, one BLAS thread. Prints one line per case; a
// measurement, not a test. Tests/Fixtures/bench_cells.py runs it interleaved with PyTorch:
//
//     swift build -c release --product cellbench
//     .build/release/cellbench [cell:H[:bi] ...] [--seconds S]     e.g. cellbench lstm:32 gru:128:bi
//
// Cases: cell:H[:bi] (default: every registered cell at H = 32 and 128, unidirectional).
// `cellbench allreduce ...` under mpirun times the gradient sum instead (AllreduceProbe.swift).
import Foundation
import MMModel
import MMTensor

var arguments = Array(CommandLine.arguments.dropFirst())
if arguments.first == "allreduce" { allreduceProbe(Array(arguments.dropFirst())) }
var seconds = 2.0
if let i = arguments.firstIndex(of: "--seconds"), i + 1 < arguments.count, let s = Double(arguments[i + 1]) {
  seconds = s
  arguments.removeSubrange(i...(i + 1))
}
let cases = (arguments.isEmpty ? CellKind.allCases.flatMap { ["\($0.rawValue):32", "\($0.rawValue):128"] } : arguments)
  .map { $0.split(separator: ":").map(String.init) }
BLAS.setThreads(1)
let T = 20, D = 409, B = 64
for c in cases {
  guard c.count >= 2, let cell = CellKind(rawValue: c[0]), let H = Int(c[1]) else {
    FileHandle.standardError.write(Data("cellbench: bad case \(c.joined(separator: ":")): want cell:H[:bi]\n".utf8))
    exit(64)
  }
  let bi = c.count > 2 && c[2] == "bi"
  let arena = ParameterArena(
    RecurrentStack.parameterSpecs(cell: cell, bidirectional: bi, prefix: "", layer: 0, input: D, hidden: H))
  let layer = RecurrentStack.makeLayer(
    cell: cell, bidirectional: bi, arena: arena, prefix: "", layer: 0, input: D, hidden: H, maxSteps: T, maxBatch: B)
  var rng = RNG(seed: 1)
  let bound = 1 / Double(H).squareRoot()
  for i in 0..<arena.count { arena.values[i] = Float(rng.uniform(-bound, bound)) }
  let x = Buffer((0..<(T * B * D)).map { _ in Float(rng.normal()) })
  let R = Buffer((0..<(T * B * layer.outputSize)).map { _ in Float(rng.normal()) })
  let dOut = Buffer(count: R.count)
  let lengths = [Int32](repeating: Int32(T), count: B)
  func step() {
    lengths.withUnsafeBufferPointer { lp in
      _ = layer.forward(x.pointer, ldx: D, lengths: lp.baseAddress!, steps: T, batch: B)
      dOut.copy(from: R)  // d(Σ out ⊙ R)/d out
      layer.backward(dOut.pointer, input: x.pointer, ldx: D, lengths: lp.baseAddress!, dx: nil, steps: T, batch: B)
    }
  }
  for _ in 0..<3 { step() }
  var iterations = 0
  let start = Date()
  while Date().timeIntervalSince(start) < seconds {
    step()
    iterations += 1
  }
  let elapsed = Date().timeIntervalSince(start)
  print(
    String(
      format: "bench swift cell=%@ H=%d bidirectional=%@ T=%d D=%d B=%d samples_per_s=%.1f ms_per_batch=%.3f",
      cell.rawValue, H, bi ? "true" : "false", T, D, B, Double(iterations * B) / elapsed,
      1000 * elapsed / Double(iterations)))
}
