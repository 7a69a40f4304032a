import MMCore
import MMHDF5

/// A token-id modality's ids (integer [N, T]: word indices an embedding looks up), checked where they are read:
/// the valid steps of a rank's rows hold ids in 0..<V. Steps past a row's length are never read (padding of -1
/// or 0 is fine). Ids travel through the fused batch as one float column, exact below 2^24.
public enum TokenIds {
  /// The largest float that holds every integer below it exactly.
  public static let exactLimit = 1 << 24

  /// The largest id at a valid step of `rows` (-1 when there is none). Throws one line, naming the modality,
  /// sample and step, for a negative id, an id ≥ `vocabulary` (when known: `vocabularySource` says where it
  /// comes from), or one beyond `exactLimit`. `validSteps(i)`: the steps of local row i that the model reads.
  public static func scan(
    _ file: HDF5File, _ m: DataSchema.Modality, rows: Range<Int>, validSteps: (Int) -> Int, vocabulary: Int?,
    vocabularySource: String
  ) throws -> Int {
    let T = m.steps, block = max(1, (1 << 16) / T)
    var largest = -1
    var first = rows.lowerBound
    while first < rows.upperBound {
      let part = first..<min(first + block, rows.upperBound)
      let ids = try file.readInt64s(m.dataset, rows: part)
      for (r, sample) in part.enumerated() {
        for t in 0..<min(validSteps(sample - rows.lowerBound), T) {
          let id = ids[r * T + t]
          guard id >= 0 else {
            throw MMError(
              "\(file.path): \(m.dataset) has token id \(id) at sample \(sample), step \(t); ids are indices 0..<V into "
                + "model.embed.\(m.name) (pad past /lengths instead, or map unknown words to an id of their own)")
          }
          if let V = vocabulary, id >= V {
            throw MMError(
              "\(file.path): \(m.dataset) has token id \(id) at sample \(sample), step \(t), outside the vocabulary of "
                + "\(V) ids (\(vocabularySource)); map unknown words to an id below \(V)")
          }
          guard id < exactLimit else {
            throw MMError(
              "\(file.path): \(m.dataset) has token id \(id) at sample \(sample), step \(t); ids up to \(exactLimit - 1) are "
                + "supported (renumber the vocabulary)")
          }
          largest = max(largest, Int(id))
        }
      }
      first = part.upperBound
    }
    return largest
  }
}
