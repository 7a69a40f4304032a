/// A cross-validation or evaluation problem, one line naming the key or file and the fix.
/// `isUsage` marks configuration mistakes (exit 64) as opposed to data problems (exit 1).
public struct EvalError: Error, CustomStringConvertible {
  public let message: String
  public let isUsage: Bool
  public init(_ message: String, usage: Bool = false) {
    self.message = message
    self.isUsage = usage
  }
  public var description: String { message }
}
