/// A fixture's width field, as the PyTorch generators write it: an int (`hidden: 4`, `head_hidden: 0`) or a
/// list of ints (`hidden: [5, 3]` per layer, `head_hidden: [5, 4]`).
public struct FixtureWidths: Decodable, Sendable {
  public let list: [Int]
  /// Whether the fixture wrote a list (an int `0` head is a Linear head; `[0]` is not a valid list).
  public let isList: Bool

  public init(from decoder: Decoder) throws {
    let c = try decoder.singleValueContainer()
    if let one = try? c.decode(Int.self) {
      (list, isList) = ([one], false)
    } else {
      (list, isList) = (try c.decode([Int].self), true)
    }
  }
}
