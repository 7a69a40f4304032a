/// A data-file problem, one line naming the file, the dataset and the fix.
public struct DataError: Error, CustomStringConvertible {
  public let message: String
  public init(_ message: String) { self.message = message }
  public var description: String { message }
}
