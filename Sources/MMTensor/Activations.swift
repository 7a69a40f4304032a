import Foundation

/// Element-wise kernels for the gate math. Plain loops over contiguous memory that the optimiser
/// vectorises; no allocation.
public enum Activations {
  @inline(__always) public static func sigmoid(_ x: Float) -> Float { 1 / (1 + expf(-x)) }

  /// In place: x[i] = sigmoid(x[i]) for i in 0..<n.
  @inline(__always)
  public static func sigmoid(_ x: UnsafeMutablePointer<Float>, _ n: Int) {
    for i in 0..<n { x[i] = 1 / (1 + expf(-x[i])) }
  }

  /// In place: x[i] = tanh(x[i]) for i in 0..<n.
  @inline(__always)
  public static func tanh(_ x: UnsafeMutablePointer<Float>, _ n: Int) {
    for i in 0..<n { x[i] = tanhf(x[i]) }
  }

  /// y[i] += x[i]
  @inline(__always)
  public static func add(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int) {
    for i in 0..<n { y[i] += x[i] }
  }
}
