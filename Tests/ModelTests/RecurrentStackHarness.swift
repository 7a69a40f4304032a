import MMModel
import MMTensor

/// A stack of recurrent layers as a model would build it, for the cell tests: layer 0 reads x (T, B, ldx),
/// layer k > 0 reads layer k-1's output. Arrays are time-major; the arena holds every layer's tensors.
///
/// Legend: T = steps, B = batch, D = input features, H = hidden, O = output size (H or 2H).
final class RecurrentStackHarness {
  let cell: CellKind, bidirectional: Bool, D: Int, H: Int, T: Int, B: Int
  let arena: ParameterArena
  let layers: [RecurrentLayer]
  var O: Int { layers.last!.outputSize }
  var outputs: [UnsafePointer<Float>] = []  // each layer's output from the last forward (layer-owned buffers)

  init(
    cell: CellKind, bidirectional: Bool, layers count: Int, input D: Int, hidden H: Int, steps T: Int, batch B: Int,
    prefix: String = ""
  ) {
    self.cell = cell; self.bidirectional = bidirectional; self.D = D; self.H = H; self.T = T; self.B = B
    let inputs = (0..<count).map { $0 == 0 ? D : (bidirectional ? 2 : 1) * H }
    let arena = ParameterArena(
      (0..<count).flatMap {
        RecurrentStack.parameterSpecs(
          cell: cell, bidirectional: bidirectional, prefix: prefix, layer: $0, input: inputs[$0], hidden: H)
      })
    self.arena = arena
    layers = (0..<count).map {
      RecurrentStack.makeLayer(
        cell: cell, bidirectional: bidirectional, arena: arena, prefix: prefix, layer: $0,
        input: inputs[$0], hidden: H, maxSteps: T, maxBatch: B)
    }
  }

  /// x (T, B, ldx) -> output (T, B, O).
  func forward(_ x: [Float], ldx: Int, lengths: [Int32]) -> [Float] {
    x.withUnsafeBufferPointer { xp in
      lengths.withUnsafeBufferPointer { lp in
        var h = xp.baseAddress!, ld = ldx
        outputs = []
        for layer in layers {
          h = layer.forward(h, ldx: ld, lengths: lp.baseAddress!, steps: T, batch: B)
          ld = layer.outputSize
          outputs.append(h)
        }
        return Array(UnsafeBufferPointer(start: h, count: T * B * O))
      }
    }
  }

  /// Back-propagates dOut (T, B, O) through the last forward (made with the same x); accumulates into
  /// arena.grads and returns dx (T, B, D).
  func backward(_ dOut: [Float], x: [Float], ldx: Int, lengths: [Int32]) -> [Float] {
    var d = dOut
    var dx = [Float](repeating: 0, count: T * B * D)
    x.withUnsafeBufferPointer { xp in
      lengths.withUnsafeBufferPointer { lp in
        // Each layer's input: x for layer 0, the previous layer's output above it.
        let inputs =
          [(xp.baseAddress!, ldx)] + (1..<max(layers.count, 1)).map { (outputs[$0 - 1], layers[$0 - 1].outputSize) }
        for k in stride(from: layers.count - 1, through: 0, by: -1) {
          var dIn = [Float](repeating: .nan, count: T * B * layers[k].inputSize)  // overwritten, never accumulated
          d.withUnsafeMutableBufferPointer { dp in
            dIn.withUnsafeMutableBufferPointer { ip in
              layers[k].backward(
                dp.baseAddress!, input: inputs[k].0, ldx: inputs[k].1, lengths: lp.baseAddress!,
                dx: ip.baseAddress!, steps: T, batch: B)
            }
          }
          if k == 0 { dx = dIn } else { d = dIn }
        }
      }
    }
    return dx
  }
}
