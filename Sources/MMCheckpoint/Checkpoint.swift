import Foundation
import MMCore
import MMHDF5
import MMModel
import MMOptim

/// An mmtrain checkpoint: one HDF5 file, written atomically (temp file, fsync, rename, fsync of the
/// directory), so a crash never leaves a half-written checkpoint under a checkpoint's name.
///
///     /params/<key>            one dataset per parameter, named and shaped like the PyTorch state_dict
///     /optimizer/<buffer>      optimiser state, flat over the arena (momentum_buffer | exp_avg, exp_avg_sq)
///     /normalization/mean,std  per-feature z-score statistics in model input order
///     attributes on /          format, format_version, epoch, step, step_in_epoch, seed, rng_state, elapsed_s,
///                              optimizer, optimizer_step, config (resolved YAML), created; with early
///                              stopping on: early_stopping_best, early_stopping_best_epoch, early_stopping_wait
///                              a cv fold's checkpoints also hold cv_manifest (the fold manifest, JSON)
///     + Provenance             mmtrain_version, the input record, the data fingerprint, the validation split
///
/// Every dataset carries HDF5's Fletcher-32 checksum: reading verifies it, so a corrupt file is named and
/// refused (`--resume RUN_DIR` then falls back to the newest valid checkpoint, see ResumeSource).
public enum Checkpoint {
  public static let format = "mmtrain-checkpoint"
  public static let formatVersion: Int64 = 2  // 2: provenance, elapsed_s

  /// Where training stands; enough to continue exactly.
  public struct State: Equatable {
    public var epoch: Int  // epochs completed
    public var step: Int  // optimiser steps taken in total
    public var stepInEpoch: Int  // sampler position inside the next epoch (0 at an epoch boundary)
    public var seed: UInt64  // sampler/initialisation seed
    public var rngState: [UInt64]  // the sampler's RNG state for the epoch in progress
    public var elapsed: Double  // seconds of training so far, over every resume
    public var earlyStopping: EarlyStoppingState?  // nil when early stopping is off
    /// `dist.world_invariant`: the exponents of the next step's fixed-point scales, one per tensor
    /// (ExactGradientSum), so a resumed run sums with the scales the uninterrupted one would; nil when trained
    /// without it (the file's `world_invariant` attribute says which).
    public var worldInvariantExponents: [Int64]? = nil
    public init(
      epoch: Int, step: Int, stepInEpoch: Int, seed: UInt64, rngState: [UInt64], elapsed: Double = 0,
      earlyStopping: EarlyStoppingState? = nil
    ) {
      self.epoch = epoch; self.step = step; self.stepInEpoch = stepInEpoch; self.seed = seed; self.rngState = rngState
      self.elapsed = elapsed; self.earlyStopping = earlyStopping
    }
  }

  /// Early stopping's memory: the best metric so far, its epoch (1-based; 0 = none yet), and the epochs since.
  public struct EarlyStoppingState: Equatable {
    public var best: Double
    public var bestEpoch: Int
    public var wait: Int
    public init(best: Double, bestEpoch: Int, wait: Int) {
      self.best = best; self.bestEpoch = bestEpoch; self.wait = wait
    }
  }

  /// Everything read back from a checkpoint file.
  public struct Contents {
    public var path: String
    public var params: [(name: String, shape: [Int], values: [Float])]
    public var optimizer: String
    public var optimizerStep: Int
    public var optimizerState: [String: [Float]]
    public var normalization: (mean: [Float], std: [Float])?
    public var state: State
    public var configYAML: String
    public var provenance: Provenance?  // nil in checkpoints of format version 1
  }

  public static func write(
    to path: String, arena: ParameterArena, optimizer: Optimizer, normalization: (mean: [Float], std: [Float])?,
    state: State, configYAML: String, provenance: Provenance? = nil, attributes: [String: String] = [:]
  ) throws {
    let url = URL(fileURLWithPath: path)
    let tmp = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())").path
    do {
      // Built in memory, then written with plain write(2): a full disk fails a write we check, and HDF5
      // never holds a half-written file (whose close would fail, and whose cleanup at exit can crash).
      let file = try HDF5File(path: tmp, mode: .inMemory)
      defer { file.close() }
      // From the arena's and the optimiser's own memory: the image is the one copy (W2: a 48 MB checkpoint).
      for t in arena.tensors {
        try file.writeFloats(
          "/params/\(t.name)", UnsafeBufferPointer(start: arena.values.pointer + t.offset, count: t.count),
          shape: t.shape, checksummed: true)
      }
      try file.createGroup("/optimizer")
      for (name, buffer) in optimizer.state {
        try file.writeFloats(
          "/optimizer/\(name)", UnsafeBufferPointer(start: buffer.pointer, count: buffer.count),
          shape: [buffer.count], checksummed: true)
      }
      if let n = normalization {
        try file.writeFloats("/normalization/mean", n.mean, shape: [n.mean.count], checksummed: true)
        try file.writeFloats("/normalization/std", n.std, shape: [n.std.count], checksummed: true)
      }
      try file.setAttribute("format", on: "/", string: format)
      try file.setAttribute("format_version", on: "/", int: formatVersion)
      try file.setAttribute("epoch", on: "/", int: Int64(state.epoch))
      try file.setAttribute("step", on: "/", int: Int64(state.step))
      try file.setAttribute("step_in_epoch", on: "/", int: Int64(state.stepInEpoch))
      try file.setAttribute("seed", on: "/", uint64s: [state.seed])
      try file.setAttribute("rng_state", on: "/", uint64s: state.rngState)
      try file.setAttribute("elapsed_s", on: "/", double: state.elapsed)
      try file.setAttribute("optimizer", on: "/", string: optimizer.name)
      try file.setAttribute("optimizer_step", on: "/", int: Int64(optimizer.stepCount))
      try file.setAttribute("config", on: "/", string: configYAML)
      try file.setAttribute("world_invariant", on: "/", int: state.worldInvariantExponents == nil ? 0 : 1)
      if let x = state.worldInvariantExponents {
        try file.setAttribute("world_invariant_exponents", on: "/", uint64s: x.map { UInt64(bitPattern: $0) })
      }
      if let e = state.earlyStopping {
        try file.setAttribute("early_stopping_best", on: "/", double: e.best)
        try file.setAttribute("early_stopping_best_epoch", on: "/", int: Int64(e.bestEpoch))
        try file.setAttribute("early_stopping_wait", on: "/", int: Int64(e.wait))
      }
      try file.setAttribute("created", on: "/", string: ISO8601DateFormatter().string(from: Date()))
      try provenance?.write(to: file)
      for (name, value) in attributes.sorted(by: { $0.key < $1.key }) {
        try file.setAttribute(name, on: "/", string: value)
      }
      try file.closeKeepingImage { try writeDurably($0, to: tmp) }
      guard rename(tmp, path) == 0 else {
        throw MMError("\(path): cannot rename the checkpoint into place: \(String(cString: strerror(errno)))")
      }
      try fsync(path: url.deletingLastPathComponent().path)
    } catch {
      unlink(tmp)
      throw MMError("\(path): cannot be written: \(reason(of: error))")
    }
  }

  /// The OS's reason inside an HDF5 error ("error message = 'No space left on device'"), else its first line.
  static func reason(of error: Error) -> String {
    let ns = error as NSError
    if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
    if let under = ns.userInfo[NSUnderlyingErrorKey] as? NSError, under.domain == NSPOSIXErrorDomain {
      return String(cString: strerror(Int32(under.code)))
    }
    let text = "\(error)"
    if let start = text.range(of: "error message = '"), let end = text[start.upperBound...].firstIndex(of: "'") {
      return String(text[start.upperBound..<end])
    }
    return String(text.split(separator: "\n").first ?? "")
  }

  public static func read(path: String) throws -> Contents {
    let file: HDF5File
    do { file = try HDF5File(path: path, mode: .readOnly) } catch {
      throw MMError("\(path): cannot open the checkpoint (\(error)); the file is damaged or not a checkpoint")
    }
    defer { file.close() }
    guard file.hasAttribute("format", on: "/"), try file.stringAttribute("format", on: "/") == format else {
      throw MMError("\(path): not an mmtrain checkpoint (no 'format' attribute; are you passing a data file?)")
    }
    let version = try file.intAttribute("format_version", on: "/")
    guard version <= formatVersion else {
      throw MMError(
        "\(path): checkpoint format version \(version) is newer than this mmtrain reads (\(formatVersion)); update mmtrain"
      )
    }
    var params: [(name: String, shape: [Int], values: [Float])] = []
    for name in try file.members(ofGroup: "/params") {
      let info = try file.datasetInfo("/params/\(name)")
      params.append((name, info.shape, try verified(file, "/params/\(name)")))
    }
    var optState: [String: [Float]] = [:]
    for name in try file.members(ofGroup: "/optimizer") { optState[name] = try verified(file, "/optimizer/\(name)") }
    var normalization: (mean: [Float], std: [Float])? = nil
    if file.isGroup("/normalization") {
      normalization = (try verified(file, "/normalization/mean"), try verified(file, "/normalization/std"))
    }
    var state = State(
      epoch: Int(try file.intAttribute("epoch", on: "/")), step: Int(try file.intAttribute("step", on: "/")),
      stepInEpoch: Int(try file.intAttribute("step_in_epoch", on: "/")),
      seed: try file.uint64sAttribute("seed", on: "/").first ?? 0,
      rngState: try file.uint64sAttribute("rng_state", on: "/"),
      elapsed: file.hasAttribute("elapsed_s", on: "/") ? try file.doubleAttribute("elapsed_s", on: "/") : 0)
    if file.hasAttribute("world_invariant_exponents", on: "/") {
      state.worldInvariantExponents = try file.uint64sAttribute("world_invariant_exponents", on: "/").map {
        Int64(bitPattern: $0)
      }
    }
    if file.hasAttribute("early_stopping_best", on: "/") {
      state.earlyStopping = EarlyStoppingState(
        best: try file.doubleAttribute("early_stopping_best", on: "/"),
        bestEpoch: Int(try file.intAttribute("early_stopping_best_epoch", on: "/")),
        wait: Int(try file.intAttribute("early_stopping_wait", on: "/")))
    }
    return Contents(
      path: path, params: params, optimizer: try file.stringAttribute("optimizer", on: "/"),
      optimizerStep: Int(try file.intAttribute("optimizer_step", on: "/")), optimizerState: optState,
      normalization: normalization, state: state, configYAML: try file.stringAttribute("config", on: "/"),
      provenance: try Provenance.read(from: file, path: path))
  }

  /// Reads a dataset; HDF5 checks its Fletcher-32 checksum on the way, so a failure here means damage.
  static func verified(_ file: HDF5File, _ dataset: String) throws -> [Float] {
    do { return try file.readFloats(dataset) } catch {
      throw MMError(
        "\(file.path): \(dataset) is corrupt (checksum mismatch or truncated data: \(error)); use an earlier checkpoint"
      )
    }
  }

  /// Copies /params into the arena, checking that every tensor is present with the right shape.
  public static func loadParams(_ c: Contents, into arena: ParameterArena) throws {
    let byName = Dictionary(c.params.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
    for t in arena.tensors {
      guard let p = byName[t.name] else {
        throw MMError(
          "\(c.path): /params/\(t.name) is missing (the checkpoint is of a different model; check model.* and data.modalities)"
        )
      }
      guard p.shape == t.shape else {
        throw MMError(
          "\(c.path): /params/\(t.name) has shape \(p.shape), the model needs \(t.shape) (check model.hidden, model.layers, data.modalities, task.classes)"
        )
      }
      arena.setValues(p.values, of: t)
    }
    if let extra = c.params.first(where: { name, _, _ in !arena.tensors.contains { $0.name == name } }) {
      throw MMError("\(c.path): /params/\(extra.name) has no place in this model (check model.layers)")
    }
  }

  /// Restores the optimiser's buffers and step count (same optimiser kind required).
  public static func loadOptimizer(_ c: Contents, into optimizer: Optimizer) throws {
    guard c.optimizer == optimizer.name else {
      throw MMError(
        "\(c.path): saved with optimizer '\(c.optimizer)', the run uses '\(optimizer.name)' (resume with the same train.optimizer, or use --init to load only the weights)"
      )
    }
    for (name, buffer) in optimizer.state {
      guard let v = c.optimizerState[name], v.count == buffer.count else {
        throw MMError("\(c.path): /optimizer/\(name) is missing or has the wrong size")
      }
      v.withUnsafeBufferPointer { buffer.pointer.update(from: $0.baseAddress!, count: v.count) }
    }
    optimizer.stepCount = c.optimizerStep
  }

  /// Creates `path` with exactly `bytes`, fsynced; the POSIX reason on failure ("No space left on device").
  static func writeDurably(_ bytes: UnsafeRawBufferPointer, to path: String) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard fd >= 0 else { throw MMError(String(cString: strerror(errno))) }
    defer { close(fd) }
    var done = 0
    while done < bytes.count {
      let n = Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done)
      if n < 0 && errno == EINTR { continue }
      guard n > 0 else { throw MMError(String(cString: strerror(errno))) }
      done += n
    }
    guard Foundation.fsync(fd) == 0 else { throw MMError(String(cString: strerror(errno))) }
  }

  static func fsync(path: String) throws {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { throw MMError("\(path): cannot open for fsync: \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    guard Foundation.fsync(fd) == 0 else { throw MMError("\(path): fsync failed: \(String(cString: strerror(errno)))") }
  }
}
