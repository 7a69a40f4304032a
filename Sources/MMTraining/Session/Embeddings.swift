import MMCheckpoint
import MMConfig
import MMCore
import MMData
import MMDistributed
import MMHDF5
import MMModel

/// The embeddings of a run's token-id modalities (`model.embed.<m>`), resolved against the file, the config and
/// the checkpoint it starts from:
///
/// - V: the checkpoint's table, else the file's pretrained vectors `/embeddings/<m>` [V, E], else the largest
///   valid id in the file + 1 (all-reduced over the shards);
/// - E: `size`, else the pretrained vectors' width (a `size` that disagrees with them is refused);
/// - frozen: `freeze`, else true when the file holds pretrained vectors (nn.Embedding.from_pretrained).
///
/// Every valid id is checked by the rank that owns its row (TokenIds.scan). Collective.
struct Embeddings {
  var shapes: [String: EmbedShape] = [:]
  /// Rank 0, a run from scratch: the pretrained vectors its tables start from ([V·E], row-major).
  var pretrained: [String: [Float]] = [:]

  static func resolve(
    _ c: TrainConfig, file: HDF5File, modalities: [DataSchema.Modality], shard: Shard,
    saved: Checkpoint.Contents?, comm: Communicator
  ) throws -> Embeddings {
    var result = Embeddings()
    let M = modalities.count
    for (mi, m) in modalities.enumerated() where m.kind == .tokens {
      let key = "model.embed.\(m.name)", choice = c.model.embed[m.name]
      let table = "/embeddings/\(m.name)"
      let vectors: [Int]? = try comm.agree {
        guard file.isDataset(table) else { return nil }
        let info = try file.datasetInfo(table)
        guard info.shape.count == 2, info.shape[0] > 0, info.shape[1] > 0, case .float = info.dtype else {
          throw MMError(
            "\(file.path): '\(table)' is \(info.dtype) \(info.shape); pretrained vectors of '\(m.name)' are float [V, E] "
              + "(row v: the vector of id v)")
        }
        return info.shape
      }
      let old = saved?.params.first { $0.name == "embed.\(m.name).weight" }?.shape
      let E = try comm.agree { () -> Int in  // every rank reaches the same answer; rank 0 says it
        if let size = choice?.size, let vectors, size != vectors[1], old == nil {
          throw MMError.usage(
            "\(key).size = \(size) disagrees with \(table) [\(vectors[0]), \(vectors[1])] in \(file.path): the pretrained "
              + "vectors are \(vectors[1]) wide (leave size out, or set it to \(vectors[1]))")
        }
        guard let E = old?[1] ?? choice?.size ?? vectors?[1] else {
          throw MMError.usage(
            "'\(m.name)' holds token ids \(m.kind.contract) in \(file.path): it needs an embedding, such as \(key): "
              + "{size: 100} (or pretrained vectors \(table) [V, E] in the file)")
        }
        return E
      }
      let known = old?[0] ?? vectors?[0]
      let source =
        old != nil
        ? "the rows of embed.\(m.name).weight in \(saved!.path)" : "the rows of \(table)"
      let largest = try comm.agree {
        try TokenIds.scan(
          file, m, rows: shard.rows, validSteps: { Int(shard.modalityLengths[$0 * M + mi]) }, vocabulary: known,
          vocabularySource: source)
      }
      let V = known ?? max(comm.allreduceMax(largest) + 1, 1)
      let frozen = choice?.freeze ?? (vectors != nil)
      result.shapes[m.name] = EmbedShape(vocabulary: V, size: E, frozen: frozen)
      result.pretrained[m.name] = try comm.agree { () -> [Float]? in
        guard comm.isRoot, saved == nil, vectors != nil else { return nil }
        let values = try file.readFloats(table)
        if let bad = values.firstIndex(where: { !$0.isFinite }) {
          throw MMError(
            "\(file.path): '\(table)' has \(values[bad]) in row \(bad / E) (pretrained vectors must be finite)")
        }
        return values
      }
    }
    return result
  }
}
