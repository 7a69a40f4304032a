import MMCore
import MMDistributed
import MMHDF5
import MMTensor

/// `data.mmap`: a shard whose rows stay where the file stores them (MappedRows). Loading is the checks and the
/// statistics pass over the file's pages, nothing else; each batch finishes the rows it gathers.
extension ShardLoader {
  /// The rows of every modality mapped in place, or nil when some rank's rows are not stored as float32 rows
  /// (then every rank copies: a shard is mapped on all ranks or on none, so the rows ranks send each other are
  /// in one state, raw or finished). Collective.
  static func mapRows(
    _ file: HDF5File, _ o: LoadOptions, _ rows: Range<Int>, _ lengths: [[Int]], _ comm: Communicator
  ) throws -> MappedRows? {
    let mapped = try comm.agree {
      try MappedRows(
        file: file, modalities: o.modalities, rows: rows, layout: o.layout, validLengths: lengths, rank: comm.rank)
    }
    return comm.allreduceMin(mapped == nil ? 0 : 1) == 1 ? mapped : nil
  }

  /// The checks and float64 sums of the copying loaders, in their order (truncate and pad: rows in order, each
  /// row's modalities; interpolate: modality after modality), over the file's pages. Truncated and padded rows
  /// stay raw and each batch finishes the steps it keeps (PendingFinish), as after `loadCopied`; interpolated
  /// rows are imputed, normalised and resampled as they are gathered (MappedRows.Finishing), with the
  /// statistics computed here or given.
  static func loadMapped(
    _ mapped: MappedRows, _ file: HDF5File, _ o: LoadOptions, _ rows: Range<Int>, _ lengths: [[Int]],
    _ labels: ([Float], Int, Int), _ comm: Communicator
  ) throws -> Shard {
    let path = file.path, D = o.features, M = o.modalities.count, n = rows.count, columns = o.columns
    let computed = o.statistics == nil && (o.normalize == .zscore || o.missing == .mean)
    let offsets = columns.map { 3 * $0.lowerBound }
    var acc = [Double](repeating: 0, count: 3 * D)
    if computed || o.missing == .error {
      try comm.agree {
        try acc.withUnsafeMutableBufferPointer { acc in
          func scan(_ i: Int, _ mi: Int) throws {
            let sample = rows.lowerBound + i
            try check(
              mapped.rows[mi][i], lengths[mi][i], o.modalities[mi], sample: sample, o, path,
              sums: computed && !o.validationMask[sample] ? acc.baseAddress! + offsets[mi] : nil)
          }
          if o.align == .interpolate {
            for mi in 0..<M { for i in 0..<n { try scan(i, mi) } }
          } else {
            for i in 0..<n { for mi in 0..<M { try scan(i, mi) } }
          }
        }
      }
    }
    let statistics = computed ? allReduced(acc, offsets: offsets, o, comm) : o.statistics ?? .identity(D)
    let (modalityLengths, modelLengths) = alignedLengths(lengths, o)
    if o.align == .interpolate {
      let (mean, std) = statistics.split(columns)
      mapped.finishing = MappedRows.Finishing(options: o, mean: mean, std: std)
    }
    return Shard(
      rows: rows, steps: o.maxSteps, features: D, columns: columns, modalitySteps: o.steps, x: Buffer(count: 0),
      lengths: modelLengths, modalityLengths: modalityLengths, targets: labels.0, targetWidth: labels.1,
      classes: labels.2, statistics: statistics, mapped: mapped,
      pending: o.align == .interpolate ? nil : PendingFinish(o, statistics: statistics))
  }
}
