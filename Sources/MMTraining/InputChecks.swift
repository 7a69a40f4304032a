import Foundation
import MMCheckpoint
import MMConfig
import MMCore
import MMData
import MMHDF5

/// What a trained model expects of the data it is later evaluated on, beyond the input layout that
/// ResumeChecks compares: labels of its task, sequences cut by their lengths as in training, its class names.
/// `evaluate` and `predict` run these before MPI starts; a mismatch that would silently change the
/// result is a warning (or, with `--strict`, an error), one that makes it meaningless an error.
public enum InputChecks {
  /// The names a classifier's outputs carry: the file's class_names when they fit, else the class ids.
  public static func classNames(_ names: [String]?, classes: Int, _ kind: TaskKind) -> [String] {
    let C = kind == .binary ? 2 : classes
    if let names, names.count == C { return names }
    return (0..<C).map(String.init)
  }

  /// Warnings for `data` scored by `checkpoint`; throws for a task mismatch, for missing labels when
  /// `needsLabels`, and (when `strict`) for what would otherwise be a warning.
  public static func check(
    checkpoint: Checkpoint.Contents, config c: TrainConfig, data path: String, needsLabels: Bool, strict: Bool
  ) throws -> [String] {
    let file = try HDF5File(path: path, mode: .readOnly)
    defer { file.close() }
    let schema = try DataSchema.read(file, requireLabels: false)
    var warnings: [String] = []
    if needsLabels && !schema.hasLabels {
      throw MMError(
        "\(path) has no /labels, so there is nothing to score against; for the model's outputs without labels use "
          + "mmtrain predict --checkpoint \(checkpoint.path) --data \(path) --out predictions.csv")
    }
    if schema.hasLabels {
      let perStep = c.task.target == .step, rank = perStep ? 2 : 1
      let integers = schema.labelsAreIntegers && schema.labelShape.count == rank
      if c.task.kind != .regression && !integers {
        let ids = perStep ? "per-step class ids [N, T]" : "class ids [N]"
        throw MMError(
          "\(checkpoint.path) is a \(c.task.kind.rawValue) classifier\(perStep ? " of every step" : ""), but /labels in "
            + "\(path) is \(schema.labelDType) \(schema.labelShape) (regression targets?); score it on a file with "
            + "integer \(ids), or use a checkpoint trained with task.kind: regression")
      }
      if c.task.kind == .regression && integers {
        warnings.append(
          "\(checkpoint.path) is a regression model, but /labels in \(path) holds integer class ids; they are scored as "
            + "regression targets (is this the classification file, or the checkpoint of a classifier?)")
      }
    }
    if let saved = checkpoint.provenance?.classNames, let names = schema.classNames, names != saved,
      c.task.kind != .regression
    {
      warnings.append(
        "\(path) names its classes [\(names.joined(separator: ", "))], the checkpoint's are [\(saved.joined(separator: ", "))]; "
          + "the outputs are the checkpoint's classes, named as it names them")
    }
    for (name, trained) in (checkpoint.provenance?.validLengths ?? [:]).sorted(by: { $0.key < $1.key }) {
      guard trained.mean < Double(trained.steps), schema.modalities.contains(where: { $0.name == name }),
        schema.lengthsDataset(for: name) == nil
      else { continue }
      warnings.append(
        "\(path) has no lengths for modality '\(name)' (/lengths or /lengths/\(name)), but the model was trained on "
          + String(
            format: "'%@' sequences with a mean valid length of %.1f of %d steps: ", name, trained.mean, trained.steps)
          + "every step is read as data, padding included, and the results will be off (add the lengths to the file)")
    }
    if strict, let first = warnings.first { throw MMError("\(first) (--strict)") }
    return warnings
  }
}
