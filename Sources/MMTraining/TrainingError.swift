/// A training-time failure (divergence, a checkpoint that does not fit the run), one line with the fix.
public struct TrainingError: Error, CustomStringConvertible {
  public let message: String
  public init(_ message: String) { self.message = message }
  public var description: String { message }
}
